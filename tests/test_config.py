"""Settings: defaults < config file < environment < explicit overrides (CLI flags), every value
checked at the edge with a one-line error naming the setting and its allowed range."""

from __future__ import annotations

import math
import os
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from atlas_tui.cli.main import _knobs, _settings, build_parser
from atlas_tui.config import (
    DEFAULT_COLLECTION,
    LIMITS,
    Settings,
    allowed_range,
    demo_corpus_path,
    load_settings,
)
from atlas_tui.errors import ConfigError


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Write the config file named by $ATLAS_CONFIG."""
    path = tmp_path / "config.toml"
    monkeypatch.setenv("ATLAS_CONFIG", str(path))

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    write("")
    return write


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings == Settings()
    assert settings.collection == DEFAULT_COLLECTION
    assert settings.embedding_model == "all-MiniLM-L6-v2"
    assert settings.search_mode == "hybrid"
    assert not settings.use_claude  # no key is a normal state: offline extractive answers
    assert settings.resolved_db_path.endswith("index")


# One setting of each kind: (name, file value as TOML, environment variable and value, a falsy
# override, what the override reads as). The override must win even when it is falsy.
KINDS = [
    ("collection", '"from_file"', ("ATLAS_COLLECTION_NAME", "from_env", "from_env"), "", ""),
    ("base_url", '"http://file"', ("ANTHROPIC_BASE_URL", "http://env", "http://env"), "", ""),
    ("skip_api_key_check", "true", ("SKIP_API_KEY_CHECK", "no", False), False, False),
    ("history_turns", "7", None, 0, 0),
    ("max_retries", "3", None, 0, 0),
    ("min_relevance_score", "0.75", None, 0.0, 0.0),
    ("keys", '{ cancel = "ctrl+c" }', None, {}, {}),
]


@pytest.mark.parametrize(("name", "in_file", "env", "falsy", "expected"), KINDS)
def test_each_layer_beats_the_one_below_even_with_falsy_values(
    config: Any,
    monkeypatch: pytest.MonkeyPatch,
    name: str,
    in_file: str,
    env: tuple[str, str, Any] | None,
    falsy: Any,
    expected: Any,
) -> None:
    default = getattr(Settings(), name)
    path = config(f"{name} = {in_file}\n")
    from_file = getattr(load_settings(), name)
    assert from_file != default
    assert getattr(load_settings(path), name) == from_file  # named explicitly: the same file
    value = getattr(load_settings(**{name: falsy}), name)  # a falsy flag beats the file
    assert value == expected and type(value) is type(expected)
    assert getattr(load_settings(**{name: None}), name) == from_file  # None: not given
    if env is not None:
        variable, text, parsed = env
        monkeypatch.setenv(variable, text)
        assert getattr(load_settings(), name) == parsed != from_file
        assert getattr(load_settings(**{name: None}), name) == parsed
        monkeypatch.setenv(variable, "")  # an empty variable is no setting
        assert getattr(load_settings(), name) == from_file
        monkeypatch.setenv(variable, text)
        if parsed != expected:  # a falsy flag beats the environment too
            assert getattr(load_settings(**{name: falsy}), name) == expected
        else:  # (the flag must differ from the environment to show it)
            assert getattr(load_settings(**{name: not parsed}), name) == (not parsed)


def test_a_falsy_environment_value_beats_the_file(
    config: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    config("skip_api_key_check = true\n")
    monkeypatch.setenv("SKIP_API_KEY_CHECK", "0")
    assert load_settings().skip_api_key_check is False
    monkeypatch.setenv("SKIP_API_KEY_CHECK", "off")
    assert load_settings().skip_api_key_check is False
    monkeypatch.setenv("SKIP_API_KEY_CHECK", "ON")
    assert load_settings().skip_api_key_check is True


def test_every_environment_variable_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "ATLAS_DB_PATH": ("db_path", "/srv/index"),
        "ATLAS_COLLECTION_NAME": ("collection", "env_kb"),
        "ATLAS_EMBEDDING_MODEL": ("embedding_model", "/models/mini"),
        "ATLAS_DEFAULT_MODEL": ("model", "claude-env"),
        "ATLAS_PROVIDER": ("provider", "extractive"),
        "ANTHROPIC_API_KEY": ("api_key", "sk-env"),
        "ANTHROPIC_BASE_URL": ("base_url", "http://gateway"),
        "SKIP_API_KEY_CHECK": ("skip_api_key_check", True),
        "ATLAS_SYSTEM_PROMPT_FILE": ("system_prompt_file", "/etc/prompt.txt"),
        "ATLAS_SEARCH_MODE": ("search_mode", "keyword"),
        "ATLAS_SESSIONS_PATH": ("sessions_path", "/var/sessions.db"),
    }
    for variable, (_, value) in values.items():
        monkeypatch.setenv(variable, "true" if value is True else str(value))
    settings = load_settings()
    assert {name: getattr(settings, name) for name, _ in values.values()} == dict(values.values())


def flags(*argv: str) -> tuple[Settings, dict[str, Any]]:
    args = build_parser().parse_args(list(argv))
    return _settings(args), _knobs(args) if hasattr(args, "limit") else {}


def test_every_cli_flag_beats_environment_and_file(
    config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config(
        'db_path = "/file/db"\ncollection = "file_kb"\nembedding_model = "file-model"\n'
        'search_mode = "vector"\nmax_results = 9\nmin_relevance_score = 0.9\n'
    )
    monkeypatch.setenv("ATLAS_DB_PATH", "/env/db")
    monkeypatch.setenv("ATLAS_COLLECTION_NAME", "env_kb")
    monkeypatch.setenv("ATLAS_EMBEDDING_MODEL", "env-model")
    monkeypatch.setenv("ATLAS_SEARCH_MODE", "keyword")
    other = tmp_path / "other.toml"
    other.write_text('theme = "monokai"\n')
    settings, knobs = flags(
        "search", "q", "--db", "/flag/db", "--collection", "flag_kb", "--embedding-model",
        "flag-model", "--mode", "hybrid", "--limit", "1", "--min-score", "0", "--source", "*.md",
    )  # fmt: skip
    assert (settings.db_path, settings.collection, settings.embedding_model) == (
        "/flag/db",
        "flag_kb",
        "flag-model",
    )
    assert settings.search_mode == "hybrid"
    assert knobs == {"mode": None, "source": "*.md", "max_results": 1, "min_relevance_score": 0.0}
    assert type(knobs["min_relevance_score"]) is float  # 0.0 given, not "no flag"

    # a flag before the subcommand counts too; --config replaces $ATLAS_CONFIG's file
    settings, knobs = flags("--db", "/early/db", "--config", str(other), "stats")
    assert settings.db_path == "/early/db" and settings.theme == "monokai"
    assert settings.max_results == Settings().max_results  # the other file is not read
    settings, knobs = flags("search", "q")
    assert (settings.db_path, settings.search_mode, settings.max_results) == (
        "/env/db",
        "keyword",
        9,
    )
    assert knobs["max_results"] is None and knobs["min_relevance_score"] is None


@pytest.mark.parametrize(
    ("text", "needles"),
    [
        ("max_results = 'many'", ["max_results", "whole number from 1 to 1000"]),
        ("max_results = 2.9", ["max_results", "2.9"]),
        ("max_results = 0", ["max_results", "from 1 to 1000"]),
        ("max_results = true", ["max_results"]),
        ("max_retries = -1", ["max_retries", "from 0 to 10"]),
        ("request_timeout = 0", ["request_timeout", "more than 0"]),
        ("request_timeout = inf", ["request_timeout"]),
        ("context_token_budget = -10", ["context_token_budget", "from 100"]),
        ("min_relevance_score = nan", ["min_relevance_score", "from 0 to 1"]),
        ("min_relevance_score = 1.5", ["min_relevance_score"]),
        ("history_turns = -1", ["history_turns", "from 0 to 100"]),
        ("max_file_bytes = 0", ["max_file_bytes"]),
        ("max_answer_tokens = 0", ["max_answer_tokens"]),
        ("skip_api_key_check = 'maybe'", ["skip_api_key_check", "true or false"]),
        ("reopen_last_session = 1", ["reopen_last_session", "true or false"]),
        ("collection = 5", ["collection", "a string"]),
        ("[keys]\ncancel = 3", ["keys", "table of strings"]),
        ("keys = 'ctrl+c'", ["keys"]),
        ("search_mode = 'fuzzy'", ["fuzzy", "hybrid, vector, keyword"]),
        ("provider = 'openai'", ["openai", "auto, anthropic or extractive"]),
        ("colour = 'red'", ["colour", "known settings"]),
        ("max_result = 3", ["max_result", "did you mean 'max_results'"]),
        ("this is not toml", ["config file"]),
    ],
)
def test_bad_config_is_a_clear_error(config: Any, text: str, needles: list[str]) -> None:
    config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    message = caught.value.describe()
    assert all(needle in message for needle in needles), message
    assert "\n" not in message


def test_every_numeric_setting_has_a_range_and_its_bounds_hold() -> None:
    numeric = {f for f, kind in Settings.__annotations__.items() if kind in ("int", "float")}
    assert numeric == set(LIMITS)
    for name, (low, high, open_low) in LIMITS.items():
        kind = Settings.__annotations__[name]
        step = 1 if kind == "int" else 1e-9
        assert getattr(load_settings(**{name: high}), name) == high
        with pytest.raises(ConfigError, match=name):
            load_settings(**{name: high + step})
        if open_low:
            assert getattr(load_settings(**{name: low + step}), name) == low + step
            with pytest.raises(ConfigError, match=name):
                load_settings(**{name: low})
        else:
            assert getattr(load_settings(**{name: low}), name) == low
            with pytest.raises(ConfigError, match=name):
                load_settings(**{name: low - step})
        for bad in (math.nan, math.inf, True, "ten", [1]):
            with pytest.raises(ConfigError, match=name):
                load_settings(**{name: bad})


def test_whole_numbers_are_read_not_rounded() -> None:
    assert load_settings(max_results=3.0).max_results == 3
    assert type(load_settings(max_results="4").max_results) is int
    assert load_settings(request_timeout="0.5").request_timeout == 0.5
    assert type(load_settings(request_timeout=2).request_timeout) is float
    assert allowed_range("max_results") == "a whole number from 1 to 1000"
    assert allowed_range("request_timeout") == "a number more than 0 and at most 3600"
    assert allowed_range("min_relevance_score") == "a number from 0 to 1"


def test_a_named_config_file_must_exist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = tmp_path / "missing.toml"
    monkeypatch.setenv("ATLAS_CONFIG", str(missing))
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings()
    monkeypatch.setenv("ATLAS_CONFIG", str(tmp_path))
    with pytest.raises(ConfigError, match="is a folder"):
        load_settings()
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(missing)
    os.mkfifo(tmp_path / "fifo.toml")  # would block a reader forever
    with pytest.raises(ConfigError, match="not a regular file"):
        load_settings(tmp_path / "fifo.toml")
    big = tmp_path / "big.toml"
    big.write_text("# padding\n" * 200_000)
    with pytest.raises(ConfigError, match="larger than"):
        load_settings(big)
    (tmp_path / "latin1.toml").write_bytes(b'collection = "caf\xe9"\n')
    with pytest.raises(ConfigError, match="Cannot read the config file"):
        load_settings(tmp_path / "latin1.toml")
    monkeypatch.setenv("ATLAS_CONFIG", os.devnull)  # the way to say "no config file"
    assert load_settings() == Settings()


def test_the_default_config_file_may_be_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ATLAS_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "nowhere"))
    assert load_settings() == Settings()
    default = tmp_path / "nowhere" / "atlas-tui" / "config.toml"
    default.parent.mkdir(parents=True)
    default.write_text("max_results = 2\n")
    assert load_settings().max_results == 2


def test_key_or_skip_check_selects_claude(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test")
    assert load_settings().use_claude
    assert not load_settings(provider="extractive").use_claude
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("SKIP_API_KEY_CHECK", "true")
    assert not load_settings().use_claude  # "run without a key": the offline answerer
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9/gateway")
    assert load_settings().use_claude  # a gateway that adds its own credentials
    assert not load_settings(provider="extractive").use_claude


def test_demo_corpus_is_bundled() -> None:
    files = sorted(demo_corpus_path().glob("*.md"))
    assert len(files) >= 10
    assert any("trimodal" in f.read_text().lower() for f in files)


def test_user_folders_follow_the_environment_then_the_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atlas_tui import config as module

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("ATLAS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ATLAS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("ATLAS_CONFIG", str(tmp_path / "my.toml"))
    assert module.user_data_dir() == tmp_path / "data"
    assert module.user_cache_dir() == tmp_path / "cache"
    assert module.user_config_file() == tmp_path / "my.toml"
    for variable in ("ATLAS_DATA_DIR", "ATLAS_CACHE_DIR", "ATLAS_CONFIG"):
        monkeypatch.setenv(variable, "")  # empty: not set
    assert module.user_data_dir() == tmp_path / "xdg-data" / "atlas-tui"
    assert module.user_cache_dir() == tmp_path / "xdg-cache" / "atlas-tui"
    assert module.user_config_file() == tmp_path / "xdg-config" / "atlas-tui" / "config.toml"
    assert Settings().resolved_db_path == str(tmp_path / "xdg-data" / "atlas-tui" / "index")
    assert Settings(db_path="s3://b/x").resolved_db_path == "s3://b/x"
    assert Settings().resolved_sessions_path == (
        tmp_path / "xdg-data" / "atlas-tui" / "sessions.sqlite3"
    )
    assert Settings(sessions_path="/s.db").resolved_sessions_path == Path("/s.db")


def test_the_demo_corpus_is_found_in_a_wheel_or_a_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from atlas_tui import config as module

    checkout = Path(module.__file__).resolve().parent.parent / "assets" / "demo"
    assert demo_corpus_path() == checkout
    package = tmp_path / "site" / "atlas_tui"
    monkeypatch.setattr(module, "__file__", str(package / "config.py"))
    with pytest.raises(ConfigError) as missing:
        demo_corpus_path()
    assert missing.value.describe() == "The bundled demo corpus is missing from this installation."
    (tmp_path / "site" / "assets" / "demo").mkdir(parents=True)
    assert demo_corpus_path() == tmp_path / "site" / "assets" / "demo"
    (package / "_assets" / "demo").mkdir(parents=True)  # the wheel's copy comes first
    assert demo_corpus_path() == package / "_assets" / "demo"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("skip_api_key_check = 'maybe'", "Setting 'skip_api_key_check' must be true or false, "
         "not 'maybe'."),
        ("collection = 5", "Setting 'collection' must be a string, not 5."),
        ("keys = { quit = 1 }", "Setting 'keys' must be a table of strings, not {'quit': 1}."),
        ("max_retries = 11", "Setting 'max_retries' must be a whole number from 0 to 10, not 11."),
        ("request_timeout = -1.5", "Setting 'request_timeout' must be a number more than 0 and "
         "at most 3600, not -1.5."),
        ("mx_retries = 1", "Unknown setting 'mx_retries'; did you mean 'max_retries'?"),
    ],
)  # fmt: skip
def test_the_error_says_exactly_what_is_allowed(config: Any, text: str, message: str) -> None:
    config(text)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.describe() == message


def test_an_unknown_setting_lists_the_known_ones(config: Any) -> None:
    config("zzz = 1")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    names = ", ".join(sorted(f.name for f in fields(Settings)))
    assert caught.value.describe() == f"Unknown setting 'zzz'; known settings: {names}."


@pytest.mark.parametrize("provider", ["auto", "anthropic", "extractive"])
def test_every_provider_and_search_mode_is_accepted(provider: str) -> None:
    assert load_settings(provider=provider).provider == provider
    for mode in ("hybrid", "vector", "keyword"):
        assert load_settings(search_mode=mode).search_mode == mode


def test_a_config_file_of_exactly_the_size_limit_is_read(tmp_path: Path) -> None:
    from atlas_tui.config import _MAX_CONFIG_BYTES

    line = 'collection = "kb"\n'
    exact = tmp_path / "exact.toml"
    exact.write_text(line + "#" * (_MAX_CONFIG_BYTES - len(line) - 1) + "\n")
    assert exact.stat().st_size == _MAX_CONFIG_BYTES
    assert load_settings(exact).collection == "kb"
    over = tmp_path / "over.toml"
    over.write_text(line + "#" * (_MAX_CONFIG_BYTES - len(line)) + "\n")
    with pytest.raises(ConfigError, match="larger than 1000000 bytes"):
        load_settings(over)


def test_the_model_list_and_prices_at_their_edges(config: Any) -> None:
    config('models = "claude-a, claude-b,,claude-a"\n[prices]\nfree = [0, 0]\n')
    settings = load_settings()
    assert settings.models == ("claude-a", "claude-b")  # a string is split at commas
    assert settings.prices["free"] == (0.0, 0.0)  # a free (local) model
    for bad in ("[prices]\nx = [1, 2, 3]", "[prices]\nx = [true, 1]", "models = ' , '"):
        config(bad)
        with pytest.raises(ConfigError, match="must be"):
            load_settings()
