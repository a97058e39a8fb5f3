"""TUI fixtures: a small corpus, indexed once per session by the real client, and app factories."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from atlas_tui.config import Settings
from atlas_tui.query import AtlasQuery
from tests.corpus import NOTES, write_files
from tests.fake_anthropic import fake_anthropic  # noqa: F401 - a fixture

CORPUS = {
    **NOTES,
    "hostile.md": (
        "# Hostile [bold]markup[/bold]\n\n"
        "This passage carries [bold red]rich markup[/] and escapes \x1b[31mred\x1b[0m and "
        "\x1b]0;pwned\x07 a title change about the zeppelin hangar.\n"
    ),
}


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_files(tmp_path_factory.mktemp("tui-corpus"), CORPUS)


@pytest.fixture(scope="session")
def index_path(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> str:
    db = str(tmp_path_factory.mktemp("tui-index") / "db")
    # fp32 vectors, whatever this CPU's fastest path (int8 on AVX2 or VNNI scores passages a
    # hundredth apart: the snapshots show scores). The app keeps to the index's kind of vectors.
    client = AtlasQuery(Settings(db_path=db, encoder="fp32"))
    report = client.ingest([str(corpus)])
    assert report.ok
    return db


@pytest.fixture(scope="session")
def warm_client(index_path: str) -> AtlasQuery:
    """One warmed extractive client shared by the tests that only read the index."""
    client = AtlasQuery(Settings(db_path=index_path, provider="extractive"))
    client.warm()
    return client


@pytest.fixture
def make_settings(index_path: str, tmp_path: Path) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "db_path": index_path,
            "sessions_path": str(tmp_path / "sessions.sqlite3"),
            "provider": "extractive",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def snap_compare(snap_compare):  # the plugin's, with blinking cursors held still
    """A blinking cursor is drawn or not depending on when the screenshot falls (a snapshot
    failed on one cell under load): every text box on screen stops blinking, cursor shown."""

    def compare(app, *, run_before=None, **options):  # type: ignore[no-untyped-def]
        async def before(pilot):  # type: ignore[no-untyped-def]
            if run_before is not None:
                await run_before(pilot)
            for screen in app.screen_stack:
                for box in screen.query("TextArea, Input"):
                    box.cursor_blink = False
            await pilot.pause()

        return snap_compare(app, run_before=before, **options)

    return compare
