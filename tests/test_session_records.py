"""A stored or exported turn read back (sessions/records.py, through the store and the export): a
session's title, who answered, earlier answers, and what a turn that cannot be read whole keeps."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import SessionStore
from atlas_tui.sessions.export import export_json, export_markdown, session_from_json
from atlas_tui.types import Citation, Passage


def passage(n: int) -> Passage:
    return Passage(f"c{n}", f"Passage {n} text.", f"doc{n}.md", "/kb", f"Doc {n}", "", 0.5)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sessions.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with SessionStore(db_path) as opened:
        yield opened


def answered(store: SessionStore, session_id: str, question: str, answerer: str) -> int:
    turn_id = store.begin_turn(session_id, question)
    store.set_documents(turn_id, [passage(1), passage(2)])
    store.finish_turn(
        turn_id, f"Answer to {question} [1].", [Citation(1, "c1", "Passage 1")], answerer
    )
    return turn_id


def corrupt(db_path: Path, sql: str, *params: object) -> None:
    """Change a stored turn behind the store's back (a damaged or hand-edited file)."""
    db = sqlite3.connect(db_path)
    db.execute(sql, params)
    db.commit()
    db.close()


# --- titles, history and earlier answers ----------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("How  are\nvectors   stored?", "How are vectors stored?"),  # spaces and lines folded
        ("c" * 80, "c" * 80),  # exactly the limit: kept whole
        ("b" * 100, "b" * 79 + "…"),  # 80 characters with the ellipsis
        ("a" * 78 + " and then some more words", "a" * 78 + "…"),  # no space before the "…"
    ],
)
def test_the_first_question_titles_the_session_in_80_characters(
    store: SessionStore, question: str, title: str
) -> None:
    session_id = store.create_session()
    store.begin_turn(session_id, question)
    store.begin_turn(session_id, "a second question does not retitle it")
    assert [s.title for s in store.list_sessions()] == [title]


def test_history_says_who_answered_each_turn(store: SessionStore) -> None:
    """A follow-up question is told which earlier answers were quoted offline."""
    session_id = store.create_session()
    answered(store, session_id, "first", "offline extractive")
    answered(store, session_id, "second", "Claude claude-sonnet-4-5")
    history = store.history(session_id, 5)
    assert [(t.question, t.answerer) for t in history] == [
        ("first", "offline extractive"),
        ("second", "Claude claude-sonnet-4-5"),
    ]
    assert [len(t.passages) for t in history] == [2, 2]


def test_an_earlier_answer_keeps_its_model_usage_timings_and_time(store: SessionStore) -> None:
    session_id = store.create_session()
    turn_id = store.begin_turn(session_id, "What is new?")
    usage = {"input_tokens": 900, "output_tokens": 40, "cost_usd": 0.003}
    store.finish_turn(
        turn_id,
        "Much [1].",
        [Citation(1, "c1", "Much")],
        "Claude claude-opus-5-5",
        {"total_ms": 812.5},
        model="claude-opus-5-5",
        usage=usage,
    )
    answered_at = store.load_session(session_id).turns[0].updated
    store.regenerate_turn(turn_id)
    store.finish_turn(turn_id, "Little.", answerer="offline extractive")
    (earlier,) = store.load_session(session_id).turns[0].alternatives
    assert (earlier.answer, earlier.model, earlier.usage) == ("Much [1].", "claude-opus-5-5", usage)
    assert (earlier.timings, earlier.created, earlier.status) == (
        {"total_ms": 812.5},
        answered_at,
        "done",
    )


# --- a turn that cannot be read whole -------------------------------------------------------------


WHERE, ANSWER = "Where?", "Answer to Where? [1]."


@pytest.mark.parametrize(
    ("column", "value", "note", "kept"),
    [
        ("question", b"\x00", "question should be str, got bytes", ("", ANSWER, 1)),
        ("answer", b"\x01", "answer should be str, got bytes", (WHERE, "", 1)),
        ("status", "thinking", "unknown status 'thinking'", (WHERE, ANSWER, 1)),
        ("position", "first", "position should be int, got str", (WHERE, ANSWER, 0)),
    ],
)
def test_an_unreadable_field_is_named_and_the_rest_of_the_turn_is_kept(
    store: SessionStore, db_path: Path, column: str, value: object, note: str, kept: tuple
) -> None:
    session_id = store.create_session()
    turn_id = answered(store, session_id, WHERE, "offline extractive")
    corrupt(db_path, f"UPDATE turns SET {column} = ? WHERE id = ?", value, turn_id)
    turn = store.turn(turn_id)
    assert (turn.damaged, turn.status, turn.error) == (
        note,
        "failed",
        f"This turn is damaged: {note}",
    )
    assert (turn.question, turn.answer, turn.position) == kept  # empty (0): could not be read
    assert (turn.answerer, len(turn.documents), len(turn.citations)) == ("offline extractive", 2, 1)


def test_each_unreadable_part_is_named_and_left_empty(store: SessionStore, db_path: Path) -> None:
    session_id = store.create_session()
    turn_id = answered(store, session_id, "Where?", "offline extractive")
    corrupt(
        db_path,
        "UPDATE turns SET documents = ?, citations = ?, timings = ? WHERE id = ?",
        '{"a": 1}',
        "[7]",
        "[1, 2]",
        turn_id,
    )
    turn = store.turn(turn_id)
    assert turn.damaged == (
        "documents: expected a list, got dict; citations: expected an object, got int; "
        "timings: expected an object, got list"
    )
    assert (turn.documents, turn.citations, turn.timings) == ((), (), {})
    assert (turn.question, turn.answer, turn.status) == (
        "Where?",
        "Answer to Where? [1].",
        "failed",
    )


def test_a_turn_whose_number_is_unreadable_exports_with_footnotes_of_its_own(
    store: SessionStore, db_path: Path
) -> None:
    session_id = store.create_session()
    answered(store, session_id, "First?", "offline extractive")
    second = answered(store, session_id, "Second?", "offline extractive")
    corrupt(db_path, "UPDATE turns SET position = 'two' WHERE id = ?", second)
    markdown = export_markdown(store.load_session(session_id))
    assert "## 0. Second?" in markdown
    labels = re.findall(r"(?m)^\[\^([^\]]+)\]:", markdown)
    assert len(labels) == 2 and len(set(labels)) == 2  # no citation points at the other turn


# --- an exported session read back ----------------------------------------------------------------


def exported(store: SessionStore) -> dict:
    session_id = store.create_session()
    turn_id = answered(store, session_id, "Where?", "offline extractive")
    store.regenerate_turn(turn_id)
    store.finish_turn(turn_id, "Elsewhere.", answerer="offline extractive")
    return json.loads(export_json(store.load_session(session_id)))


def test_a_turn_that_is_not_an_object_is_a_clear_error(store: SessionStore) -> None:
    data = exported(store)
    data["session"]["turns"] = [5]
    with pytest.raises(SessionStoreError, match="a turn should be an object, got int"):
        session_from_json(json.dumps(data))


def test_a_damaged_note_in_a_file_is_not_taken_on_trust(store: SessionStore) -> None:
    data = exported(store)
    data["session"]["turns"][0]["damaged"] = "forged"
    (turn,) = session_from_json(json.dumps(data)).turns
    assert (turn.damaged, turn.status, turn.answer) == ("", "done", "Elsewhere.")


def test_fields_an_export_leaves_out_read_back_as_their_defaults(store: SessionStore) -> None:
    data = exported(store)
    (turn,) = data["session"]["turns"]
    del turn["status"]  # an unfinished turn, as far as anyone can tell
    turn["alternatives"] = [{"answer": "An older answer."}]
    (read,) = session_from_json(json.dumps(data)).turns
    assert (read.status, read.damaged) == ("pending", "")
    (older,) = read.alternatives
    assert (older.answer, older.status, older.documents, older.citations) == (
        "An older answer.",
        "done",
        (),
        (),
    )
    assert (older.timings, older.usage) == ({}, {})
