"""Settings precedence: defaults < config file < environment < explicit overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.config import DEFAULT_COLLECTION, demo_corpus_path, load_settings
from atlas_tui.errors import ConfigError


def test_defaults_without_file_or_environment() -> None:
    settings = load_settings()
    assert settings.collection == DEFAULT_COLLECTION
    assert settings.embedding_model == "all-MiniLM-L6-v2"
    assert settings.search_mode == "hybrid"
    assert not settings.use_claude  # no key is a normal state: offline extractive answers
    assert settings.resolved_db_path.endswith("index")


def test_file_then_environment_then_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'collection = "from_file"\nmax_results = 3\nsearch_mode = "keyword"\n'
        '[keys]\ncancel = "ctrl+c"\n'
    )
    settings = load_settings(config)
    assert (settings.collection, settings.max_results, settings.search_mode) == (
        "from_file",
        3,
        "keyword",
    )
    assert settings.keys == {"cancel": "ctrl+c"}

    monkeypatch.setenv("ATLAS_COLLECTION_NAME", "from_env")
    assert load_settings(config).collection == "from_env"
    assert load_settings(config, collection="from_flag").collection == "from_flag"
    assert load_settings(config, collection=None).collection == "from_env"


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


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("max_results = 'many'", "max_results"),
        ("search_mode = 'fuzzy'", "fuzzy"),
        ("colour = 'red'", "colour"),
        ("this is not toml", "config file"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, needle: str) -> None:
    config = tmp_path / "config.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=needle):
        load_settings(config)


def test_demo_corpus_is_bundled() -> None:
    files = sorted(demo_corpus_path().glob("*.md"))
    assert len(files) >= 10
    assert any("trimodal" in f.read_text().lower() for f in files)
