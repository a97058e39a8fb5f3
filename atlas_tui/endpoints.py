"""Named model endpoints: Anthropic-compatible servers (Ollama, llama.cpp's server, a gateway) that
the SDK reaches through their base URL. A leaf module: it imports nothing of atlas_tui but errors.

In the config file:

    [endpoints.ollama]
    base_url = "http://localhost:11434"
    models = ["qwen3", "llama3.2"]
    profile = "auto"            # auto | anthropic | compatible
    api_key_env = "OLLAMA_API_KEY"  # the key is read from this environment variable, if any
    label = "Ollama"            # how the status line names it ("local qwen3 via Ollama")

The `anthropic` profile sends passages as `search_result` blocks and reads Claude's own citations;
`compatible` sends them as numbered plain-text documents and verifies the model's [n] markers
itself. `auto` picks `compatible` for any server that is not Anthropic's API.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from atlas_tui.errors import ConfigError

PROFILES = ("auto", "anthropic", "compatible")
RESERVED_NAMES = ("auto", "anthropic", "extractive")  # the provider values that are not endpoints
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
_FIELDS = {"base_url", "models", "profile", "api_key_env", "label"}


@dataclass(frozen=True, slots=True)
class Endpoint:
    name: str
    base_url: str
    models: tuple[str, ...]
    profile: str = "auto"
    api_key_env: str = ""
    label: str = ""

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def host(self) -> str:
        return (urlsplit(self.base_url).hostname or "").lower()

    @property
    def is_local(self) -> bool:
        """On this machine or a private network (what "local" in the status line means)."""
        host = self.host
        if host == "localhost" or host.endswith((".localhost", ".local")):
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address.is_loopback or address.is_private or address.is_link_local

    @property
    def resolved_profile(self) -> str:
        """`anthropic` or `compatible`: the configured one, else by the server's address."""
        if self.profile != "auto":
            return self.profile
        return "anthropic" if is_anthropic_url(self.base_url) else "compatible"

    def api_key(self) -> str:
        return os.environ.get(self.api_key_env, "") if self.api_key_env else ""

    def describe(self, model: str) -> str:
        """What the status line says: "local qwen3 via Ollama"."""
        where = "local " if self.is_local else ""
        return f"{where}{model} via {self.display_name}"


def is_anthropic_url(base_url: str) -> bool:
    """Whether `base_url` is Anthropic's own API ("" means the SDK's default: it is)."""
    if not base_url:
        return True
    host = (urlsplit(base_url).hostname or "").lower()
    return host == "anthropic.com" or host.endswith(".anthropic.com")


def describe_url(base_url: str, model: str) -> str:
    """Who answers `model` at ANTHROPIC_BASE_URL: "Claude ..." for Anthropic's API or a Claude
    model behind a gateway; otherwise the server, by its address ("local qwen3 via
    localhost:11434")."""
    if is_anthropic_url(base_url) or model.lower().startswith("claude"):
        return f"Claude {model}"
    where = urlsplit(without_credentials(base_url)).netloc or base_url
    return Endpoint("", base_url, (model,), label=where).describe(model)


def without_credentials(url: str) -> str:
    """`url` without the user and password it may carry (`http://admin:pw@host` -> `http://host`):
    what is shown of a base URL, never a secret in it."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]).geturl()


def _problem(name: str, what: str) -> ConfigError:
    return ConfigError(f"Endpoint {name!r} in the config file: {what}.")


def _endpoint(name: Any, table: Any) -> Endpoint:
    if not isinstance(name, str) or not _NAME.match(name) or name.lower() in RESERVED_NAMES:
        raise ConfigError(
            f"Endpoint name {name!r} is not allowed: use letters, digits, '-', '_' or '.', "
            f"and none of {', '.join(RESERVED_NAMES)}."
        )
    if not isinstance(table, dict):
        raise _problem(name, "must be a table ([endpoints.NAME]) with base_url and models")
    if unknown := sorted(set(table) - _FIELDS):
        raise _problem(name, f"unknown key {unknown[0]!r}; known: {', '.join(sorted(_FIELDS))}")
    base_url = table.get("base_url")
    parts = urlsplit(base_url) if isinstance(base_url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _problem(name, f"base_url must be an http:// or https:// URL, not {base_url!r}")
    models = table.get("models")
    if (
        not isinstance(models, list)
        or not all(isinstance(m, str) for m in models)
        or not [m for m in models if m.strip()]
    ):
        raise _problem(name, f"models must be a non-empty list of model names, not {models!r}")
    profile = table.get("profile", "auto")
    if profile not in PROFILES:
        raise _problem(name, f"profile must be one of {', '.join(PROFILES)}, not {profile!r}")
    texts = {key: table.get(key, "") for key in ("api_key_env", "label")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise _problem(name, f"{key} must be a string, not {value!r}")
    return Endpoint(
        name=name,
        base_url=base_url.rstrip("/"),
        models=tuple(dict.fromkeys(m.strip() for m in models if m.strip())),
        profile=profile,
        api_key_env=texts["api_key_env"].strip(),
        label=texts["label"].strip(),
    )


def parse_endpoints(value: Any) -> tuple[Endpoint, ...]:
    """The config file's `[endpoints]` table (name -> table), in the order written."""
    if isinstance(value, tuple) and all(isinstance(e, Endpoint) for e in value):
        return value  # already parsed (an override given as Endpoint objects)
    if not isinstance(value, dict):
        raise ConfigError(
            f"Setting 'endpoints' must be a table of [endpoints.NAME] tables, not {value!r}."
        )
    return tuple(_endpoint(name, table) for name, table in value.items())
