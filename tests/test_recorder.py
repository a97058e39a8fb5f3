"""The turn recorder over a real session database: what is stored when, how a turn ends, and what
happens when the database cannot be written."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import atlas_tui.sessions.store as store_module
from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.errors import APIConnectionError, CancelledError_, SessionStoreError
from atlas_tui.query import Delta, Done, Failed, Retrieved, Timings
from atlas_tui.sessions import SessionStore
from atlas_tui.types import Citation, Passage, Usage

PASSAGE = Passage(
    chunk_id="c1",
    text="Keepers trim the wick.",
    source="lighthouse.md",
    root="/docs",
    title="Lighthouses",
    heading="Keepers",
    score=0.8,
)
DEADLINE_S = 10.0  # the most any wait in these tests can take


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[SessionStore]:
    with SessionStore(db_path) as opened:
        yield opened


def stored(db_path: Path) -> sqlite3.Row:
    """The one turn, as another process would read it: a separate connection."""
    with sqlite3.connect(db_path) as db:
        db.row_factory = sqlite3.Row
        return db.execute("SELECT answer, status, updated FROM turns").fetchone()


def wait_for_answer(db_path: Path, text: str, since: float) -> float:
    """Seconds from `since` until the stored answer reads `text` (polled; bounded)."""
    while time.monotonic() - since < DEADLINE_S:
        if stored(db_path)["answer"] == text:
            return time.monotonic() - since
        time.sleep(0.02)
    raise AssertionError(f"the answer {text!r} was never stored")


def test_the_answer_is_stored_about_once_a_second_while_it_streams(
    store: SessionStore, db_path: Path
) -> None:
    recorder = TurnRecorder(store, store.create_session(), "What do keepers do?")
    assert stored(db_path)["status"] == "pending"  # the question is stored when it is sent
    start = time.monotonic()
    recorder.record(Delta("Keepers "))
    first = wait_for_answer(db_path, "Keepers ", start)
    assert 0.8 <= first <= 1.6, f"first flush after {first:.2f} s, expected about 1 s"
    assert stored(db_path)["status"] == "streaming"

    start = time.monotonic()
    recorder.record(Delta("trim "))
    recorder.record(Delta("the wick"))
    second = wait_for_answer(db_path, "Keepers trim the wick", start)
    assert second <= 1.6, f"the next flush came {second:.2f} s later"

    # Nothing new: nothing is written (the row's update time stays put over two intervals).
    updated = stored(db_path)["updated"]
    time.sleep(2.2)
    assert stored(db_path)["updated"] == updated
    recorder.record(Failed(CancelledError_("Cancelled."), ""))


def test_a_finished_answer_is_stored_at_once_with_everything(
    store: SessionStore, db_path: Path
) -> None:
    session_id = store.create_session()
    recorder = TurnRecorder(store, session_id, "What do keepers do?", interval=60)
    recorder.record(Retrieved((PASSAGE,)))
    assert store.turn(recorder.turn_id).documents == (PASSAGE,)  # documents as they arrive
    recorder.record(Delta("Keepers trim the wick [1]."))
    assert recorder.text == "Keepers trim the wick [1]."
    citation = Citation(number=1, chunk_id="c1", cited_text="Keepers trim the wick.")
    recorder.record(
        Done(
            answer="Keepers trim the wick [1].",
            citations=(citation,),
            usage=Usage(input_tokens=10, output_tokens=5),
            timings=Timings(retrieval_ms=12.5, total_ms=300.0),
            answerer="claude-test",
            model="claude-test-5",
            cost_usd=0.0125,
        )
    )
    turn = store.turn(recorder.turn_id)  # stored by record() itself, not by the next flush
    assert (turn.status, turn.answer, turn.error) == ("done", "Keepers trim the wick [1].", None)
    assert turn.citations == (citation,) and turn.answerer == "claude-test"
    assert turn.timings["retrieval_ms"] == 12.5 and turn.timings["total_ms"] == 300.0
    assert turn.question == "What do keepers do?" and turn.session_id == session_id
    assert turn.model == "claude-test-5"
    assert turn.usage == {"input_tokens": 10, "output_tokens": 5, "cost_usd": 0.0125}


def test_a_regenerated_answer_replaces_the_turn_and_keeps_the_old_one(
    store: SessionStore,
) -> None:
    session_id = store.create_session()
    first = TurnRecorder(store, session_id, "What do keepers do?", interval=60)
    first.record(Delta("They sleep."))
    first.record(Failed(CancelledError_("Cancelled."), ""))
    again = TurnRecorder(store, session_id, "ignored", interval=60, regenerate=first.turn_id)
    assert again.turn_id == first.turn_id  # the same turn, not a new question
    again.record(Delta("They trim the wick."))
    again.record(Failed(APIConnectionError("Could not reach the API."), ""))
    (turn,) = store.load_session(session_id).turns
    assert (turn.question, turn.answer, turn.status) == (
        "What do keepers do?",
        "They trim the wick.",
        "failed",
    )
    assert [(v.answer, v.status) for v in turn.alternatives] == [("They sleep.", "cancelled")]


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (CancelledError_("Cancelled."), "cancelled"),
        (APIConnectionError("Could not reach the API."), "failed"),
    ],
)
def test_how_a_turn_ended_is_stored_with_its_partial_answer(
    store: SessionStore, error: Exception, status: str
) -> None:
    recorder = TurnRecorder(store, store.create_session(), "q", interval=60)
    recorder.record(Delta("The keeper "))
    recorder.record(Delta("trims"))
    recorder.record(Failed(error, ""))  # no partial text given: what was recorded is kept
    turn = store.turn(recorder.turn_id)
    assert (turn.status, turn.answer, turn.error) == (status, "The keeper trims", str(error))

    other = TurnRecorder(store, store.create_session(), "q", interval=60)
    other.record(Delta("ignored"))
    other.record(Failed(error, "The partial text given"))
    assert store.turn(other.turn_id).answer == "The partial text given"


def test_no_flush_after_the_turn_ended(store: SessionStore, db_path: Path) -> None:
    recorder = TurnRecorder(store, store.create_session(), "q", interval=0.05)
    recorder.record(Delta("partial"))
    recorder.record(Failed(CancelledError_("Cancelled."), "partial"))
    recorder.record(Delta(" more"))  # a late delta (cancel raced the stream) is never written
    recorder.flush()
    time.sleep(0.2)
    assert (stored(db_path)["answer"], stored(db_path)["status"]) == ("partial", "cancelled")


def test_a_failed_flush_is_reported_once_and_the_answer_goes_on(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.1)
    reported: list[SessionStoreError] = []
    seen = threading.Event()

    def on_error(error: SessionStoreError) -> None:
        reported.append(error)
        seen.set()

    with SessionStore(db_path) as store:
        recorder = TurnRecorder(store, store.create_session(), "q", interval=0.1, on_error=on_error)
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another program holds the database
        try:
            recorder.record(Delta("The keeper trims"))
            assert seen.wait(DEADLINE_S), "the failed flush was never reported"
            time.sleep(0.5)  # several more failed flushes: still reported only once
            assert len(reported) == 1 and isinstance(recorder.flush_error, SessionStoreError)
            assert "locked" in reported[0].describe() and "locked" in str(recorder.flush_error)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # The lock has passed: the next flush stores the text, and the answer ends normally.
        wait_for_answer(db_path, "The keeper trims", time.monotonic())
        recorder.record(Delta(" the wick"))
        recorder.record(Failed(CancelledError_("Cancelled."), ""))
        assert store.turn(recorder.turn_id).answer == "The keeper trims the wick"


def test_a_full_disk_says_so(store: SessionStore) -> None:
    recorder = TurnRecorder(store, store.create_session(), "q", interval=60)
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own SQLITE_FULL
    recorder.record(Delta("x" * 100_000))
    with pytest.raises(SessionStoreError) as caught:
        recorder.flush()
    assert "the disk is full" in caught.value.describe()
    assert "Free some disk space" in caught.value.describe()
    assert "holding" not in caught.value.describe() and "move it aside" not in str(caught.value)
    store._db.execute(f"PRAGMA max_page_count = {pages * 100}")
    recorder.record(Failed(CancelledError_("Cancelled."), ""))  # room again: the turn ends


def test_a_lock_held_too_long_names_the_process_holding_it(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess
    import sys

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.2)
    with SessionStore(db_path) as store:
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, sys, time\n"
             f"db = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
             "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(60)"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            with pytest.raises(SessionStoreError) as caught:
                store.create_session()
        finally:
            holder.kill()
            holder.wait(DEADLINE_S)
    message = caught.value.describe()
    assert f"stayed locked by pid {holder.pid} (python" in message, message
    assert "nothing was changed" in message


def test_a_turn_waiting_for_its_first_words_stays_pending(
    store: SessionStore, db_path: Path
) -> None:
    recorder = TurnRecorder(store, store.create_session(), "q", interval=0.05)
    time.sleep(0.3)  # several flush intervals with nothing to store
    assert (stored(db_path)["status"], stored(db_path)["answer"]) == ("pending", "")
    recorder.record(Delta("first"))
    wait_for_answer(db_path, "first", time.monotonic())
    assert stored(db_path)["status"] == "streaming"
    recorder.record(Failed(CancelledError_("Cancelled."), ""))


def test_an_unfinished_recorder_does_not_keep_the_process_alive(db_path: Path) -> None:
    import subprocess
    import sys

    # The flusher is a daemon thread, named for whoever lists the threads, ending with the turn.
    with SessionStore(db_path) as store:
        before = set(threading.enumerate())
        recorder = TurnRecorder(store, store.create_session(), "q", interval=60)
        try:
            flushers = [
                t for t in set(threading.enumerate()) - before if t.name == "atlas-turn-flush"
            ]
            assert len(flushers) == 1 and flushers[0].daemon
        finally:
            recorder.record(Failed(CancelledError_("Cancelled."), ""))
        assert not flushers[0].is_alive()

    # So a process that leaves a turn unfinished still exits.
    code = (
        "from atlas_tui.conversation.recording import TurnRecorder\n"
        "from atlas_tui.sessions import SessionStore\n"
        f"store = SessionStore({str(db_path)!r})\n"
        "TurnRecorder(store, store.create_session(), 'q', interval=0.05)\n"
        "print('leaving', flush=True)\n"  # no Done or Failed: the flusher is still running
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and done.stdout == "leaving\n", done.stderr


def test_a_briefly_locked_database_is_waited_on(db_path: Path) -> None:
    import subprocess
    import sys

    with SessionStore(db_path) as store:
        holder = subprocess.Popen(
            [sys.executable, "-c", "import sqlite3, time\n"
             f"db = sqlite3.connect({str(db_path)!r}, isolation_level=None)\n"
             "db.execute('BEGIN EXCLUSIVE'); print('locked', flush=True)\n"
             "time.sleep(1.0); db.execute('ROLLBACK'); print('released', flush=True)\n"],
            stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
            session_id = store.create_session()  # waits for the lock instead of failing
            assert holder.stdout.readline() == "released\n"
        finally:
            holder.kill()
            holder.wait(DEADLINE_S)
        assert [s.id for s in store.list_sessions()] == [session_id]
