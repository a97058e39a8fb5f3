"""What the transcript remembers of each question, and its plain Markdown form (to copy).

A question answered more than once (ctrl+r) is one turn with several answers: `answers` holds the
finished ones, oldest first, and the record's own fields are the answer on screen (`shown`), so
copying, citations and the documents pane follow the answer the user is looking at.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from atlas_tui.query import Timings
from atlas_tui.safety import terminal_safe
from atlas_tui.sessions import AnswerVersion, SessionTurn
from atlas_tui.tui.stream import cited_numbers
from atlas_tui.types import Citation, Passage, Turn
from atlas_tui.usage import usage_text


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
    model: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    stored_id: int | None = None  # the turn's id in the session store, once recorded
    answers: list[AnswerVersion] = field(default_factory=list)  # finished answers, oldest first
    shown: int = -1  # which of `answers` is on screen; -1: the one being answered now
    attempt: int = 0  # bumped by each regeneration: events of an older attempt are stale
    damaged: str = ""

    def as_turn(self) -> Turn:
        return Turn(self.question, self.answer, self.documents, self.answerer)

    def snapshot(self) -> AnswerVersion:
        """The answer on screen, as kept among the turn's answers."""
        return AnswerVersion(
            answer=self.answer,
            documents=self.documents,
            citations=self.citations,
            answerer=self.answerer,
            model=self.model,
            timings=asdict(self.timings) if self.timings else {},
            usage=dict(self.usage),
            status=self.status if self.status in ("done", "failed", "cancelled") else "done",
            error=self.error or None,
        )

    def keep_answer(self) -> None:
        """The answer that just finished joins the turn's answers and is the one shown."""
        self.answers.append(self.snapshot())
        self.shown = len(self.answers) - 1

    def start_again(self) -> None:
        """A regeneration: a new answer is on its way; the finished ones stay to step through."""
        self.attempt += 1
        self.shown = -1
        self.answer, self.citations, self.error, self.cited = "", (), "", set()
        self.usage, self.model, self.timings = {}, "", None

    def show(self, index: int) -> None:
        """Put finished answer `index` on screen (its text, documents and citations)."""
        version = self.answers[index]
        self.shown = index
        self.answer = terminal_safe(version.answer)
        self.documents, self.citations = version.documents, version.citations
        self.status, self.error = version.status, version.error or ""
        self.answerer, self.model, self.usage = version.answerer, version.model, dict(version.usage)
        self.cited = cited_numbers(self.answer) | {c.number for c in version.citations if c.valid}

    @property
    def position(self) -> str:
        """'answer 2/3' when the question has more than one answer, else ''."""
        count = len(self.answers) + (1 if self.shown == -1 else 0)
        if count < 2:
            return ""
        index = self.shown + 1 if self.shown >= 0 else count
        return f"answer {index}/{count}"


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
    """A stored turn, as the transcript shows it when a session is reopened (newest answer)."""
    record = TurnRecord(
        turn_id,
        turn.question,
        stored_id=turn.id,
        damaged=turn.damaged,
        answers=list(turn.answers),
    )
    record.show(len(record.answers) - 1)
    record.status = turn.status  # a turn still in flight elsewhere keeps its own status
    return record


def answer_note(record: TurnRecord) -> str:
    """The note under a finished answer: who answered, its usage, and which answer it is."""
    parts = [record.answerer] if record.answerer else []
    if used := usage_text([record.usage]):
        parts.append(used)
    if record.position:
        parts.append(record.position + " (alt+←/→)")
    return " · ".join(parts)


def stored_note(record: TurnRecord) -> tuple[str, str]:
    """The note under a reopened turn, and its kind (a CSS class), from how the turn ended."""
    error = terminal_safe(record.error)
    where = f" · {record.position} (alt+←/→)" if record.position else ""
    if record.damaged:
        return f"Part of this turn could not be read: {terminal_safe(record.damaged)}", "error"
    if record.status == "done":
        return answer_note(record), ""
    if record.status == "cancelled":
        return f"Cancelled: the partial answer is kept. ctrl+r regenerates.{where}", "cancelled"
    if record.status == "interrupted":
        return f"Interrupted: {error or 'the answer did not finish.'}{where}", "cancelled"
    if record.status == "failed":
        return f"The answer failed: {error or 'no reason was recorded.'}{where}", "error"
    return "Unfinished: another atlas-tui may still be answering it.", "cancelled"


def session_usage(turns: list[TurnRecord]) -> str:
    """Tokens and cost of every answer on screen (regenerated ones included), '' when none."""
    used = usage_text([answer.usage for turn in turns for answer in turn.answers])
    return f"session: {used}" if used else ""
