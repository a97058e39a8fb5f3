"""Settings, layered: defaults < TOML config file < environment < explicit overrides (CLI flags).

The config file is `$ATLAS_CONFIG` or `<user config dir>/atlas-tui/config.toml`. Every key of
`Settings` may appear at its top level; `[keys]` maps action names to key strings for the TUI.
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from atlas_tui.endpoints import RESERVED_NAMES, Endpoint, describe_url, parse_endpoints
from atlas_tui.errors import ConfigError
from atlas_tui.usage import DEFAULT_MODELS, DEFAULT_PRICES

APP_NAME = "atlas-tui"
DEFAULT_COLLECTION = "atlas_knowledge_base"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5"
SEARCH_MODES = ("hybrid", "vector", "keyword")
INGEST_ENGINES = ("local", "ray")
OFFLINE_LABEL = "offline extractive"  # the offline answerer, as the status line and sessions say


def user_data_dir() -> Path:
    from platformdirs import user_data_path

    return Path(os.environ.get("ATLAS_DATA_DIR") or user_data_path(APP_NAME, appauthor=False))


def user_cache_dir() -> Path:
    """Derived files that can be rebuilt at any time (e.g. the exported ONNX encoder)."""
    from platformdirs import user_cache_path

    return Path(os.environ.get("ATLAS_CACHE_DIR") or user_cache_path(APP_NAME, appauthor=False))


def user_config_file() -> Path:
    if env := os.environ.get("ATLAS_CONFIG"):
        return Path(env)
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False) / "config.toml"


def demo_corpus_path() -> Path:
    """The bundled demo knowledge base (inside the wheel, or beside the package in a checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_assets" / "demo", here.parent / "assets" / "demo"):
        if candidate.is_dir():
            return candidate
    raise ConfigError("The bundled demo corpus is missing from this installation.")


@dataclass(frozen=True)
class Settings:
    db_path: str = ""  # folder or object-store URI; "" means <user data dir>/index
    collection: str = DEFAULT_COLLECTION
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # name or local path
    model: str = DEFAULT_CLAUDE_MODEL  # Claude model for answers
    # auto (Claude with a key, else the first endpoint, else extractive) | anthropic | extractive
    # | the name of an endpoint
    provider: str = "auto"
    api_key: str = ""
    auth_token: str = ""  # sent as Authorization: Bearer (Ollama's docs set ANTHROPIC_AUTH_TOKEN)
    base_url: str = ""
    skip_api_key_check: bool = False
    system_prompt_file: str = ""
    search_mode: str = "hybrid"
    max_results: int = 6
    min_relevance_score: float = 0.0
    context_token_budget: int = 6000
    max_answer_tokens: int = 1024
    request_timeout: float = 60.0  # seconds without a byte before a request is given up
    answer_timeout: float = 600.0  # seconds an answer may take in all; it is cut off there
    max_retries: int = 2
    max_file_bytes: int = 20_000_000
    history_turns: int = 4  # earlier turns of a session sent with a follow-up
    sessions_path: str = ""  # "" means <user data dir>/sessions.sqlite3
    reopen_last_session: bool = True
    theme: str = "textual-dark"
    keys: dict[str, str] = field(default_factory=dict)
    models: tuple[str, ...] = DEFAULT_MODELS  # offered by the TUI's model picker
    # USD per million tokens, (input, output), per model; the config's [prices] adds to these
    prices: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    endpoints: tuple[Endpoint, ...] = ()  # Anthropic-compatible servers: [endpoints.NAME] tables
    # object-store options for an s3:// (gs://, az://) db_path: the config's [storage] table, e.g.
    # aws_endpoint, aws_region, aws_allow_http; the environment's AWS_* variables win over it
    storage: dict[str, str] = field(default_factory=dict, repr=False)  # may hold credentials
    ingest_engine: str = "local"  # local | ray (`atlas-tui ingest --engine`; needs the ray extra)
    ray_address: str = ""  # a Ray cluster ("HOST:PORT", "ray://HOST:10001"); "" starts one here
    # seconds an ingest into an object-store index waits for another writer's lease to free
    lease_timeout: float = 300.0
    serve_max_sessions: int = 4  # `atlas-tui serve`: app sessions (browser tabs) at once

    @property
    def resolved_db_path(self) -> str:
        return self.db_path or str(user_data_dir() / "index")

    @property
    def resolved_sessions_path(self) -> Path:
        return (
            Path(self.sessions_path) if self.sessions_path else user_data_dir() / "sessions.sqlite3"
        )

    @property
    def use_claude(self) -> bool:
        if self.provider == "extractive":
            return False
        if self.provider == "anthropic":
            return True
        # SKIP_API_KEY_CHECK means "run without an API key": the offline answerer, unless a base
        # URL names a gateway that adds its own credentials, where Claude works without a key.
        credential = bool(self.api_key or self.auth_token)
        return credential or (self.skip_api_key_check and bool(self.base_url))

    def endpoint_named(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)

    @property
    def default_endpoint(self) -> Endpoint | None:
        """The endpoint that answers when no model is chosen: the one `provider` names, or with
        `auto` and no Claude key, the first configured (it comes before the offline answerer)."""
        if self.provider in RESERVED_NAMES:
            usable = self.provider == "auto" and not self.use_claude and self.endpoints
            return self.endpoints[0] if usable else None
        return self.endpoint_named(self.provider)

    def route(self, model: str | None = None) -> tuple[Endpoint | None, str]:
        """Who answers a question asked of `model` (None: the default) and with which model:
        (an endpoint, or None for Claude / the offline answerer; the model name).

        A model listed by an endpoint goes to that endpoint (the first that lists it); any other
        model goes to Claude, unless the default is an endpoint, which then answers with its own.
        """
        if model and self.provider != "extractive":  # forced offline: no endpoint either
            for endpoint in self.endpoints:
                if model in endpoint.models:
                    return endpoint, model
        endpoint = self.default_endpoint
        if endpoint is None:
            return None, model or self.model
        if self.model in endpoint.models or (
            self.provider == endpoint.name and self.model != DEFAULT_CLAUDE_MODEL
        ):
            return endpoint, self.model  # named explicitly (e.g. provider_name + model_name)
        return endpoint, endpoint.models[0]

    def label_for(self, model: str | None = None) -> str:
        """Who answers `model` (None: the default), as the status line says it: "Claude
        claude-sonnet-5-5", "local qwen3 via Ollama" or "offline extractive"."""
        endpoint, model = self.route(model)
        if endpoint is not None:
            return endpoint.describe(model)
        return describe_url(self.base_url, model) if self.use_claude else OFFLINE_LABEL

    @property
    def answers_offline(self) -> bool:
        """Whether questions are answered by the offline extractive answerer by default."""
        return not self.use_claude and self.default_endpoint is None

    def model_choices(self) -> list[tuple[str, str]]:
        """Every model the picker offers, as (model, who serves it): Claude's, then each
        endpoint's."""
        choices = [(m, f"Claude {m}") for m in dict.fromkeys((*self.models, self.model))]
        seen = {m for m, _ in choices}
        for endpoint in self.endpoints:
            for model in endpoint.models:
                if model not in seen:
                    seen.add(model)
                    choices.append((model, endpoint.describe(model)))
        return choices


_ENV: dict[str, str] = {
    "ATLAS_DB_PATH": "db_path",
    "ATLAS_COLLECTION_NAME": "collection",
    "ATLAS_EMBEDDING_MODEL": "embedding_model",
    "ATLAS_DEFAULT_MODEL": "model",
    "ATLAS_PROVIDER": "provider",
    "ANTHROPIC_API_KEY": "api_key",
    "ANTHROPIC_AUTH_TOKEN": "auth_token",
    "ANTHROPIC_BASE_URL": "base_url",
    "SKIP_API_KEY_CHECK": "skip_api_key_check",
    "ATLAS_SYSTEM_PROMPT_FILE": "system_prompt_file",
    "ATLAS_SEARCH_MODE": "search_mode",
    "ATLAS_SESSIONS_PATH": "sessions_path",
    "ATLAS_INGEST_ENGINE": "ingest_engine",
    "ATLAS_RAY_ADDRESS": "ray_address",
}


# The allowed range of every numeric setting: (lowest, highest, is the lowest excluded?).
LIMITS: dict[str, tuple[float, float, bool]] = {
    "max_results": (1, 1000, False),
    "min_relevance_score": (0.0, 1.0, False),  # every retrieval score is in [0, 1]
    "context_token_budget": (100, 1_000_000, False),
    "max_answer_tokens": (1, 1_000_000, False),
    "request_timeout": (0.0, 3600.0, True),  # seconds, more than 0
    "answer_timeout": (0.0, 86400.0, True),
    "lease_timeout": (0.0, 86400.0, True),
    "serve_max_sessions": (1, 64, False),
    "max_retries": (0, 10, False),
    "max_file_bytes": (1, 10**12, False),
    "history_turns": (0, 100, False),
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}
_MAX_CONFIG_BYTES = 1_000_000


def allowed_range(name: str) -> str:
    """The allowed values of a numeric setting, in words: "a whole number from 1 to 1000"."""
    low, high, open_low = LIMITS[name]
    kind = _setting_kinds()[name]
    if kind == "int":
        return f"a whole number from {int(low)} to {int(high)}"
    if open_low:
        return f"a number more than {low:g} and at most {high:g}"
    return f"a number from {low:g} to {high:g}"


def _setting_kinds() -> dict[str, str]:
    return {f.name: str(f.type) for f in fields(Settings)}


def _unknown(name: str) -> ConfigError:
    import difflib

    known = sorted(_setting_kinds())
    close = difflib.get_close_matches(name, known)  # best first
    maybe = f"; did you mean {close[0]!r}?" if close else f"; known settings: {', '.join(known)}."
    return ConfigError(f"Unknown setting {name!r}{maybe}")


def _number(kind: str, value: Any) -> int | float:
    """`value` as the setting's number, or ValueError (bools, NaN, infinities and non-integral
    values of a whole-number setting are refused, never rounded)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError
    number = float(value)
    if not math.isfinite(number):
        raise ValueError
    if kind == "int":
        if not number.is_integer():
            raise ValueError
        return int(number)
    return number


def coerce_setting(name: str, value: Any) -> Any:
    """`value` (from TOML, the environment or a flag) as setting `name`'s type, within its range."""
    kind = _setting_kinds().get(name)
    if kind is None:
        raise _unknown(name)
    if name in _SPECIAL:
        read, wanted = _SPECIAL[name]
        try:
            return read(value)
        except (TypeError, ValueError):
            raise ConfigError(f"Setting {name!r} must be {wanted}, not {value!r}.") from None
    if kind in ("int", "float"):
        try:
            number = _number(kind, value)
        except (TypeError, ValueError):
            number = math.nan
        low, high, open_low = LIMITS[name]  # every numeric setting has one (a test checks)
        if not ((low < number if open_low else low <= number) and number <= high):
            raise ConfigError(f"Setting {name!r} must be {allowed_range(name)}, not {value!r}.")
        return number
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        wanted = "true or false"
    elif kind == "str":
        if isinstance(value, str):
            return value
        wanted = "a string"
    elif kind == "dict[str, str]":
        if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return dict(value)
        wanted = "a table of strings"
    else:
        return value
    raise ConfigError(f"Setting {name!r} must be {wanted}, not {value!r}.")


def _models(value: Any) -> tuple[str, ...]:
    """A list of model ids (a comma-separated string from the environment works too)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(m, str) for m in items):
        raise TypeError
    models = tuple(dict.fromkeys(m.strip() for m in items if m.strip()))
    if not models:
        raise ValueError
    return models


def _storage(value: Any) -> dict[str, str]:
    """`[storage]`: object-store option names to strings (true/false and numbers allowed).
    A bad value is named by its key, never shown: the table may hold credentials."""
    if not isinstance(value, dict):
        raise ConfigError("Setting 'storage' must be a table ([storage] in the config file).")
    options = {}
    for name, item in value.items():
        if isinstance(item, bool):
            item = "true" if item else "false"
        elif isinstance(item, int | float):
            item = str(item)
        elif not isinstance(item, str):
            raise ConfigError(f"[storage] {name} must be a string, true/false or a number.")
        options[str(name).lower()] = item
    return options


def _prices(value: Any) -> dict[str, tuple[float, float]]:
    """`{model = [input, output]}` in USD per million tokens, added to the default table."""
    if not isinstance(value, dict):
        raise TypeError
    prices = dict(DEFAULT_PRICES)
    for model, pair in value.items():
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(p, int | float) and not isinstance(p, bool) for p in pair)
            or min(pair) < 0
        ):
            raise ValueError
        prices[str(model)] = (float(pair[0]), float(pair[1]))
    return prices


# Settings with a reader of their own: (reader, what is allowed, in words).
_SPECIAL: dict[str, tuple[Callable[[Any], Any], str]] = {
    "models": (_models, "a non-empty list of model names"),
    "prices": (_prices, "a table of model = [input, output] USD per million tokens, 0 or more"),
    "endpoints": (parse_endpoints, "a table of [endpoints.NAME] tables"),
    "storage": (_storage, "a table of object-store options (strings, true/false or numbers)"),
}


def _validate(settings: Settings) -> Settings:
    if settings.search_mode not in SEARCH_MODES:
        raise ConfigError(
            f"Unknown search mode {settings.search_mode!r}; use one of {', '.join(SEARCH_MODES)}."
        )
    if settings.ingest_engine not in INGEST_ENGINES:
        raise ConfigError(
            f"Unknown ingest engine {settings.ingest_engine!r}; use one of "
            f"{', '.join(INGEST_ENGINES)}."
        )
    if settings.provider not in RESERVED_NAMES and not settings.endpoint_named(settings.provider):
        names = ", ".join(e.name for e in settings.endpoints) or "none configured"
        raise ConfigError(
            f"Unknown provider {settings.provider!r}; use auto, anthropic or extractive, or the "
            f"name of an endpoint in the config file's [endpoints] ({names})."
        )
    return settings


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    """The config file's settings. The default file may be missing; a file named by `path` or
    `$ATLAS_CONFIG` must exist and be a readable TOML file."""
    explicit = path is not None or bool(os.environ.get("ATLAS_CONFIG"))
    path = path or user_config_file()
    try:
        if not path.exists():
            if explicit:
                raise ConfigError(f"The config file {path} does not exist.")
            return {}
        if path.is_dir():
            raise ConfigError(f"The config file {path} is a folder, not a TOML file.")
        if not path.is_file() and str(path) != os.devnull:
            raise ConfigError(f"The config file {path} is not a regular file.")
        with path.open("rb") as handle:
            raw = handle.read(_MAX_CONFIG_BYTES + 1)
        if len(raw) > _MAX_CONFIG_BYTES:
            raise ConfigError(f"The config file {path} is larger than {_MAX_CONFIG_BYTES} bytes.")
        data = tomllib.loads(raw.decode("utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}") from exc
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults < config file < environment < `overrides` (None values are ignored)."""
    values: dict[str, Any] = {}
    for name, value in read_config_file(config_file).items():
        values[name] = coerce_setting(name, value)
    for env_name, name in _ENV.items():
        if (value := os.environ.get(env_name)) is not None and value != "":
            values[name] = coerce_setting(name, value)
    for name, value in overrides.items():
        if value is not None:
            values[name] = coerce_setting(name, value)
    return _validate(replace(Settings(), **values))
