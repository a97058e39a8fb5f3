"""Steering an ingest from the TUI (issue 20): the stop key in the footer while one runs and its
palette entry, what a stopped ingest kept said in numbers that match the index, quitting while
one runs (the dialog: stop and quit / keep it going / back), and an index opened with passages
awaiting a vector resumed in the background while the app answers, its status line counting
embedded vs all.

The ingests are real (the packaged model, a real index). To act while one is mid-embedding on a
machine of any speed, `Gate` holds the encoder at its second batch until the test lets it go."""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from rich.cells import cell_len

from atlas_tui.config import Settings
from atlas_tui.knowledge.steering import StopHandle
from atlas_tui.query import AtlasQuery
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.commands import main_commands
from atlas_tui.tui.notices import short_index
from atlas_tui.tui.screens.dialogs import ChoiceScreen
from atlas_tui.tui.widgets.status import StatusLine
from tests.corpus import write_files
from tests.tui.helpers import ask, client_ready, settled, until

NOTES = 300  # one passage each: three batches of 128 (knowledge.ingest.EMBED_BATCH)
HOLD_S = 60.0  # the encoder is never held longer than this (a test that fails lets it go)
DETACHED_S = 180.0


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    words = ("lamp", "harbour", "granite", "willow", "ember", "quartz", "meadow", "lantern")
    return write_files(
        tmp_path / "notes",
        {
            f"n{i:03}.md": f"# Note {i}\n\nThe {words[i % 8]} keeper logs entry {i}.\n"
            for i in range(NOTES)
        },
    )


@pytest.fixture
def seeded(tmp_path: Path, make_settings: Callable[..., Settings]) -> Settings:
    """Settings for a fresh index holding one embedded note (so the app opens on an index)."""
    settings = make_settings(db_path=str(tmp_path / "db"))
    first = write_files(tmp_path / "first", {"quince.md": "# Quince\n\nAn orchard of quinces.\n"})
    assert AtlasQuery(settings).ingest([str(first)]).ok
    return settings


class Gate:
    """Holds the encoder before its second batch until `release()` (or HOLD_S): the first batch
    is embedded and written, the second is in hand."""

    def __init__(self, client: AtlasQuery, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reached, self._go, self.calls = threading.Event(), threading.Event(), 0
        embedder = client.knowledge.embedder
        encode = embedder.encode_documents

        def held(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            if self.calls == 2:
                self.reached.set()
                self._go.wait(HOLD_S)
            return encode(*args, **kwargs)

        monkeypatch.setattr(embedder, "encode_documents", held)

    def release(self) -> None:
        self._go.set()


def footer_keys(app: AtlasApp) -> set[str]:
    return {b.binding.action for b in app.screen.active_bindings.values() if b.binding.show}


async def mid_embedding(pilot: Any, gate: Gate) -> None:
    app = pilot.app
    await until(pilot, gate.reached.is_set, rounds=3000)
    await until(pilot, lambda: "stop_ingest" in footer_keys(app))


@asynccontextmanager
async def held_mid_embedding(
    settings: Settings,
    notes: Path,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
    before: Callable[[AtlasApp], None] = lambda app: None,
) -> AsyncIterator[tuple[AtlasApp, Any, AtlasQuery, Gate]]:
    """The app over `settings` (`before` looks at it first), an ingest of `notes` started from
    it, held at its second batch: (app, pilot, client, gate)."""
    client = AtlasQuery(settings)
    app = AtlasApp(settings, client=client)
    async with app.run_test(size=size) as pilot:
        await client_ready(pilot)
        gate = Gate(client, monkeypatch)
        before(app)
        app.main.start_ingest([str(notes)])
        await mid_embedding(pilot, gate)
        yield app, pilot, client, gate


async def test_ctrl_x_stops_mid_embedding_and_says_what_was_kept(
    seeded: Settings, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    def idle(app: AtlasApp) -> None:  # no ingest: no stop key, no palette entry
        assert "stop_ingest" not in footer_keys(app)
        assert "Stop the ingest" not in [c.title for c in main_commands(app.main)]

    held = held_mid_embedding(seeded, notes, monkeypatch, (120, 36), before=idle)
    async with held as (app, pilot, client, gate):
        assert "Stop the ingest" in [c.title for c in main_commands(app.main)]
        status = app.query_one(StatusLine)
        assert status.state.startswith("ingesting embedding")
        await pilot.press("ctrl+x")  # the query box has the focus: the key still stops
        await until(pilot, lambda: "stopping after this batch" in status.state)
        gate.release()
        await until(pilot, lambda: any(n.title == "Ingest stopped" for n in app.notices), 3000)
        await until(pilot, lambda: not app.main.ingest_bar.running)
        await pilot.pause()

        stats = client.stats()
        all_, embedded = NOTES + 1, stats.embedded_chunks
        assert stats.chunks == all_ and 1 + 128 <= embedded < all_  # the batch in hand kept
        report = next(n for n in app.notices if n.title == "Ingest stopped").message
        assert report.startswith(f"Stopped: {embedded:,} of {all_:,} passages embedded; ctrl+o")
        assert status.index == f"index: {all_} documents, {all_} chunks ({embedded} embedded)"
        assert status.state == "" and "stop_ingest" not in footer_keys(app)
        assert client.knowledge.check()[0].clean
        assert app.main.query_one("#query").has_focus  # (the query box kept the focus)


async def test_at_80_columns_the_status_line_shows_the_ingest_s_counts_whole(
    seeded: Settings, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Beside the ingest's progress, the index's count is short enough to be read whole
    ('index: 129/301 embedded'), or left out; never cut mid-number ('index: 301 documents, 3')."""
    from atlas_tui.tui.widgets import ingest_bar

    monkeypatch.setattr(ingest_bar, "INDEX_EVERY_S", 0.0)  # the index is measured at every step
    async with held_mid_embedding(seeded, notes, monkeypatch, (80, 24)) as (app, pilot, _, gate):
        status = app.query_one(StatusLine)
        await until(pilot, lambda: "embedded)" in status.index)
        line = status.render().plain
        try:
            assert cell_len(line) <= status.size.width == 80  # nothing runs off the edge
            assert re.search(r"ingesting embedding [\d,]+/[\d,]+ passages", line)
            index = re.search(r"index: \S*", line)
            assert index is None or re.search(r"index: [\d,]+/[\d,]+ embedded", line), line
        finally:
            gate.release()
        await until(pilot, lambda: not app.main.ingest_bar.running, 3000)
    assert short_index(f"index: {NOTES + 1} documents, {NOTES + 1} chunks (129 embedded)") == (
        f"index: 129/{NOTES + 1} embedded"
    )


async def test_quitting_while_ingesting_asks_back_then_stop_and_quit(
    seeded: Settings, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = held_mid_embedding(seeded, notes, monkeypatch, (80, 24))
    async with held as (app, pilot, client, gate):
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        text = str(app.screen.query_one(".dialog-text").render())
        assert "An ingest is running (embedding" in text
        labels = [str(b.label) for b in app.screen.query("Button")]
        assert labels == ["Stop and quit (s)", "Keep it going (k)", "Back (b)"]
        await pilot.press("escape")  # back: nothing changes
        await until(pilot, lambda: app.screen is app.main)
        assert app.main.ingest_bar.running and not app.main.ingest_bar.stopping
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("s")
        await until(pilot, lambda: app.main.ingest_bar.stopping)
        gate.release()
        await until(pilot, lambda: app.return_code is not None, rounds=3000)
    stats = client.stats()
    assert 0 < stats.pending_chunks < NOTES and client.knowledge.check()[0].clean
    assert app.farewell == ""


async def test_keep_it_going_quits_and_a_process_of_its_own_finishes_the_ingest(
    seeded: Settings, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = held_mid_embedding(seeded, notes, monkeypatch, (120, 36))
    async with held as (app, pilot, client, gate):
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.press("k")
        await until(pilot, lambda: app.main.ingest_bar.stopping)
        gate.release()
        await until(pilot, lambda: app.return_code is not None, rounds=3000)
    assert app.farewell.startswith("The ingest continues in the background (pid ")
    log = Path(app.farewell.rsplit("its progress: ", 1)[1])
    pid = int(app.farewell.split("(pid ", 1)[1].split(")", 1)[0])
    await_exit(pid, log)
    stats = client.stats()
    assert (stats.chunks, stats.embedded_chunks) == (NOTES + 1, NOTES + 1), log.read_text()
    assert "Traceback" not in log.read_text()


def await_exit(pid: int, log: Path) -> None:
    """Wait (bounded) for the detached ingest, a child of this process, to end well."""
    deadline = time.monotonic() + DETACHED_S
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            assert os.waitstatus_to_exitcode(status) == 0, log.read_text()
            return
        time.sleep(0.2)
    raise AssertionError(f"the detached ingest did not end in {DETACHED_S} s: {log.read_text()}")


async def test_an_index_awaiting_embedding_resumes_in_the_background_as_the_app_answers(
    seeded: Settings, notes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stop = StopHandle()

    def stop_at_embedding(event: Any) -> None:
        if event.phase == "embedding" and event.chunks_done:
            stop.stop()

    earlier = AtlasQuery(seeded).ingest([str(notes)], progress=stop_at_embedding, should_stop=stop)
    assert earlier.interrupted and earlier.chunks_pending > 0
    embedded, all_ = earlier.index_embedded, earlier.index_chunks

    client = AtlasQuery(seeded)
    gate = Gate(client, monkeypatch)
    app = AtlasApp(seeded, client=client)
    async with app.run_test(size=(120, 36)) as pilot:
        status = app.query_one(StatusLine)
        await client_ready(pilot)
        # before the resume has embedded anything, the line counts what vector search covers
        assert status.index == f"index: {all_} documents, {all_} chunks ({embedded} embedded)"
        await until(pilot, lambda: gate.calls >= 1 and app.main.ingest_bar.running, 3000)
        notice = next(n for n in app.notices if n.title == "Index").message
        assert notice == (
            f"Embedding {all_ - embedded:,} passages left by an earlier ingest, in the "
            "background (^x stops)."
        )
        assert "stop_ingest" in footer_keys(app)
        view = await ask(pilot, "Which keeper logs entry 7?")  # the app answers meanwhile
        await settled(pilot)
        assert view.turn.status == "done"
        gate.release()
        await until(pilot, lambda: any(n.title == "Ingest finished" for n in app.notices), 3000)
        await until(pilot, lambda: status.index == f"index: {all_} documents, {all_} chunks")
        assert "Embedded" in next(n for n in app.notices if n.title == "Ingest finished").message
    assert client.pending() == 0
