"""`SessionStore`: the research-session database, safe to share between threads.

The question is stored when it is sent, the documents when they arrive and the answer while it
streams, so a killed process loses at most the text since the last update. Turns left in flight by
a process that is gone are marked interrupted when the store is next opened.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

from atlas_tui.config import Settings
from atlas_tui.errors import SessionStoreError, session_db_error
from atlas_tui.sessions.records import (
    FINAL,
    SearchHit,
    Session,
    SessionSummary,
    SessionTurn,
    Status,
    title_from_question,
    turn_from_dict,
)
from atlas_tui.sessions.schema import MIGRATIONS, SCHEMA_VERSION, check_file, fts_query
from atlas_tui.types import Citation, Passage, Turn

INTERRUPTED_MESSAGE = "atlas-tui stopped before this answer finished; the partial answer is kept."
_NOT_FOUND_HINT = "List the sessions with `atlas-tui sessions`."
BUSY_TIMEOUT_S = 15.0  # how long a locked database is waited on (SQLite retries meanwhile)


def _process_alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    if os.name != "posix":  # signal 0 is not a liveness probe elsewhere; assume the worst
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class SessionStore:
    """The research-session database. Safe to share between the UI thread and a worker thread."""

    def __init__(self, path: Path | str, *, read_only: bool = False) -> None:
        """Open (or create) the database. A `read_only` store (for readers such as `sessions` and
        `export`) opens an existing, current file read-only, so it never waits on a writer; it
        upgrades to read-write only when the file must be created, migrated or recovered."""
        self.path = Path(path)
        self._lock = threading.RLock()
        self._in_flight: set[int] = set()
        read_only = read_only and self.path.is_file()
        self._db = self._connect(read_only)
        try:
            version = check_file(self._db, self.path)
            self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._db.execute("PRAGMA foreign_keys = ON")
            if read_only and (version < SCHEMA_VERSION or self._dead_turns()):
                self._db.close()
                self._db = self._connect(False)
                read_only = False
                self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
                self._db.execute("PRAGMA foreign_keys = ON")
            if not read_only:
                if self._db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                    self._db.execute("PRAGMA journal_mode = WAL")
                self._db.execute("PRAGMA synchronous = NORMAL")  # durable across a killed process
                self._migrate(version)
                if self._dead_turns():
                    self._recover_interrupted()
        except sqlite3.Error as exc:
            self._db.close()
            raise session_db_error(self.path, "open", exc) from exc
        except BaseException:
            self._db.close()
            raise

    def _connect(self, read_only: bool) -> sqlite3.Connection:
        try:
            if read_only:
                return sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro",
                    uri=True,
                    timeout=BUSY_TIMEOUT_S,
                    isolation_level=None,
                    check_same_thread=False,
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise session_db_error(self.path, "open", exc) from exc

    def _dead_turns(self) -> bool:
        """Are there turns left in flight by a process that is gone?"""
        rows = self._db.execute(
            "SELECT owner_pid FROM turns WHERE status IN ('pending', 'streaming')"
        ).fetchall()
        return any(not _process_alive(pid) for (pid,) in rows)

    @classmethod
    def from_settings(cls, settings: Settings, *, read_only: bool = False) -> SessionStore:
        """The store at `settings.resolved_sessions_path` (ATLAS_SESSIONS_PATH or the data dir)."""
        return cls(settings.resolved_sessions_path, read_only=read_only)

    # --- opening ---------------------------------------------------------------------------------

    def _migrate(self, version: int) -> None:
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._transaction() as db:
                # read again under the write lock: another process opening a new file at the
                # same moment may have taken this step already
                if db.execute("PRAGMA user_version").fetchone()[0] >= target:
                    continue
                for step in MIGRATIONS[target - 1]:
                    if callable(step):
                        step(db)  # a data migration, in the same transaction
                    else:
                        db.execute(step)
                db.execute(f"PRAGMA user_version = {target}")

    def _recover_interrupted(self) -> None:
        """Turns left in flight by a process that is gone are marked interrupted."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, owner_pid FROM turns WHERE status IN ('pending', 'streaming')"
            ).fetchall()
            dead = [(turn_id,) for turn_id, pid in rows if not _process_alive(pid)]
            db.executemany(
                "UPDATE turns SET status = 'interrupted', error = ? WHERE id = ?",
                [(INTERRUPTED_MESSAGE, turn_id) for (turn_id,) in dead],
            )

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; SQLite errors become a SessionStoreError."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                raise session_db_error(self.path, "write", exc) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cursor = self._db.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return cursor.fetchall()
            except sqlite3.Error as exc:
                raise session_db_error(self.path, "read", exc) from exc

    def _write(self, sql: str, params: Sequence[Any] = ()) -> int:
        with self._lock:
            try:
                return self._db.execute(sql, params).rowcount
            except sqlite3.Error as exc:
                raise session_db_error(self.path, "write", exc) from exc

    def close(self) -> None:
        """Close the database; this store's unfinished turns are marked interrupted."""
        with self._lock:
            for turn_id in list(self._in_flight):
                self._mark_interrupted(turn_id)
            self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- sessions --------------------------------------------------------------------------------

    def create_session(self, title: str | None = None, *, origin: str = "") -> str:
        """A new, empty session; its title defaults to the first question. `origin`: what
        records it ("tui", "ask")."""
        now = time.time()
        clean = title_from_question(title or "")
        for _ in range(8):
            session_id = secrets.token_hex(4)
            inserted = self._write(
                "INSERT OR IGNORE INTO sessions (id, title, created, updated, origin) "
                "VALUES (?, ?, ?, ?, ?)",
                (session_id, clean, now, now, origin),
            )
            if inserted:
                return session_id
        raise SessionStoreError("Could not find a free session id.")

    def resolve(self, ref: str) -> str:
        """The id of the session named by `ref`: a full id, an unambiguous prefix of one, or
        "last" for the most recently used (ids are hex, so "last" is never a prefix)."""
        ref = ref.strip().lower()
        if not ref:
            raise SessionStoreError("No session given.", hint=_NOT_FOUND_HINT)
        if ref == "last":
            found = self.last_session_id()
            if found is None:
                raise SessionStoreError("There are no research sessions yet.", hint="")
            return found
        pattern = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._query("SELECT id FROM sessions WHERE id LIKE ? ESCAPE '\\'", (pattern,))
        ids = [row["id"] for row in rows]
        if ref in ids:
            return ref
        if len(ids) == 1:
            return str(ids[0])
        if not ids:
            raise SessionStoreError(f"There is no session {ref!r}.", hint=_NOT_FOUND_HINT)
        raise SessionStoreError(
            f"{ref!r} matches several sessions: {', '.join(sorted(ids))}.",
            hint="Type more of the session id.",
        )

    def list_sessions(self, limit: int | None = None) -> list[SessionSummary]:
        """Sessions, the most recently used first."""
        rows = self._query(
            """SELECT s.id, s.title, s.created, s.updated, count(t.id) AS turns, s.origin
               FROM sessions s LEFT JOIN turns t ON t.session_id = s.id
               GROUP BY s.id ORDER BY s.updated DESC, s.rowid DESC LIMIT ?""",
            (-1 if limit is None else limit,),
        )
        return [SessionSummary(**dict(row)) for row in rows]

    def last_session_id(self) -> str | None:
        sessions = self.list_sessions(limit=1)
        return sessions[0].id if sessions else None

    def load_session(self, ref: str) -> Session:
        session_id = self.resolve(ref)
        head = self._query(
            "SELECT id, title, created, updated, system_prompt, model, origin, temperature, "
            "max_tokens FROM sessions WHERE id = ?",
            (session_id,),
        )
        if not head:
            raise SessionStoreError(f"There is no session {ref!r}.", hint=_NOT_FOUND_HINT)
        rows = self._query(
            "SELECT * FROM turns WHERE session_id = ? ORDER BY position", (session_id,)
        )
        return Session(**dict(head[0]), turns=tuple(self._turn(row) for row in rows))

    def questions(self, ref: str, limit: int = 100) -> list[str]:
        """The session's questions, in order (the first `limit`), without loading its turns."""
        rows = self._query(
            "SELECT question FROM turns WHERE session_id = ? ORDER BY position LIMIT ?",
            (self.resolve(ref), limit),
        )
        return [row["question"] for row in rows]

    def rename(self, ref: str, title: str) -> None:
        clean = title_from_question(title)
        if not clean:
            raise SessionStoreError("A session title cannot be empty.", hint="Type a title.")
        self._write("UPDATE sessions SET title = ? WHERE id = ?", (clean, self.resolve(ref)))

    def set_session_options(
        self, ref: str, *, system_prompt: str | None = None, model: str | None = None
    ) -> None:
        """Store the session's own system prompt and Claude model (None leaves one unchanged)."""
        session_id = self.resolve(ref)
        if system_prompt is not None:
            self._write(
                "UPDATE sessions SET system_prompt = ? WHERE id = ?", (system_prompt, session_id)
            )
        if model is not None:
            self._write("UPDATE sessions SET model = ? WHERE id = ?", (model.strip(), session_id))

    def set_session_sampling(
        self, ref: str, *, temperature: float | None, max_tokens: int | None
    ) -> None:
        """Store the session's own temperature and answer length (None: the configured ones)."""
        self._write(
            "UPDATE sessions SET temperature = ?, max_tokens = ? WHERE id = ?",
            (temperature, max_tokens, self.resolve(ref)),
        )

    def delete(self, ref: str) -> None:
        """Delete a session and all its turns."""
        self._write("DELETE FROM sessions WHERE id = ?", (self.resolve(ref),))

    def history(self, session_id: str, limit: int) -> list[Turn]:
        """The last `limit` finished turns of a session, oldest first, for a follow-up question."""
        if limit <= 0:
            return []
        rows = self._query(
            """SELECT * FROM turns WHERE session_id = ? AND status = 'done'
               ORDER BY position DESC LIMIT ?""",
            (session_id, limit),
        )
        return [self._turn(row).as_turn() for row in reversed(rows)]

    def search(self, text: str, limit: int = 50) -> list[SearchHit]:
        """Turns whose question or answer contains every word of `text`, best match first."""
        match = fts_query(text)
        if not match:
            return []
        rows = self._query(
            """SELECT t.session_id, s.title AS session_title, t.id AS turn_id, t.position,
                      t.question, snippet(turns_fts, -1, '', '', '…', 12) AS snippet, t.updated
               FROM turns_fts JOIN turns t ON t.id = turns_fts.rowid
               JOIN sessions s ON s.id = t.session_id
               WHERE turns_fts MATCH ? ORDER BY bm25(turns_fts), t.updated DESC LIMIT ?""",
            (match, limit),
        )
        return [SearchHit(**dict(row)) for row in rows]

    # --- turns -----------------------------------------------------------------------------------

    def begin_turn(self, session_id: str, question: str) -> int:
        """Store a question as it is sent; returns the turn id."""
        now = time.time()
        with self._transaction() as db:
            found = db.execute("SELECT title FROM sessions WHERE id = ?", (session_id,)).fetchone()
            if found is None:
                raise SessionStoreError(f"There is no session {session_id!r}.")
            position = db.execute(
                "SELECT coalesce(max(position), 0) + 1 FROM turns WHERE session_id = ?",
                (session_id,),
            ).fetchone()[0]
            cursor = db.execute(
                """INSERT INTO turns (session_id, position, question, status, owner_pid,
                                      created, updated)
                   VALUES (?, ?, ?, 'pending', ?, ?, ?)""",
                (session_id, position, question, os.getpid(), now, now),
            )
            db.execute(
                "UPDATE sessions SET updated = ?, title = ? WHERE id = ?",
                (now, found[0] or title_from_question(question), session_id),
            )
        turn_id = int(cursor.lastrowid or 0)
        self._in_flight.add(turn_id)
        return turn_id

    def regenerate_turn(self, turn_id: int) -> int:
        """Answer a stored question again: its answer so far becomes an alternative (kept, and
        exported as such) and the turn waits for the new answer. Returns the same turn id."""
        with self._lock:
            rows = self._query("SELECT * FROM turns WHERE id = ?", (turn_id,))
            if not rows:
                raise SessionStoreError(f"There is no turn {turn_id} (was its session deleted?).")
            stored = self._turn(rows[0])
            if stored.damaged:
                raise SessionStoreError(
                    f"Turn {turn_id} is damaged and cannot be regenerated: {stored.damaged}",
                    hint="Ask the question again instead.",
                )
            kept = [asdict(v) for v in stored.answers if v.answer or v.status == "done"]
            now = time.time()
            with self._transaction() as db:
                db.execute(
                    """UPDATE turns SET alternatives = ?, answer = '', documents = '[]',
                           citations = '[]', answerer = '', timings = '{}', usage = '{}',
                           model = '', status = 'pending', error = NULL, owner_pid = ?,
                           updated = ?
                       WHERE id = ?""",
                    (json.dumps(kept, ensure_ascii=False), os.getpid(), now, turn_id),
                )
                db.execute("UPDATE sessions SET updated = ? WHERE id = ?", (now, stored.session_id))
        self._in_flight.add(turn_id)
        return turn_id

    def set_documents(self, turn_id: int, passages: Sequence[Passage]) -> None:
        """Store the retrieved documents of a turn, as they arrive."""
        documents = json.dumps([asdict(p) for p in passages], ensure_ascii=False)
        self._update_turn(turn_id, "documents = ?", (documents,))

    def update_answer(self, turn_id: int, text: str) -> None:
        """Store the answer so far (one small statement: call it about once a second)."""
        self._update_turn(
            turn_id,
            "answer = ?, status = 'streaming'",
            (text,),
            only_in_flight=True,
        )

    def finish_turn(
        self,
        turn_id: int,
        answer: str,
        citations: Sequence[Citation] = (),
        answerer: str = "",
        timings: Mapping[str, Any] | None = None,
        status: Status = "done",
        error: str | None = None,
        *,
        model: str = "",
        usage: Mapping[str, Any] | None = None,
    ) -> None:
        """Store the final answer and how it ended: done, failed or cancelled; the Claude model
        that wrote it and its usage (tokens in and out, cost) when known."""
        if status not in FINAL:
            raise ValueError(
                f"finish_turn needs a final status ({', '.join(FINAL)}), not {status!r}"
            )
        self._update_turn(
            turn_id,
            "answer = ?, citations = ?, answerer = ?, timings = ?, status = ?, error = ?, "
            "model = ?, usage = ?",
            (
                answer,
                json.dumps([asdict(c) for c in citations], ensure_ascii=False),
                answerer,
                json.dumps(dict(timings or {})),
                status,
                error,
                model,
                json.dumps(dict(usage or {})),
            ),
        )
        self._in_flight.discard(turn_id)

    def _mark_interrupted(self, turn_id: int) -> None:
        self._update_turn(
            turn_id,
            "status = 'interrupted', error = ?",
            (INTERRUPTED_MESSAGE,),
            only_in_flight=True,
        )
        self._in_flight.discard(turn_id)

    def _update_turn(
        self, turn_id: int, assignments: str, params: Sequence[Any], only_in_flight: bool = False
    ) -> None:
        now = time.time()
        guard = " AND status IN ('pending', 'streaming')" if only_in_flight else ""
        with self._transaction() as db:
            changed = db.execute(
                f"UPDATE turns SET {assignments}, updated = ? WHERE id = ?{guard}",
                (*params, now, turn_id),
            ).rowcount
            db.execute(
                "UPDATE sessions SET updated = ? "
                "WHERE id = (SELECT session_id FROM turns WHERE id = ?)",
                (now, turn_id),
            )
        if not changed and not only_in_flight:
            raise SessionStoreError(f"There is no turn {turn_id} (was its session deleted?).")

    def turn(self, turn_id: int) -> SessionTurn:
        rows = self._query("SELECT * FROM turns WHERE id = ?", (turn_id,))
        if not rows:
            raise SessionStoreError(f"There is no turn {turn_id}.")
        return self._turn(rows[0])

    def _turn(self, row: sqlite3.Row) -> SessionTurn:
        """A stored row as a turn; parts that cannot be read are named in `turn.damaged`."""
        return turn_from_dict(dict(row))
