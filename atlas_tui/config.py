"""Settings, layered: defaults < TOML config file < environment < explicit overrides (CLI flags).

The config file is `$ATLAS_CONFIG` or `<user config dir>/atlas-tui/config.toml`. Every key of
`Settings` may appear at its top level; `[keys]` maps action names to key strings for the TUI.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from atlas_tui.errors import ConfigError
from atlas_tui.usage import DEFAULT_MODELS, DEFAULT_PRICES

APP_NAME = "atlas-tui"
DEFAULT_COLLECTION = "atlas_knowledge_base"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_CLAUDE_MODEL = "claude-sonnet-5-5"
SEARCH_MODES = ("hybrid", "vector", "keyword")


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


def _truthy(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    db_path: str = ""  # folder or object-store URI; "" means <user data dir>/index
    collection: str = DEFAULT_COLLECTION
    embedding_model: str = DEFAULT_EMBEDDING_MODEL  # name or local path
    model: str = DEFAULT_CLAUDE_MODEL  # Claude model for answers
    provider: str = "auto"  # auto (Claude with a key, else extractive) | anthropic | extractive
    api_key: str = ""
    base_url: str = ""
    skip_api_key_check: bool = False
    system_prompt_file: str = ""
    search_mode: str = "hybrid"
    max_results: int = 6
    min_relevance_score: float = 0.0
    context_token_budget: int = 6000
    max_answer_tokens: int = 1024
    request_timeout: float = 60.0  # seconds without a byte before a request is given up
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
        return bool(self.api_key) or (self.skip_api_key_check and bool(self.base_url))


_ENV: dict[str, str] = {
    "ATLAS_DB_PATH": "db_path",
    "ATLAS_COLLECTION_NAME": "collection",
    "ATLAS_EMBEDDING_MODEL": "embedding_model",
    "ATLAS_DEFAULT_MODEL": "model",
    "ATLAS_PROVIDER": "provider",
    "ANTHROPIC_API_KEY": "api_key",
    "ANTHROPIC_BASE_URL": "base_url",
    "SKIP_API_KEY_CHECK": "skip_api_key_check",
    "ATLAS_SYSTEM_PROMPT_FILE": "system_prompt_file",
    "ATLAS_SEARCH_MODE": "search_mode",
    "ATLAS_SESSIONS_PATH": "sessions_path",
}


def _coerce(name: str, value: Any) -> Any:
    kinds = {f.name: f.type for f in fields(Settings)}
    if name not in kinds:
        raise ConfigError(f"Unknown setting {name!r}.")
    kind = kinds[name]
    try:
        if name == "models":
            return _models(value)
        if name == "prices":
            return _prices(value)
        if kind == "bool":
            return _truthy(value) if isinstance(value, str) else bool(value)
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        if kind.startswith("dict"):
            if not isinstance(value, dict):
                raise TypeError
            return {str(k): str(v) for k, v in value.items()}
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"Setting {name!r} should be a {kind}, got {value!r}.") from None


def _models(value: Any) -> tuple[str, ...]:
    """A list of model ids (a comma-separated string from the environment works too)."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(m, str) for m in items):
        raise TypeError
    models = tuple(dict.fromkeys(m.strip() for m in items if m.strip()))
    if not models:
        raise ValueError
    return models


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


def _validate(settings: Settings) -> Settings:
    if settings.search_mode not in SEARCH_MODES:
        raise ConfigError(
            f"Unknown search mode {settings.search_mode!r}; use one of {', '.join(SEARCH_MODES)}."
        )
    if settings.provider not in ("auto", "anthropic", "extractive"):
        raise ConfigError(
            f"Unknown provider {settings.provider!r}; use auto, anthropic or extractive."
        )
    if settings.max_results < 1:
        raise ConfigError("max_results must be at least 1.")
    return settings


def read_config_file(path: Path | None = None) -> dict[str, Any]:
    path = path or user_config_file()
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"Cannot read the config file {path}: {exc}") from exc
    return data


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Defaults < config file < environment < `overrides` (None values are ignored)."""
    values: dict[str, Any] = {}
    for name, value in read_config_file(config_file).items():
        values[name] = _coerce(name, value)
    for env_name, name in _ENV.items():
        if (value := os.environ.get(env_name)) is not None and value != "":
            values[name] = _coerce(name, value)
    for name, value in overrides.items():
        if value is not None:
            values[name] = _coerce(name, value)
    return _validate(replace(Settings(), **values))
