"""Research sessions, kept in one SQLite file (WAL) under the user data dir.

A session is a sequence of turns: question, retrieved documents, answer, citations, answerer,
timings and status, and in research mode the rounds of searching that gathered the documents.
The question is stored when it is sent, the documents when they arrive (in research mode, with the
rounds, as each ends) and the answer while it streams, so a killed process loses at most the text
since the last update.

The schema is versioned with `PRAGMA user_version` and upgraded by the steps in `MIGRATIONS`. A file
written by a newer atlas-tui, a damaged file or a file that is not ours raises `SessionStoreError`
and is never modified. The API key is never stored. One `SessionStore` may be shared by threads.

The package is split into `records` (the dataclasses and their dict helpers), `schema` (migrations,
file checks, FTS5 queries) and `store` (`SessionStore`); everything public is re-exported here.
"""

from __future__ import annotations

from atlas_tui.sessions.records import (
    FINAL,
    IN_FLIGHT,
    TITLE_LENGTH,
    AnswerVersion,
    SearchHit,
    Session,
    SessionSummary,
    SessionTurn,
    Status,
    citation_from_dict,
    passage_from_dict,
    round_from_dict,
    title_from_question,
    turn_from_dict,
    version_from_dict,
)
from atlas_tui.sessions.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, fts_query
from atlas_tui.sessions.store import INTERRUPTED_MESSAGE, SessionStore

__all__ = [
    "APPLICATION_ID",
    "FINAL",
    "INTERRUPTED_MESSAGE",
    "IN_FLIGHT",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "TITLE_LENGTH",
    "AnswerVersion",
    "SearchHit",
    "Session",
    "SessionStore",
    "SessionSummary",
    "SessionTurn",
    "Status",
    "citation_from_dict",
    "fts_query",
    "passage_from_dict",
    "round_from_dict",
    "title_from_question",
    "turn_from_dict",
    "version_from_dict",
]
