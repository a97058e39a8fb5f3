"""The records of the session store, and how they are rebuilt from plain dicts (shared with the
exports)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from atlas_tui.types import Citation, Passage, Turn

Status = Literal["pending", "streaming", "done", "failed", "cancelled", "interrupted"]
IN_FLIGHT: tuple[Status, ...] = ("pending", "streaming")
FINAL: tuple[Status, ...] = ("done", "failed", "cancelled", "interrupted")

TITLE_LENGTH = 80


@dataclass(frozen=True, slots=True)
class SessionSummary:
    id: str
    title: str
    created: float  # seconds since the epoch
    updated: float
    turns: int


@dataclass(frozen=True, slots=True)
class SessionTurn:
    """One stored turn, with its documents and citations rebuilt."""

    id: int
    session_id: str
    position: int  # 1-based
    question: str
    documents: tuple[Passage, ...] = ()
    answer: str = ""
    citations: tuple[Citation, ...] = ()
    answerer: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    status: Status = "pending"
    error: str | None = None
    created: float = 0.0
    updated: float = 0.0

    def as_turn(self) -> Turn:
        """The turn as conversation history for a follow-up question."""
        return Turn(
            question=self.question,
            answer=self.answer,
            passages=self.documents,
            answerer=self.answerer,
        )


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    title: str
    created: float
    updated: float
    turns: tuple[SessionTurn, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchHit:
    """A turn whose question or answer matches a search, with a short excerpt around the match."""

    session_id: str
    session_title: str
    turn_id: int
    position: int
    question: str
    snippet: str
    updated: float


# --- (de)serialisation, shared with the exports --------------------------------------------------


def _known(kind: type, data: Mapping[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(kind)}
    return {k: v for k, v in data.items() if k in names}


def passage_from_dict(data: Mapping[str, Any]) -> Passage:
    return Passage(**_known(Passage, data))


def citation_from_dict(data: Mapping[str, Any]) -> Citation:
    return Citation(**_known(Citation, data))


def turn_from_dict(data: Mapping[str, Any]) -> SessionTurn:
    values = _known(SessionTurn, data)
    values["documents"] = tuple(passage_from_dict(d) for d in data.get("documents", ()))
    values["citations"] = tuple(citation_from_dict(c) for c in data.get("citations", ()))
    values["timings"] = dict(data.get("timings") or {})
    return SessionTurn(**values)


def title_from_question(question: str) -> str:
    title = " ".join(question.split())
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1].rstrip() + "…"
