"""The session store's edges (sessions/store.py, schema.py): what each refusal says, read-only
readers, turns owned by another live process, late writes to a finished turn, the limits of
lists, and files that are old, newer, damaged or locked."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import INTERRUPTED_MESSAGE, MIGRATIONS, SCHEMA_VERSION, SessionStore
from atlas_tui.types import Citation, Passage

HINT = "List the sessions with `atlas-tui sessions`."


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.sqlite3"


@pytest.fixture
def store(db_path: Path) -> Iterator[SessionStore]:
    with SessionStore(db_path) as opened:
        yield opened


def said(call, *args: object) -> str:
    """What the user reads when `call(*args)` is refused: the message, then the hint (if any)."""
    with pytest.raises(SessionStoreError) as caught:
        call(*args)
    return caught.value.describe()


def sql(db_path: Path, statement: str, *params: object) -> None:
    db = sqlite3.connect(db_path)
    db.execute(statement, params)
    db.commit()
    db.close()


# --- what a refusal says --------------------------------------------------------------------------


def test_naming_a_session_that_is_not_there_says_what_to_do(store: SessionStore) -> None:
    assert said(store.resolve, "last") == "There are no research sessions yet."
    first = store.create_session()
    assert said(store.resolve, "  ") == f"No session given.\n{HINT}"
    assert said(store.load_session, "fff") == f"There is no session 'fff'.\n{HINT}"
    assert said(store.rename, first, " \n") == "A session title cannot be empty.\nType a title."


def test_an_ambiguous_prefix_lists_the_candidates_in_order(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = iter(["ab12cd34", "ab99ef00", "ab12cd34", "0f0f0f0f"])
    monkeypatch.setattr("atlas_tui.sessions.store.secrets.token_hex", lambda _: next(ids))
    assert [store.create_session() for _ in range(3)] == ["ab12cd34", "ab99ef00", "0f0f0f0f"]
    assert said(store.resolve, "AB") == (
        "'ab' matches several sessions: ab12cd34, ab99ef00.\nType more of the session id."
    )
    assert store.resolve("ab1") == "ab12cd34"


def test_when_every_new_id_is_taken_creating_a_session_says_so(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("atlas_tui.sessions.store.secrets.token_hex", lambda _: "ab12cd34")
    store.create_session()
    assert said(store.create_session).startswith("Could not find a free session id.\n")


def test_session_ids_are_eight_hex_digits(store: SessionStore) -> None:
    for _ in range(5):
        assert re.fullmatch(r"[0-9a-f]{8}", store.create_session())


@pytest.mark.parametrize("ref", ["%", "_", "________", "%%%%"])
def test_like_wildcards_in_a_reference_match_nothing(store: SessionStore, ref: str) -> None:
    store.create_session()
    assert said(store.resolve, ref) == f"There is no session {ref!r}.\n{HINT}"


def test_an_unknown_or_damaged_turn_is_refused_with_what_to_do(
    store: SessionStore, db_path: Path
) -> None:
    assert said(store.turn, 999).startswith("There is no turn 999.\n")
    assert said(store.regenerate_turn, 999).startswith(
        "There is no turn 999 (was its session deleted?).\n"
    )
    turn_id = store.begin_turn(store.create_session(), "q")
    store.finish_turn(turn_id, "a")
    sql(db_path, "UPDATE turns SET citations = '{' WHERE id = ?", turn_id)
    refusal = said(store.regenerate_turn, turn_id)
    assert refusal.endswith("cannot be regenerated: citations: Expecting property name enclosed "
                            "in double quotes: line 1 column 2 (char 1)\nAsk the question again "
                            "instead.")  # fmt: skip


def test_finishing_a_turn_needs_a_final_status(store: SessionStore) -> None:
    turn_id = store.begin_turn(store.create_session(), "q")
    with pytest.raises(ValueError) as caught:
        store.finish_turn(turn_id, "a", status="streaming")
    assert str(caught.value) == (
        "finish_turn needs a final status (done, failed, cancelled, interrupted), not 'streaming'"
    )


def test_an_open_a_read_or_a_write_that_fails_says_which(
    store: SessionStore, db_path: Path
) -> None:
    session_id = store.create_session()
    sql(db_path, "DROP TABLE turns")
    assert said(store.load_session, session_id).startswith(
        f"Cannot read the session database {db_path}: no such table: turns\n"
    )
    assert said(SessionStore, db_path).startswith(
        f"Cannot open the session database {db_path}: no such table: turns\n"
    )
    sql(db_path, "CREATE TRIGGER no_renames BEFORE UPDATE ON sessions BEGIN SELECT RAISE(ABORT, "
                 "'renames are off'); END")  # fmt: skip
    assert said(store.rename, session_id, "New").startswith(
        f"Cannot write the session database {db_path}: renames are off"
    )


# --- what is written, and what is not -------------------------------------------------------------


def test_a_finished_turn_keeps_its_answer_against_a_late_update(store: SessionStore) -> None:
    """A delta that arrives after the turn ended (a slow stream, a closed window) is dropped."""
    turn_id = store.begin_turn(store.create_session(), "q")
    store.update_answer(turn_id, "partial")
    store.finish_turn(turn_id, "The whole answer.")
    store.update_answer(turn_id, "late")
    turn = store.turn(turn_id)
    assert (turn.answer, turn.status) == ("The whole answer.", "done")
    store.set_documents(turn_id, [Passage("c1", "t", "a.md", "/kb", "A", "", 0.5)])
    assert [p.chunk_id for p in store.turn(turn_id).documents] == ["c1"]  # still allowed


def test_a_sessions_origin_and_own_sampling_are_read_back(store: SessionStore) -> None:
    asked = store.create_session(origin="ask")
    typed = store.create_session()
    store.set_session_sampling(asked, temperature=0.2, max_tokens=300)
    session = store.load_session(asked)
    assert (session.origin, session.temperature, session.max_tokens) == ("ask", 0.2, 300)
    assert {s.id: s.origin for s in store.list_sessions()} == {asked: "ask", typed: ""}
    untouched = store.load_session(typed)
    assert (untouched.origin, untouched.temperature, untouched.max_tokens) == ("", None, None)
    store.set_session_sampling(asked, temperature=None, max_tokens=None)  # the configured ones
    session = store.load_session(asked)
    assert (session.temperature, session.max_tokens) == (None, None)


def test_a_sessions_questions_come_in_order_up_to_a_limit(store: SessionStore) -> None:
    session_id = store.create_session()
    for question in ("First?", "Second?", "Third?"):
        store.begin_turn(session_id, question)
    store.begin_turn(store.create_session(), "Elsewhere?")
    assert store.questions(session_id) == ["First?", "Second?", "Third?"]
    assert store.questions(session_id[:6], limit=2) == ["First?", "Second?"]
    for number in range(4, 102):
        store.begin_turn(session_id, f"Question {number}?")
    assert len(store.questions(session_id)) == 100  # the first hundred unless asked for more


def test_closing_a_store_leaves_a_turn_another_store_finished(db_path: Path) -> None:
    first = SessionStore(db_path)
    turn_id = first.begin_turn(first.create_session(), "q")
    with SessionStore(db_path) as second:
        second.finish_turn(turn_id, "Answered elsewhere.", status="done")
    first.close()
    with SessionStore(db_path) as store:
        turn = store.turn(turn_id)
    assert (turn.answer, turn.status, turn.error) == ("Answered elsewhere.", "done", None)


def test_a_turn_finished_without_an_answerer_or_model_has_none(store: SessionStore) -> None:
    turn_id = store.begin_turn(store.create_session(), "q")
    store.finish_turn(turn_id, "a", [Citation(1, "c1", "x")])
    turn = store.turn(turn_id)
    assert (turn.answerer, turn.model, turn.usage) == ("", "", {})


def test_an_empty_finished_answer_is_kept_when_regenerated(store: SessionStore) -> None:
    """A model that answered with nothing still answered: the empty answer stays an alternative
    (a cancelled one without text does not)."""
    turn_id = store.begin_turn(store.create_session(), "q")
    store.finish_turn(turn_id, "", status="done")
    store.regenerate_turn(turn_id)
    store.finish_turn(turn_id, "Second.")
    assert [(a.answer, a.status) for a in store.turn(turn_id).answers] == [
        ("", "done"),
        ("Second.", "done"),
    ]


def test_lists_are_bounded(store: SessionStore) -> None:
    sessions = [store.create_session() for _ in range(3)]
    assert len(store.list_sessions(limit=2)) == 2 and len(store.list_sessions()) == 3
    for n in range(55):
        turn_id = store.begin_turn(sessions[0], f"question {n} about lanterns")
        store.finish_turn(turn_id, f"answer {n}")
    assert len(store.search("lanterns")) == 50
    assert [t.question for t in store.history(sessions[0], 1)] == ["question 54 about lanterns"]


def test_a_store_in_a_new_folder_makes_the_folder_and_a_wal_file(tmp_path: Path) -> None:
    """Write-ahead logging: another process reads the sessions while an answer streams in."""
    path = tmp_path / "a" / "b" / "sessions.sqlite3"
    with SessionStore(path) as store:
        store.create_session()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()


def test_a_store_under_a_file_says_why_it_cannot_open(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    path = tmp_path / "file" / "sessions.sqlite3"
    assert said(SessionStore, path) == (
        f"Cannot open the session database {path}: [Errno 17] File exists: "
        f"'{tmp_path / 'file'}'\nCheck that it names a file in a folder you can write (or set "
        "ATLAS_SESSIONS_PATH)."
    )


def test_the_configured_store_can_be_written(db_path: Path) -> None:
    SessionStore(db_path).close()  # the file exists: a reader would open it read-only
    settings = Settings(sessions_path=str(db_path))
    with SessionStore.from_settings(settings) as store:
        assert store.list_sessions() == []
        store.create_session("Written")
    with SessionStore.from_settings(settings, read_only=True) as reader:
        assert [s.title for s in reader.list_sessions()] == ["Written"]


# --- readers, and turns in flight in other processes ----------------------------------------------


def test_a_reader_works_from_another_thread_and_leaves_no_file_behind(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SessionStore(db_path) as store:
        store.create_session("Kept")
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    reader = SessionStore(db_path, read_only=True)
    titles: list[str] = []
    thread = threading.Thread(target=lambda: titles.extend(s.title for s in reader.list_sessions()))
    thread.start()
    thread.join(timeout=30)
    reader.close()
    assert titles == ["Kept"]
    assert os.listdir(tmp_path / "work") == []  # nothing created in the working folder


def test_a_reader_recovers_turns_left_in_flight_by_no_process(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        turn_id = store.begin_turn(store.create_session(), "q")
    sql(db_path, "UPDATE turns SET status = 'streaming', owner_pid = NULL WHERE id = ?", turn_id)
    with SessionStore(db_path, read_only=True) as reader:
        turn = reader.turn(turn_id)
    assert (turn.status, turn.error) == ("interrupted", INTERRUPTED_MESSAGE)


def test_a_reader_upgrades_a_file_of_an_older_version(db_path: Path) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):  # the schema as version 2 wrote it
        db.execute(statement)
    db.executescript(
        """INSERT INTO sessions VALUES ('0ld5e551', 'Old research', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, answer, status, created, updated)
            VALUES ('0ld5e551', 1, 'How do penguins swim?', 'With flippers.', 'done', 1, 2);
        PRAGMA user_version = 2;"""
    )
    db.close()
    with SessionStore(db_path, read_only=True) as reader:
        assert reader.load_session("0ld5e551").turns[0].answer == "With flippers."
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


# a process that any signal would end: nothing it inherits (nohup's SIGHUP) may hide one
DEFAULT_SIGNALS_THEN_SLEEP = """
import signal, time
for number in signal.valid_signals():
    try:
        signal.signal(number, signal.SIG_DFL)
    except (OSError, ValueError):
        pass
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("read_only", [False, True])
def test_a_turn_owned_by_a_live_process_is_left_in_flight(db_path: Path, read_only: bool) -> None:
    with SessionStore(db_path) as store:
        turn_id = store.begin_turn(store.create_session(), "q")
        store.update_answer(turn_id, "streaming elsewhere")
        dead_id = store.begin_turn(store.create_session(), "left by a process that is gone")
    sleeper = subprocess.Popen(
        [sys.executable, "-c", DEFAULT_SIGNALS_THEN_SLEEP], stdout=subprocess.PIPE, text=True
    )
    try:
        assert sleeper.stdout is not None and sleeper.stdout.readline() == "ready\n"
        sql(db_path, "UPDATE turns SET owner_pid = ?, status = 'streaming' WHERE id = ?",
            sleeper.pid, turn_id)  # fmt: skip
        sql(db_path, "UPDATE turns SET owner_pid = NULL, status = 'pending' WHERE id = ?", dead_id)
        with SessionStore(db_path, read_only=read_only) as other:
            assert other.turn(turn_id).status == "streaming"
            assert other.turn(dead_id).status == "interrupted"
        with pytest.raises(subprocess.TimeoutExpired):  # asked whether it lives, not signalled
            sleeper.wait(timeout=1)
    finally:
        sleeper.kill()
        sleeper.communicate(timeout=30)
    with SessionStore(db_path, read_only=read_only) as other:
        assert other.turn(turn_id).status == "interrupted"  # its owner is gone


# --- files from an older or newer atlas-tui, damaged, or locked -----------------------------------


def test_a_version_2_regenerated_pair_becomes_one_turn_keeping_the_first_answer(
    db_path: Path,
) -> None:
    db = sqlite3.connect(db_path, isolation_level=None)
    for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):  # the schema as version 2 wrote it
        db.execute(statement)
    db.executescript(
        """INSERT INTO sessions VALUES ('dup22ca7', 'Pair', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, documents, answer, citations, answerer,
                           timings, status, error, created, updated)
            VALUES ('dup22ca7', 1, 'and PDFs?', '[{"chunk_id": "c1", "text": "Skipped.",
                    "source": "a.md", "root": "/kb", "title": "A", "heading": "", "score": 0.5}]',
                    'Skipped [1].', '[{"number": 1, "chunk_id": "c1", "cited_text": "Skipped"}]',
                    'offline extractive', '{"total_ms": 7.0}', 'failed', 'Rate limited', 1, 7),
                   ('dup22ca7', 2, 'and PDFs?', '[]', 'Read page by page.', '[]', 'Claude', '{}',
                    'done', NULL, 8, 9);
        PRAGMA user_version = 2;"""
    )
    db.close()
    with SessionStore(db_path) as store:
        (turn,) = store.load_session("dup22ca7").turns
    assert (turn.position, turn.answer, turn.damaged) == (1, "Read page by page.", "")
    (earlier,) = turn.alternatives
    assert (earlier.answer, earlier.answerer, earlier.status, earlier.error) == (
        "Skipped [1].",
        "offline extractive",
        "failed",
        "Rate limited",
    )
    assert [p.chunk_id for p in earlier.documents] == ["c1"]
    assert [(c.number, c.cited_text) for c in earlier.citations] == [(1, "Skipped")]
    assert (earlier.timings, earlier.created) == ({"total_ms": 7.0}, 7.0)


def test_a_file_with_pages_nothing_uses_is_refused_as_damaged(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        session_id = store.create_session()
        for n in range(40):
            store.begin_turn(session_id, f"question {n} {'x' * 400}")
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("CREATE INDEX questions ON turns(question)")
    db.execute("PRAGMA writable_schema = ON")  # forget the index: its pages stay, used by nothing
    db.execute("DELETE FROM sqlite_master WHERE name = 'questions'")
    db.close()
    message = said(SessionStore, db_path)
    assert message.startswith(f"The session database {db_path} is damaged: *** in database main")
    assert "is never used.\nThe session database was left untouched" in message


def test_a_file_from_a_newer_atlas_tui_says_what_to_do(db_path: Path) -> None:
    SessionStore(db_path).close()
    sql(db_path, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    assert said(SessionStore, db_path) == (
        f"The session database {db_path} was written by a newer atlas-tui (schema "
        f"{SCHEMA_VERSION + 1}; this version understands up to {SCHEMA_VERSION}).\n"
        "Upgrade atlas-tui, or point ATLAS_SESSIONS_PATH at another file."
    )


def test_a_file_locked_while_it_is_opened_says_so(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    SessionStore(db_path).close()
    monkeypatch.setattr("atlas_tui.sessions.store.BUSY_TIMEOUT_S", 0.2)
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        message = said(SessionStore, db_path)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert message.startswith(f"The session database {db_path} stayed locked by ")
