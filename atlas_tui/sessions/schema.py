"""The session database schema: its migrations, the checks made before a file is touched, and the
FTS5 query syntax.

The schema is versioned with `PRAGMA user_version` and upgraded by the steps in `MIGRATIONS`. A file
written by a newer atlas-tui, a damaged file or a file that is not ours raises `SessionStoreError`
and is never modified.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from atlas_tui.errors import SessionStoreError, session_db_error

APPLICATION_ID = 0x41544C53  # "ATLS": marks the file as an atlas-tui session database


def _fold_regenerated(db: sqlite3.Connection) -> None:
    """Version 2 stored a regenerated answer as a new turn repeating the question. Each run of
    consecutive turns of a session with the same question becomes one turn: the last, with the
    earlier answers as its alternatives (nothing is dropped; a run holding a row that cannot be
    read is left as it is). Positions are renumbered without gaps."""
    rows = db.execute(
        """SELECT id, session_id, question, documents, answer, citations, answerer, timings,
                  status, error, updated FROM turns ORDER BY session_id, position"""
    ).fetchall()
    runs: list[list[tuple[Any, ...]]] = []
    for row in rows:
        if runs and runs[-1][-1][1] == row[1] and runs[-1][-1][2] == row[2]:
            runs[-1].append(row)
        else:
            runs.append([row])
    touched: set[str] = set()
    for run in (r for r in runs if len(r) > 1):
        try:
            earlier = [
                {
                    "answer": answer,
                    "documents": json.loads(documents),
                    "citations": json.loads(citations),
                    "answerer": answerer,
                    "timings": json.loads(timings),
                    "status": status,
                    "error": error,
                    "created": updated,
                }
                for (
                    _,
                    _,
                    _,
                    documents,
                    answer,
                    citations,
                    answerer,
                    timings,
                    status,
                    error,
                    updated,
                ) in run[:-1]
            ]
        except ValueError:  # a damaged row: leave the run alone rather than guess
            continue
        last_id, session_id = run[-1][0], run[-1][1]
        db.execute(
            "UPDATE turns SET alternatives = ? WHERE id = ?",
            (json.dumps(earlier, ensure_ascii=False), last_id),
        )
        db.executemany("DELETE FROM turns WHERE id = ?", [(row[0],) for row in run[:-1]])
        touched.add(session_id)
    for session_id in touched:
        ids = db.execute(
            "SELECT id FROM turns WHERE session_id = ? ORDER BY position", (session_id,)
        ).fetchall()
        db.execute("UPDATE turns SET position = -position WHERE session_id = ?", (session_id,))
        db.executemany(
            "UPDATE turns SET position = ? WHERE id = ?",
            [(index, turn_id) for index, (turn_id,) in enumerate(ids, 1)],
        )


Step = str | Callable[[sqlite3.Connection], None]

# Each step upgrades the schema from version i to i + 1 (statements run in one transaction).
MIGRATIONS: tuple[tuple[Step, ...], ...] = (
    (  # 1: sessions and turns
        f"PRAGMA application_id = {APPLICATION_ID}",
        """CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            created REAL NOT NULL,
            updated REAL NOT NULL
        )""",
        """CREATE TABLE turns (
            id INTEGER PRIMARY KEY,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            question TEXT NOT NULL,
            documents TEXT NOT NULL DEFAULT '[]',
            answer TEXT NOT NULL DEFAULT '',
            citations TEXT NOT NULL DEFAULT '[]',
            answerer TEXT NOT NULL DEFAULT '',
            timings TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL DEFAULT 'pending',
            error TEXT,
            owner_pid INTEGER,
            created REAL NOT NULL,
            updated REAL NOT NULL,
            UNIQUE (session_id, position)
        )""",
        "CREATE INDEX turns_by_status ON turns(status)",
    ),
    (  # 2: full-text search over questions and answers, kept in sync by triggers
        """CREATE VIRTUAL TABLE turns_fts USING fts5(
            question, answer, content='turns', content_rowid='id',
            tokenize='porter unicode61 remove_diacritics 2'
        )""",
        """CREATE TRIGGER turns_fts_insert AFTER INSERT ON turns BEGIN
            INSERT INTO turns_fts(rowid, question, answer)
            VALUES (new.id, new.question, new.answer);
        END""",
        """CREATE TRIGGER turns_fts_delete AFTER DELETE ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, question, answer)
            VALUES ('delete', old.id, old.question, old.answer);
        END""",
        """CREATE TRIGGER turns_fts_update AFTER UPDATE OF question, answer ON turns BEGIN
            INSERT INTO turns_fts(turns_fts, rowid, question, answer)
            VALUES ('delete', old.id, old.question, old.answer);
            INSERT INTO turns_fts(rowid, question, answer)
            VALUES (new.id, new.question, new.answer);
        END""",
        "INSERT INTO turns_fts(turns_fts) VALUES ('rebuild')",
    ),
    (  # 3: regenerated answers kept as alternatives of one turn; model, usage; session settings
        "ALTER TABLE turns ADD COLUMN alternatives TEXT NOT NULL DEFAULT '[]'",
        "ALTER TABLE turns ADD COLUMN model TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE turns ADD COLUMN usage TEXT NOT NULL DEFAULT '{}'",
        "ALTER TABLE sessions ADD COLUMN system_prompt TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE sessions ADD COLUMN model TEXT NOT NULL DEFAULT ''",
        _fold_regenerated,
    ),
    (  # 4: which interface recorded a session ("tui", "ask"; "" for sessions from before)
        "ALTER TABLE sessions ADD COLUMN origin TEXT NOT NULL DEFAULT ''",
    ),
    (  # 5: a session's own temperature and answer length (NULL: the configured ones)
        "ALTER TABLE sessions ADD COLUMN temperature REAL",
        "ALTER TABLE sessions ADD COLUMN max_tokens INTEGER",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def check_file(db: sqlite3.Connection, path: Path) -> int:
    """Read-only checks: is this our database, one we understand, and intact? Its schema version."""
    try:
        # one read transaction: another process creating the file may commit between two
        # reads (tables there, but no application id yet: "another application's database")
        db.execute("BEGIN")
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            app_id = db.execute("PRAGMA application_id").fetchone()[0]
            tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        finally:
            db.execute("COMMIT")
    except sqlite3.OperationalError as exc:  # locked, disk full...: not a verdict on the file
        raise session_db_error(path, "read", exc) from exc
    except sqlite3.DatabaseError as exc:
        raise SessionStoreError(
            f"The session database {path} is damaged or is not a database ({exc})."
        ) from exc
    if problems != ["ok"]:
        raise SessionStoreError(
            f"The session database {path} is damaged: {'; '.join(problems[:3])}."
        )
    if app_id not in (0, APPLICATION_ID) or (app_id == 0 and tables):
        raise SessionStoreError(
            f"{path} is an SQLite database of another application, not atlas-tui sessions."
        )
    if version > SCHEMA_VERSION:
        raise SessionStoreError(
            f"The session database {path} was written by a newer atlas-tui "
            f"(schema {version}; this version understands up to {SCHEMA_VERSION}).",
            hint="Upgrade atlas-tui, or point ATLAS_SESSIONS_PATH at another file.",
        )
    return int(version)


def fts_query(text: str) -> str:
    """User text as a safe FTS5 query: every word must match, the last one as a prefix."""
    words = re.findall(r"\w+", text)
    if not words:
        return ""
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)
