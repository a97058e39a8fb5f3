"""The research-session store: durability, migrations, refusal of bad files, search, history."""

from __future__ import annotations

import hashlib
import os
import queue
import sqlite3
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import MIGRATIONS, SCHEMA_VERSION, SessionStore
from atlas_tui.types import Citation, Passage


def passage(n: int, text: str = "Atlas stores vectors in LanceDB.") -> Passage:
    return Passage(
        chunk_id=f"c{n}",
        text=text,
        source=f"guide/part{n}.md",
        root="/docs",
        title=f"Part {n}",
        heading=f"Guide > Part {n}",
        score=0.5 + n / 100,
        chunk_index=n,
        start=10,
        end=40,
        line_start=3,
        line_end=5,
        page=n if n % 2 else None,
        rank=n,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "sessions.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with SessionStore(db_path) as opened:
        yield opened


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def done_turn(store: SessionStore, session_id: str, question: str, answer: str) -> int:
    turn_id = store.begin_turn(session_id, question)
    store.set_documents(turn_id, [passage(1), passage(2)])
    store.finish_turn(turn_id, answer, [Citation(1, "c1", "vectors")], "offline extractive")
    return turn_id


# --- turns are kept as they happen ----------------------------------------------------------------


def test_a_turn_is_restored_with_its_documents_citations_and_timings(store: SessionStore) -> None:
    session_id = store.create_session()
    turn_id = store.begin_turn(session_id, "Where are vectors stored?\nAnd why?")
    assert store.load_session(session_id).turns[0].status == "pending"
    documents = [passage(1), passage(2, "Other text")]
    store.set_documents(turn_id, documents)
    store.update_answer(turn_id, "In Lance")
    assert store.turn(turn_id).status == "streaming"
    citations = [Citation(1, "c1", "stores vectors"), Citation(2, "c2", "", valid=False)]
    timings = {"retrieval_ms": 12.5, "first_token_ms": None, "total_ms": 900.0}
    store.finish_turn(turn_id, "In LanceDB [1].", citations, "Claude x", timings, "done")

    session = store.load_session(session_id)
    assert session.title == "Where are vectors stored? And why?"
    (turn,) = session.turns
    assert (turn.position, turn.question) == (1, "Where are vectors stored?\nAnd why?")
    assert turn.documents == tuple(documents)
    assert turn.citations == tuple(citations)
    assert (turn.answer, turn.answerer, turn.timings, turn.status) == (
        "In LanceDB [1].",
        "Claude x",
        timings,
        "done",
    )


def test_a_given_title_is_kept_and_failed_turns_keep_their_error(store: SessionStore) -> None:
    session_id = store.create_session("My research")
    turn_id = store.begin_turn(session_id, "First question")
    store.update_answer(turn_id, "partial")
    store.finish_turn(turn_id, "partial", status="failed", error="Rate limited")
    session = store.load_session(session_id)
    assert session.title == "My research"
    assert (session.turns[0].status, session.turns[0].error) == ("failed", "Rate limited")
    assert session.turns[0].answer == "partial"


def test_an_unknown_session_or_turn_is_a_clear_error(store: SessionStore) -> None:
    with pytest.raises(SessionStoreError, match="no session 'nope'"):
        store.load_session("nope")
    with pytest.raises(SessionStoreError, match="no session"):
        store.begin_turn("nope", "q")
    with pytest.raises(SessionStoreError, match="no turn 999"):
        store.set_documents(999, [])


def test_the_api_key_is_never_written(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "sk-ant-never-store-this-0123456789"
    monkeypatch.setenv("ANTHROPIC_API_KEY", secret)
    with SessionStore(db_path) as store:
        done_turn(store, store.create_session(), "q", "a")
    stored = b"".join(p.read_bytes() for p in db_path.parent.iterdir())
    assert b"q" in stored and secret.encode() not in stored


# --- durability and concurrency -------------------------------------------------------------------


def test_a_second_connection_sees_each_committed_update_while_the_writer_streams(
    db_path: Path,
) -> None:
    writer = SessionStore(db_path)
    session_id = writer.create_session()
    turn_id = writer.begin_turn(session_id, "Stream please")
    written: queue.Queue[str | None] = queue.Queue()
    read: queue.Queue[bool] = queue.Queue()

    def stream() -> None:
        text = ""
        for i in range(20):
            text += f"word{i} "
            writer.update_answer(turn_id, text)
            written.put(text)
            read.get(timeout=10)
        writer.finish_turn(turn_id, text, status="done")
        written.put(None)

    thread = threading.Thread(target=stream)
    thread.start()
    with SessionStore(db_path) as reader:
        while (expected := written.get(timeout=10)) is not None:
            turn = reader.load_session(session_id).turns[0]
            assert (turn.answer, turn.status) == (expected, "streaming")
            read.put(True)
        thread.join()
        assert reader.load_session(session_id).turns[0].status == "done"
    writer.close()


def test_another_process_reads_a_streaming_turn_without_interrupting_it(db_path: Path) -> None:
    with SessionStore(db_path) as writer:
        session_id = writer.create_session()
        turn_id = writer.begin_turn(session_id, "Live question")
        writer.update_answer(turn_id, "half an answer")
        result = run_python(
            f"""
            from atlas_tui.sessions import SessionStore
            turn = SessionStore({str(db_path)!r}).load_session({session_id!r}).turns[0]
            print(turn.status, turn.answer, sep="|")
            """
        )
        assert result.stdout.strip() == "streaming|half an answer", result.stderr
        assert writer.turn(turn_id).status == "streaming"  # the live writer's turn is left alone


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL")
def test_a_killed_writer_leaves_the_question_documents_and_partial_answer(db_path: Path) -> None:
    result = run_python(
        f"""
        import os, signal
        from atlas_tui.sessions import SessionStore
        from atlas_tui.types import Passage
        store = SessionStore({str(db_path)!r})
        turn = store.begin_turn(store.create_session(), "What survives a crash?")
        store.set_documents(turn, [Passage("c1", "text", "a.md", "/r", "A", "H", 0.9)])
        store.update_answer(turn, "Everything up to")
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    assert result.returncode == -9, result.stderr
    with SessionStore(db_path) as store:
        (turn,) = store.load_session(store.last_session_id() or "").turns
    assert (turn.question, turn.answer, turn.status) == (
        "What survives a crash?",
        "Everything up to",
        "interrupted",
    )
    assert [d.source for d in turn.documents] == ["a.md"]
    assert turn.error


def test_closing_the_store_marks_its_unfinished_turn_interrupted(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, "q")
        store.update_answer(turn_id, "partial")
        done_turn(store, session_id, "q2", "finished")
    with SessionStore(db_path) as store:
        first, second = store.load_session(session_id).turns
    assert (first.status, first.answer) == ("interrupted", "partial")
    assert second.status == "done"


# --- the file: migrations and refusals ------------------------------------------------------------


def test_a_version_1_database_is_upgraded_and_its_turns_become_searchable(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path)
    db.executescript(
        """
        PRAGMA application_id = 1096043603;
        CREATE TABLE sessions (id TEXT PRIMARY KEY, title TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL, updated REAL NOT NULL);
        CREATE TABLE turns (id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            position INTEGER NOT NULL, question TEXT NOT NULL,
            documents TEXT NOT NULL DEFAULT '[]', answer TEXT NOT NULL DEFAULT '',
            citations TEXT NOT NULL DEFAULT '[]', answerer TEXT NOT NULL DEFAULT '',
            timings TEXT NOT NULL DEFAULT '{}', status TEXT NOT NULL DEFAULT 'pending',
            error TEXT, owner_pid INTEGER, created REAL NOT NULL, updated REAL NOT NULL,
            UNIQUE (session_id, position));
        CREATE INDEX turns_by_status ON turns(status);
        INSERT INTO sessions VALUES ('0ld5e551', 'Old research', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, answer, status, created, updated)
            VALUES ('0ld5e551', 1, 'How do penguins swim?', 'With their flippers.', 'done', 1, 2);
        PRAGMA user_version = 1;
        """
    )
    db.close()
    with SessionStore(db_path) as store:
        assert [h.session_id for h in store.search("flippers")] == ["0ld5e551"]
        assert store.load_session("0ld5e551").turns[0].question == "How do penguins swim?"
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()


def test_a_version_2_database_is_upgraded_and_its_turns_can_be_regenerated(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db = sqlite3.connect(db_path, isolation_level=None)
    for statement in (*MIGRATIONS[0], *MIGRATIONS[1]):  # the schema as version 2 wrote it
        db.execute(statement)
    db.executescript(
        """
        INSERT INTO sessions VALUES ('0ld5e552', 'Old research', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, documents, answer, citations,
                           answerer, timings, status, created, updated)
            VALUES ('0ld5e552', 1, 'How do penguins swim?', '[]', 'With their flippers.', '[]',
                    'offline extractive', '{"total_ms": 5.0}', 'done', 1, 2);
        -- version 2's regenerate: the question stored again as a new turn, twice
        INSERT INTO sessions VALUES ('dup11ca7', 'Regenerated', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, answer, status, created, updated)
            VALUES ('dup11ca7', 1, 'First?', 'One.', 'done', 1, 2),
                   ('dup11ca7', 2, 'and PDFs?', 'Skipped.', 'done', 1, 2),
                   ('dup11ca7', 3, 'and PDFs?', 'Read page by', 'cancelled', 1, 3),
                   ('dup11ca7', 4, 'and PDFs?', 'Read page by page.', 'done', 1, 4),
                   ('dup11ca7', 5, 'Last?', 'Five.', 'done', 1, 5);
        INSERT INTO sessions VALUES ('bad0d0c5', 'Damaged', 1.0, 2.0);
        INSERT INTO turns (session_id, position, question, documents, answer, status, created,
                           updated)
            VALUES ('bad0d0c5', 1, 'Again?', '{not json', 'A', 'done', 1, 2),
                   ('bad0d0c5', 2, 'Again?', '[]', 'B', 'done', 1, 2);
        PRAGMA user_version = 2;
        """
    )
    db.close()
    with SessionStore(db_path) as store:
        session = store.load_session("0ld5e552")
        (turn,) = session.turns
        assert (session.system_prompt, session.model) == ("", "")
        assert (turn.answer, turn.model, turn.usage, turn.alternatives) == (
            "With their flippers.",
            "",
            {},
            (),
        )
        assert turn.timings == {"total_ms": 5.0} and turn.damaged == ""
        store.regenerate_turn(turn.id)
        store.finish_turn(turn.id, "They fly underwater.", status="done")
        (turn,) = store.load_session("0ld5e552").turns
        assert [a.answer for a in turn.answers] == ["With their flippers.", "They fly underwater."]
        assert [h.session_id for h in store.search("underwater")] == ["0ld5e552"]

        folded = store.load_session("dup11ca7").turns  # one question, its answers alternatives
        assert [(t.position, t.question) for t in folded] == [
            (1, "First?"),
            (2, "and PDFs?"),
            (3, "Last?"),
        ]
        assert [(a.answer, a.status) for a in folded[1].answers] == [
            ("Skipped.", "done"),
            ("Read page by", "cancelled"),
            ("Read page by page.", "done"),
        ]
        assert [(s.id, s.turns) for s in store.list_sessions() if s.id == "dup11ca7"] == [
            ("dup11ca7", 3)
        ]
        assert store.search("skipped") == []  # the search covers the answer on show
        damaged = store.load_session("bad0d0c5").turns  # not folded: nothing is guessed
        assert [(t.answer, bool(t.damaged)) for t in damaged] == [("A", True), ("B", False)]
    db = sqlite3.connect(db_path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 5
    db.close()


def test_a_database_from_a_newer_version_is_refused_and_left_unchanged(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        done_turn(store, store.create_session(), "q", "a")
    db = sqlite3.connect(db_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    before = sha256(db_path)
    with pytest.raises(SessionStoreError, match="newer atlas-tui") as caught:
        SessionStore(db_path)
    assert "Upgrade atlas-tui" in caught.value.describe()
    assert sha256(db_path) == before


def _random_bytes(path: Path) -> None:
    path.write_bytes(os.urandom(8192))


def _filled(path: Path) -> bytearray:
    with SessionStore(path) as store:
        for i in range(30):
            done_turn(store, store.create_session(), f"question {i}", "answer " * 400)
    return bytearray(path.read_bytes())


def _truncated(path: Path) -> None:
    data = _filled(path)
    path.write_bytes(data[: len(data) // 2])


def _scribbled(path: Path) -> None:  # header and schema intact, a page in the middle overwritten
    data = _filled(path)
    middle = len(data) // 4096 // 2 * 4096
    data[middle : middle + 4096] = b"\xff" * 4096
    path.write_bytes(data)


def _foreign(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_random_bytes, "damaged or is not a database"),
        (_truncated, "damaged"),
        (_scribbled, "damaged"),
        (_foreign, "another application"),
    ],
)
def test_a_damaged_or_foreign_file_is_refused_and_left_unchanged(
    db_path: Path, damage, message: str
) -> None:
    db_path.parent.mkdir(parents=True)
    damage(db_path)
    for leftover in db_path.parent.glob("*-*"):  # no WAL of the intact file may mask the damage
        leftover.unlink()
    before = sha256(db_path)
    with pytest.raises(SessionStoreError, match=message) as caught:
        SessionStore(db_path)
    assert "left untouched" in caught.value.describe()
    assert sha256(db_path) == before


def test_an_unusable_location_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(SessionStoreError, match="Cannot open the session database"):
        SessionStore(tmp_path / "file" / "sessions.sqlite3")


# --- finding, renaming, deleting, history ---------------------------------------------------------


def test_search_matches_questions_and_answers_and_follows_every_change(store: SessionStore) -> None:
    penguins = store.create_session()
    done_turn(store, penguins, "How do penguins swim?", "They fly underwater.")
    lance = store.create_session()
    turn_id = store.begin_turn(lance, "What is Lance?")
    store.update_answer(turn_id, "A columnar format")

    assert {h.session_id for h in store.search("penguin")} == {penguins}  # stemmed
    assert [h.session_id for h in store.search("colum")] == [lance]  # prefix while typing
    hit = store.search("underwater")[0]
    assert (hit.question, hit.position) == ("How do penguins swim?", 1)
    assert "underwater" in hit.snippet

    store.finish_turn(turn_id, "A file format for vectors", status="done")
    assert store.search("columnar") == []
    assert [h.session_id for h in store.search("vectors format")] == [lance]
    store.delete(penguins)
    assert store.search("underwater") == []


@pytest.mark.parametrize(
    "text", ['"answer', "(answer", "*answer", "answer)", "turn:answer", "-answer", "answer^"]
)
def test_search_treats_query_syntax_as_plain_words(store: SessionStore, text: str) -> None:
    session_id = store.create_session()
    done_turn(store, session_id, "a question", "an answer about columns, turn by turn")
    (hit,) = store.search(text)  # FTS5 operators in the text are words, never syntax errors
    assert (hit.session_id, hit.question, hit.position) == (session_id, "a question", 1)
    assert "answer" in hit.snippet


@pytest.mark.parametrize("text", ['"', "  ", "*", "AND(", "-"])
def test_search_with_no_words_finds_nothing(store: SessionStore, text: str) -> None:
    done_turn(store, store.create_session(), "a question", "an answer")
    assert store.search(text) == []


def test_rename_delete_and_resolve_by_prefix(store: SessionStore) -> None:
    first = store.create_session()
    done_turn(store, first, "q", "a")
    second = store.create_session()
    store.rename(first[:5], "  Renamed\n research ")
    assert store.load_session(first).title == "Renamed research"
    with pytest.raises(SessionStoreError, match="cannot be empty"):
        store.rename(first, "   ")
    store.delete(first)
    assert [s.id for s in store.list_sessions()] == [second]
    with pytest.raises(SessionStoreError, match="no session") as caught:
        store.load_session(first)
    assert "atlas-tui sessions" in caught.value.describe()


def test_an_ambiguous_prefix_names_the_candidates(store: SessionStore) -> None:
    ids = [store.create_session() for _ in range(40)]  # some must share a first hex digit
    first_digits = [i[0] for i in ids]
    shared = next(d for d in first_digits if first_digits.count(d) > 1)
    with pytest.raises(SessionStoreError, match="several sessions"):
        store.resolve(shared)


def test_sessions_are_listed_most_recent_first_with_turn_counts(store: SessionStore) -> None:
    old = store.create_session()
    new = store.create_session()
    assert store.last_session_id() == new
    done_turn(store, old, "q1", "a1")
    done_turn(store, old, "q2", "a2")
    summaries = store.list_sessions()
    assert [(s.id, s.turns) for s in summaries] == [(old, 2), (new, 0)]
    assert store.last_session_id() == old
    assert summaries[0].title == "q1"


def test_history_is_bounded_oldest_first_and_only_finished_turns(store: SessionStore) -> None:
    session_id = store.create_session()
    for i in range(5):
        done_turn(store, session_id, f"q{i}", f"a{i}")
    failed = store.begin_turn(session_id, "q-failed")
    store.finish_turn(failed, "", status="failed", error="boom")
    store.begin_turn(session_id, "q-now")

    history = store.history(session_id, limit=3)
    assert [(t.question, t.answer) for t in history] == [("q2", "a2"), ("q3", "a3"), ("q4", "a4")]
    assert [p.chunk_id for p in history[0].passages] == ["c1", "c2"]
    assert store.history(session_id, limit=0) == []


@pytest.mark.parametrize(
    ("column", "value", "part"),
    [
        ("documents", "{not json", "documents"),
        ("documents", '{"a": 1}', "documents"),  # valid JSON, the wrong shape
        ("documents", '[{"chunk_id": 5}]', "documents"),
        ("citations", '"text"', "citations"),
        ("timings", "[1, 2]", "timings"),
        ("alternatives", '[{"answer": 3}]', "alternatives"),
    ],
)
def test_a_damaged_turn_loads_as_unreadable_with_a_note(
    store: SessionStore, db_path: Path, column: str, value: str, part: str
) -> None:
    session_id = store.create_session()
    done_turn(store, session_id, "q", "a")
    done_turn(store, session_id, "q2", "a2")
    db = sqlite3.connect(db_path)
    db.execute(f"UPDATE turns SET {column} = ? WHERE position = 1", (value,))
    db.commit()
    db.close()
    damaged, whole = store.load_session(session_id).turns
    assert part in damaged.damaged and damaged.status == "failed"
    assert damaged.error is not None and damaged.error.startswith("This turn is damaged")
    assert (damaged.question, damaged.answer) == ("q", "a")  # what could be read is kept
    assert whole.damaged == "" and whole.status == "done" and len(whole.documents) == 2
    assert [s.id for s in store.list_sessions()] == [session_id]
    with pytest.raises(SessionStoreError, match="damaged"):
        store.regenerate_turn(damaged.id)


# --- regeneration keeps one turn with alternative answers -----------------------------------------


def test_regenerating_keeps_one_turn_with_the_earlier_answers_as_alternatives(
    store: SessionStore,
) -> None:
    session_id = store.create_session()
    done_turn(store, session_id, "first", "one")
    turn_id = done_turn(store, session_id, "and what about PDFs?", "They are read page by page.")
    assert store.regenerate_turn(turn_id) == turn_id
    pending = store.load_session(session_id).turns[1]
    assert (pending.status, pending.answer, pending.documents) == ("pending", "", ())
    store.set_documents(turn_id, [passage(3)])
    store.finish_turn(
        turn_id,
        "PDFs are split per page [1].",
        [Citation(1, "c3", "vectors")],
        "Claude claude-opus-5-5",
        {"total_ms": 900.0},
        model="claude-opus-5-5",
        usage={"input_tokens": 1200, "output_tokens": 80, "cost_usd": 0.0064},
    )
    session = store.load_session(session_id)
    assert [t.question for t in session.turns] == ["first", "and what about PDFs?"]
    turn = session.turns[1]
    assert turn.answer == "PDFs are split per page [1]." and turn.model == "claude-opus-5-5"
    assert turn.usage == {"input_tokens": 1200, "output_tokens": 80, "cost_usd": 0.0064}
    (earlier,) = turn.alternatives
    assert earlier.answer == "They are read page by page."
    assert [p.chunk_id for p in earlier.documents] == ["c1", "c2"]
    assert earlier.answerer == "offline extractive" and earlier.status == "done"
    assert [a.answer for a in turn.answers] == [earlier.answer, turn.answer]
    assert [(s.id, s.turns) for s in store.list_sessions()] == [(session_id, 2)]
    assert [h.answer for h in store.history(session_id, 5)] == ["one", turn.answer]
    assert store.search("split per page")[0].position == 2
    assert store.search("page by page") == []  # search covers the answer on show

    store.regenerate_turn(turn_id)  # a third answer, cancelled before any text: not kept
    store.finish_turn(turn_id, "", status="cancelled", error="Cancelled.")
    store.regenerate_turn(turn_id)
    store.finish_turn(turn_id, "Third.", status="done")
    answers = store.load_session(session_id).turns[1].answers
    assert [a.answer for a in answers] == [earlier.answer, "PDFs are split per page [1].", "Third."]


def test_a_regeneration_killed_midway_keeps_the_earlier_answer(db_path: Path) -> None:
    with SessionStore(db_path) as store:
        session_id = store.create_session()
        turn_id = done_turn(store, session_id, "q", "the first answer")
        store.regenerate_turn(turn_id)
        store.update_answer(turn_id, "half of the sec")
    with SessionStore(db_path) as store:
        (turn,) = store.load_session(session_id).turns
    assert turn.status == "interrupted" and turn.answer == "half of the sec"
    assert [a.answer for a in turn.alternatives] == ["the first answer"]


def test_the_session_keeps_its_system_prompt_and_model(store: SessionStore) -> None:
    session_id = store.create_session()
    store.set_session_options(session_id, system_prompt="Answer in French.\nBe brief.")
    store.set_session_options(session_id, model="claude-haiku-5-5")
    session = store.load_session(session_id)
    assert (session.system_prompt, session.model) == (
        "Answer in French.\nBe brief.",
        "claude-haiku-5-5",
    )
    store.set_session_options(session_id, system_prompt="")
    assert store.load_session(session_id).system_prompt == ""
    assert store.load_session(session_id).model == "claude-haiku-5-5"


def test_the_store_lives_in_the_user_data_dir_unless_configured(tmp_path: Path) -> None:
    from atlas_tui.config import load_settings

    with SessionStore.from_settings(load_settings()) as store:
        assert store.path == Path(os.environ["ATLAS_DATA_DIR"]) / "sessions.sqlite3"
    with SessionStore.from_settings(load_settings(sessions_path=str(tmp_path / "s.db"))) as store:
        assert store.path == tmp_path / "s.db"
    assert (tmp_path / "s.db").is_file()


def test_last_names_the_most_recently_used_session(store: SessionStore) -> None:
    with pytest.raises(SessionStoreError, match="no research sessions yet"):
        store.resolve("last")
    first = store.create_session()
    store.create_session()
    done_turn(store, first, "q", "a")  # using a session makes it the latest
    assert store.resolve("last") == first
    assert store.load_session("last").id == first


def test_two_processes_creating_one_new_session_file_both_open_it(tmp_path: Path) -> None:
    """Each saw an empty file (version 0) before either took the write lock: the second one's
    migration finds the schema made and leaves it, instead of failing on CREATE TABLE."""
    first = SessionStore(tmp_path / "sessions.sqlite3")
    first.create_session("kept")
    second = SessionStore(tmp_path / "sessions.sqlite3")
    second._migrate(0)  # as a process that read version 0 just before `first` migrated
    assert [s.title for s in second.list_sessions()] == ["kept"]


def test_many_processes_opening_a_new_session_file_at_once_all_succeed(tmp_path: Path) -> None:
    code = textwrap.dedent(
        """
        import sys
        from atlas_tui.sessions import SessionStore
        SessionStore(sys.argv[1]).create_session("from " + sys.argv[2])
        """
    )
    for attempt in range(3):
        path = tmp_path / f"s{attempt}.sqlite3"
        runs = [
            subprocess.Popen(
                [sys.executable, "-c", code, str(path), str(n)],
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
            )
            for n in range(4)
        ]
        for run in runs:
            _, err = run.communicate(timeout=60)
            assert run.returncode == 0, err
        assert len(SessionStore(path).list_sessions()) == 4
