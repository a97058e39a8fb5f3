"""The documents pane over a real Sphinx page (the Python docs' gzip.rst, unchanged): for "open a
gzip file in text mode" every passage is told apart by its object's name and signature, shown as
plain text (no `.. `, `::`, backquotes or `*mode*`), each line cut once (issue 21)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from textual.pilot import Pilot

from atlas_tui.config import Settings
from atlas_tui.query import AtlasQuery
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.notices import index_summary
from atlas_tui.tui.widgets.documents import DocumentsPane
from tests.tui.helpers import ask, settled, steady

PAGE = Path(__file__).parent.parent / "fixtures" / "pydocs" / "gzip.rst"
QUESTION = "open a gzip file in text mode"


@pytest.fixture(scope="module")
def gzip_index(tmp_path_factory: pytest.TempPathFactory) -> str:
    docs = tmp_path_factory.mktemp("pydocs")
    shutil.copy(PAGE, docs / "gzip.rst")
    db = str(tmp_path_factory.mktemp("gzip-index") / "db")
    assert AtlasQuery(Settings(db_path=db, encoder="fp32")).ingest([str(docs)]).ok
    return db


@pytest.fixture
def gzip_client(gzip_index: str) -> AtlasQuery:
    """A client of its own for each app: a fresh-clone run once saw the 80x24 app's main screen
    mount without its widgets (cause not found; the client was the one thing the apps shared)."""
    client = AtlasQuery(Settings(db_path=gzip_index, provider="extractive"))
    client.warm()
    return client


@pytest.mark.parametrize("size", [(120, 36), (80, 24)], ids=["120x36", "80x24"])
def test_the_gzip_query_over_the_python_docs_page(snap_compare, gzip_client, tmp_path, size):
    settings = Settings(
        db_path=gzip_client.settings.db_path,
        sessions_path=str(tmp_path / "sessions.sqlite3"),
        provider="extractive",
    )
    app = AtlasApp(settings, client=gzip_client)

    async def answered(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        steady(app)
        pane = app.query_one(DocumentsPane)
        lines = [str(pane.get_option_at_index(i).prompt) for i in range(pane.option_count)]
        assert len(lines) == 6
        for line in lines:  # a signature's own `*` (keyword-only) is not markup; `*mode*` is
            assert not any(mark in line for mark in (".. ", "::", "`", "… …")), line
            assert not re.search(r"\*\w+\*", line), line
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=answered)


def test_the_status_line_counts_one_document_in_the_singular():
    assert index_summary({"documents": 1, "chunks": 20}) == "index: 1 document, 20 chunks"
    assert index_summary({"documents": 2, "chunks": 1}) == "index: 2 documents, 1 chunk"
