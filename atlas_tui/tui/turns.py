"""What the transcript remembers of each question, and its plain Markdown form (to copy)."""

from __future__ import annotations

from dataclasses import dataclass, field

from atlas_tui.query import Timings
from atlas_tui.safety import terminal_safe
from atlas_tui.sessions import SessionTurn
from atlas_tui.tui.stream import cited_numbers
from atlas_tui.types import Citation, Passage, Turn


@dataclass
class TurnRecord:
    turn_id: int
    question: str
    documents: tuple[Passage, ...] = ()
    answer: str = ""
    citations: tuple[Citation, ...] = ()
    status: str = "pending"  # pending | streaming | done | cancelled | failed | interrupted
    error: str = ""
    answerer: str = ""
    timings: Timings | None = None
    cited: set[int] = field(default_factory=set)

    def as_turn(self) -> Turn:
        return Turn(self.question, self.answer, self.documents, self.answerer)


def source_line(number: int, passage: Passage) -> str:
    parts = [f"[{number}] {passage.source}"]
    if passage.heading:
        parts.append(passage.heading)
    if passage.page is not None:
        parts.append(f"p. {passage.page}")
    return " — ".join(parts)


def turn_markdown(turn: TurnRecord) -> str:
    """The answer with its sources, as a person would paste it elsewhere."""
    lines = [f"## {turn.question}", "", turn.answer or "_(no answer)_"]
    if turn.status in ("cancelled", "failed"):
        lines += ["", f"_({turn.status}{': ' + turn.error if turn.error else ''})_"]
    if turn.documents:
        lines += ["", "Sources:", ""]
        lines += [f"- {source_line(i, p)}" for i, p in enumerate(turn.documents, 1)]
    return "\n".join(lines) + "\n"


def record_from_stored(turn: SessionTurn, turn_id: int) -> TurnRecord:
    """A stored turn, as the transcript shows it when a session is reopened."""
    answer = terminal_safe(turn.answer)
    return TurnRecord(
        turn_id,
        turn.question,
        documents=turn.documents,
        answer=answer,
        citations=turn.citations,
        status=turn.status,
        error=turn.error or "",
        answerer=turn.answerer,
        cited=cited_numbers(answer) | {c.number for c in turn.citations},
    )


def stored_note(record: TurnRecord) -> tuple[str, str]:
    """The note under a reopened turn, and its kind (a CSS class), from how the turn ended."""
    error = terminal_safe(record.error)
    if record.status == "done":
        return record.answerer, ""
    if record.status == "cancelled":
        return "Cancelled: the partial answer is kept. ctrl+r regenerates.", "cancelled"
    if record.status == "interrupted":
        return f"Interrupted: {error or 'the answer did not finish.'}", "cancelled"
    if record.status == "failed":
        return f"The answer failed: {error or 'no reason was recorded.'}", "error"
    return "Unfinished: another atlas-tui may still be answering it.", "cancelled"
