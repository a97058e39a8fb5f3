"""Test-wide isolation: no user data dir, no real API key, quiet LanceDB, offline model hub."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own data dir and config, and never sees a real key or endpoint."""
    home = tmp_path_factory.mktemp("atlas-home")
    monkeypatch.setenv("ATLAS_DATA_DIR", str(home / "data"))
    monkeypatch.setenv("ATLAS_CONFIG", str(home / "config.toml"))
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "ATLAS_DB_PATH",
        "ATLAS_COLLECTION_NAME",
        "ATLAS_DEFAULT_MODEL",
        "ATLAS_EMBEDDING_MODEL",
        "ATLAS_PROVIDER",
        "ATLAS_SESSIONS_PATH",
        "SKIP_API_KEY_CHECK",
    ):
        monkeypatch.delenv(name, raising=False)
