"""Test-wide isolation: no user data dir, no real API key, quiet LanceDB, offline model hub."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.corpus import write_files
from tests.fake_anthropic import FakeAnthropic, fake_anthropic  # noqa: F401 - a fixture for every test
from tests.fake_ollama import fake_ollama  # noqa: F401 - the same, as Ollama speaks it
from tests.tmux import Terminal, terminal_env

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "ATLAS_CACHE_DIR" not in os.environ:  # one ONNX export per test run, kept out of the user's
    import atexit
    import shutil
    import tempfile

    os.environ["ATLAS_CACHE_DIR"] = tempfile.mkdtemp(prefix="atlas-test-cache-")
    atexit.register(shutil.rmtree, os.environ["ATLAS_CACHE_DIR"], True)


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Under pytest-xdist, the controller makes the run's one ONNX export before the workers
    start (they share ATLAS_CACHE_DIR); otherwise the first two workers both make it at once."""
    config = session.config
    if hasattr(config, "workerinput") or not config.getoption("numprocesses", default=None):
        return
    from atlas_tui.config import DEFAULT_EMBEDDING_MODEL
    from atlas_tui.knowledge.embedding import get_embedder

    get_embedder(DEFAULT_EMBEDDING_MODEL).warm()


@pytest.fixture(autouse=True)
def _isolated_environment(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
):
    """Every test gets its own data dir and config, and never sees a real key or endpoint.

    Nor a terminal size: a pytest-xdist worker starts with COLUMNS=80 and LINES=24 in its
    environment, and a TUI started in a tmux pane would size itself from those, not the pane.
    """
    home = tmp_path_factory.mktemp("atlas-home")
    monkeypatch.setenv("ATLAS_DATA_DIR", str(home / "data"))
    (home / "config.toml").write_text("")  # a config file that is named must exist
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
        "COLUMNS",
        "LINES",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under pytest-xdist's `--dist loadgroup` (`make test`), the tests that use a fixture made
    once per module, or a session fixture their own module defines (the demo index, the torch
    encoder), share one worker: it is then built once, not once per worker. Other tests go to
    whichever worker is free. Without xdist the marks do nothing."""
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        for definitions in info.name2fixturedefs.values() if info else ():
            for definition in definitions:
                if definition.scope != "function" and definition.baseid.endswith(".py"):
                    item.add_marker(pytest.mark.xdist_group(definition.baseid))


RESEARCH_CORPUS = {
    "trimodal.md": (
        "# Trimodal methodology\n\n"
        "The trimodal methodology in Atlas combines three modes of work: bottom-up "
        "implementation, top-down design and holistic integration.\n\n"
        "## Bottom-up implementation\n\n"
        "Bottom-up implementation builds and tests small concrete pieces first.\n"
    ),
    "lighthouse.md": (
        "# Lighthouses\n\n"
        "A lighthouse keeper trims the lamp wick every evening and logs the weather at dawn.\n"
    ),
    "notes/it's a café.md": (
        "# Café notes\n\n"
        "The espresso machine at the café needs descaling every month with citric acid.\n"
    ),
}


@pytest.fixture(scope="session")
def research_corpus(tmp_path_factory: pytest.TempPathFactory):
    return write_files(tmp_path_factory.mktemp("research-corpus"), RESEARCH_CORPUS)


@pytest.fixture(scope="session")
def research_index(tmp_path_factory: pytest.TempPathFactory, research_corpus) -> str:
    """A small index built once per test run by the real ingest (real model, real LanceDB)."""
    from atlas_tui.config import Settings
    from atlas_tui.query import AtlasQuery

    db = str(tmp_path_factory.mktemp("research-index") / "db")
    report = AtlasQuery(Settings(db_path=db)).ingest([str(research_corpus)])
    assert report.ok and not report.skipped
    return db


@pytest.fixture
def claude_client(
    research_index: str,
    fake_anthropic: FakeAnthropic,  # noqa: F811 - the fixture
) -> AtlasQuery:
    """A query client over `research_index` answering through the fake Messages API."""
    from atlas_tui.config import Settings
    from atlas_tui.query import AtlasQuery

    return AtlasQuery(
        Settings(
            db_path=research_index,
            api_key="sk-test",
            base_url=fake_anthropic.base_url,
            max_retries=0,
            request_timeout=10,
        )
    )


@pytest.fixture
def terminal(research_index: str, tmp_path: Path) -> Iterator[Terminal]:
    """A tmux terminal to run the app in (tests/tmux.py), killed after the test."""
    term = Terminal(terminal_env(research_index, tmp_path))
    try:
        yield term
    finally:
        term.kill()


@pytest.fixture
def cli_env(research_index: str, tmp_path: Path) -> dict[str, str]:
    """The environment of an `atlas-tui` subprocess over the research index, its own sessions."""
    values = dict(os.environ)
    values.update(
        ATLAS_DB_PATH=research_index,
        ATLAS_SESSIONS_PATH=str(tmp_path / "sessions.sqlite3"),
        LANCEDB_LOG="error",
        HF_HUB_OFFLINE="1",
    )
    return values
