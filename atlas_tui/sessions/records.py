"""The records of the session store, and how they are rebuilt from plain dicts (shared with the
exports).

Rebuilding is tolerant: a stored field of the wrong shape (valid JSON, but not what we wrote) does
not raise; the turn comes back with what could be read and a `damaged` note saying what could not.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_args

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
    origin: str = ""  # what recorded it: "tui", "ask" ("" when not known)


@dataclass(frozen=True, slots=True)
class AnswerVersion:
    """An earlier answer to a turn's question, kept when the question was regenerated."""

    answer: str = ""
    documents: tuple[Passage, ...] = ()
    citations: tuple[Citation, ...] = ()
    answerer: str = ""
    model: str = ""
    timings: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)
    status: Status = "done"
    error: str | None = None
    created: float = 0.0


@dataclass(frozen=True, slots=True)
class SessionTurn:
    """One stored turn: its question and latest answer, with its documents and citations rebuilt.

    `alternatives` are the earlier answers to the same question (oldest first), kept by a
    regeneration; the turn's own fields are the newest answer. `damaged` says which stored fields
    could not be read (they are left empty), "" when the turn is whole.
    """

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
    model: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    alternatives: tuple[AnswerVersion, ...] = ()
    damaged: str = ""

    def as_turn(self) -> Turn:
        """The turn as conversation history for a follow-up question."""
        return Turn(
            question=self.question,
            answer=self.answer,
            passages=self.documents,
            answerer=self.answerer,
        )

    def version(self) -> AnswerVersion:
        """The turn's newest answer as an alternative (kept when it is regenerated)."""
        return AnswerVersion(
            answer=self.answer,
            documents=self.documents,
            citations=self.citations,
            answerer=self.answerer,
            model=self.model,
            timings=self.timings,
            usage=self.usage,
            status=self.status,
            error=self.error,
            created=self.updated,
        )

    @property
    def answers(self) -> tuple[AnswerVersion, ...]:
        """Every answer to the question, oldest first: the alternatives, then the newest."""
        return (*self.alternatives, self.version())


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    title: str
    created: float
    updated: float
    turns: tuple[SessionTurn, ...] = ()
    system_prompt: str = ""  # the session's own instructions to Claude ("" when none)
    model: str = ""  # the Claude model chosen for the session ("" for the configured default)
    origin: str = ""  # what recorded it: "tui", "ask" ("" when not known)
    temperature: float | None = None  # the session's own sampling temperature (None: default)
    max_tokens: int | None = None  # the session's own answer length cap (None: the config's)


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


class ShapeError(ValueError):
    """A stored value is valid JSON but not the shape atlas-tui writes."""


_KINDS: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "float | None": (int, float, type(None)),
    "int | None": (int, type(None)),
    "str | None": (str, type(None)),
}


def _known(kind: type, data: Any) -> dict[str, Any]:
    """The fields of `kind` found in `data`, each checked against its declared scalar type."""
    if not isinstance(data, Mapping):
        raise ShapeError(f"expected an object, got {type(data).__name__}")
    values: dict[str, Any] = {}
    for f in fields(kind):
        if f.name not in data:
            continue
        value = data[f.name]
        allowed = _KINDS.get(str(f.type))
        if allowed is not None and (
            not isinstance(value, allowed) or (bool not in allowed and isinstance(value, bool))
        ):
            raise ShapeError(f"{f.name} should be {f.type}, got {type(value).__name__}")
        values[f.name] = value
    return values


def passage_from_dict(data: Mapping[str, Any]) -> Passage:
    return Passage(**_known(Passage, data))


def citation_from_dict(data: Mapping[str, Any]) -> Citation:
    return Citation(**_known(Citation, data))


def _loaded(value: Any) -> Any:
    """A stored JSON column as data (a value that is already data is kept)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _items(value: Any, build: Any) -> tuple[Any, ...]:
    value = _loaded(value)
    if not isinstance(value, list):
        raise ShapeError(f"expected a list, got {type(value).__name__}")
    return tuple(build(item) for item in value)


def _mapping(value: Any) -> dict[str, Any]:
    value = _loaded(value)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ShapeError(f"expected an object, got {type(value).__name__}")
    return dict(value)


def _status(value: Any) -> Status:
    if value not in get_args(Status):
        raise ShapeError(f"unknown status {value!r}")
    return value  # type: ignore[no-any-return]


def version_from_dict(data: Mapping[str, Any]) -> AnswerVersion:
    values = _known(AnswerVersion, data)
    values["documents"] = _items(data.get("documents", []), passage_from_dict)
    values["citations"] = _items(data.get("citations", []), citation_from_dict)
    values["timings"] = _mapping(data.get("timings"))
    values["usage"] = _mapping(data.get("usage"))
    values["status"] = _status(data.get("status", "done"))
    return AnswerVersion(**values)


# Each structured part of a stored turn, rebuilt on its own so one bad part spares the others.
_PARTS: dict[str, tuple[Any, Any]] = {
    "documents": (lambda v: _items(v, passage_from_dict), ()),
    "citations": (lambda v: _items(v, citation_from_dict), ()),
    "timings": (_mapping, {}),
    "usage": (_mapping, {}),
    "alternatives": (lambda v: _items(v, version_from_dict), ()),
}


def turn_from_dict(data: Mapping[str, Any]) -> SessionTurn:
    """A stored or exported turn. JSON columns may still be text; a part that cannot be read is
    left empty and named in `damaged`, and the turn is then marked failed (never guessed)."""
    if not isinstance(data, Mapping):
        raise ShapeError(f"a turn should be an object, got {type(data).__name__}")
    problems: list[str] = []
    scalars = {k: v for k, v in data.items() if k not in _PARTS and k != "damaged"}
    try:
        values = _known(SessionTurn, scalars)
        values["status"] = _status(values.get("status", "pending"))
    except ShapeError as exc:
        problems.append(str(exc))
        values = {k: v for k, v in _known_loosely(scalars).items() if k not in ("status", "error")}
    for name, (build, empty) in _PARTS.items():
        try:
            values[name] = build(data[name]) if name in data else empty
        except (ShapeError, ValueError, TypeError) as exc:  # JSON errors are ValueErrors
            problems.append(f"{name}: {exc}")
            values[name] = empty
    if problems:
        values["damaged"] = "; ".join(problems)
        values["status"] = "failed"
        values["error"] = "This turn is damaged: " + values["damaged"]
    return SessionTurn(**_required(values))


def _known_loosely(data: Mapping[str, Any]) -> dict[str, Any]:
    """The scalar fields that have the right type, the others dropped."""
    kept: dict[str, Any] = {}
    for f in fields(SessionTurn):
        if f.name in data:
            try:
                kept.update(_known(SessionTurn, {f.name: data[f.name]}))
            except ShapeError:
                continue
    return kept


def _required(values: dict[str, Any]) -> dict[str, Any]:
    values.setdefault("id", 0)
    values.setdefault("session_id", "")
    values.setdefault("position", 0)
    values.setdefault("question", "")
    return values


def title_from_question(question: str) -> str:
    title = " ".join(question.split())
    return title if len(title) <= TITLE_LENGTH else title[: TITLE_LENGTH - 1].rstrip() + "…"
