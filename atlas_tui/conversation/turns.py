"""A question of the conversation and its answers, as the screen shows them.

A question answered more than once (regenerated) is one turn with several answers: `answers` holds
the finished ones, oldest first; `shown` says which one is on screen (-1: the answer being written,
`live`). The turn's `answer`, `documents`, `citations` and `status` are those of the answer shown,
so copying, citations and the documents pane follow the answer the user is looking at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from atlas_tui.conversation.shown import ShownAnswer, ShownPassage
from atlas_tui.safety import Clean, terminal_safe
from atlas_tui.sessions import AnswerVersion, SessionTurn
from atlas_tui.types import Citation, Turn
from atlas_tui.usage import usage_text

NO_TEXT = Clean("")
PENDING = ShownAnswer.of(AnswerVersion(status="pending"))


@dataclass
class ConversationTurn:
    id: int  # its place among the turns shown in this run (1, 2, ...), never reused
    asked: str  # the question as typed (verbatim: stored, and sent with follow-ups)
    answers: list[ShownAnswer] = field(default_factory=list)  # finished, oldest first
    shown: int = -1  # which of `answers` is on screen; -1: `live`
    live: ShownAnswer = PENDING  # the answer being written: its documents, how far it got
    stored_id: int | None = None  # the turn's id in the session store, once recorded
    damaged: Clean = NO_TEXT  # what of the stored turn could not be read
    question: Clean = field(init=False)  # `asked`, as the screen shows it

    def __post_init__(self) -> None:
        self.question = terminal_safe(self.asked)

    @property
    def on_screen(self) -> ShownAnswer:
        return self.answers[self.shown] if self.shown >= 0 else self.live

    @property
    def answer(self) -> Clean:
        return self.on_screen.text

    @property
    def documents(self) -> tuple[ShownPassage, ...]:
        return self.on_screen.documents

    @property
    def citations(self) -> tuple[Citation, ...]:
        return self.on_screen.citations

    @property
    def cited(self) -> set[int]:
        return self.on_screen.cited

    @property
    def status(self) -> str:
        """pending | streaming | done | cancelled | failed | interrupted"""
        return self.on_screen.version.status

    @property
    def error(self) -> Clean:
        return self.on_screen.error

    @property
    def answerer(self) -> Clean:
        return self.on_screen.answerer

    @property
    def model(self) -> str:
        return self.on_screen.version.model

    @property
    def usage(self) -> dict[str, Any]:
        return self.on_screen.version.usage

    @property
    def finished(self) -> bool:
        return self.status not in ("pending", "streaming")

    @property
    def position(self) -> str:
        """'answer 2/3' when the question has more than one answer, else ''."""
        count = len(self.answers) + (1 if self.shown == -1 else 0)
        if count < 2:
            return ""
        index = self.shown + 1 if self.shown >= 0 else count
        return f"answer {index}/{count}"

    def as_turn(self) -> Turn:
        """The turn as conversation history for a follow-up (what the model saw and said)."""
        version = self.on_screen.version
        return Turn(self.asked, version.answer, version.documents, version.answerer)

    def show(self, index: int) -> None:
        """Put finished answer `index` on screen."""
        self.shown = index

    def start_again(self) -> None:
        """A regeneration: a new answer is on its way; the finished ones stay to step through."""
        self.shown, self.live = -1, PENDING

    def keep(self, answer: ShownAnswer, earlier: list[ShownAnswer] | None = None) -> None:
        """The answer that just ended joins the turn's answers and is shown; `earlier` (the
        store's account of the answers before it) replaces the ones kept here."""
        self.answers = [*(self.answers if earlier is None else earlier), answer]
        self.shown, self.live = len(self.answers) - 1, PENDING

    @classmethod
    def from_stored(cls, turn: SessionTurn, turn_id: int) -> ConversationTurn:
        """A stored turn, as a reopened session shows it (its newest answer)."""
        answers = [ShownAnswer.of(version) for version in turn.answers]
        return cls(
            turn_id,
            turn.question,
            answers,
            len(answers) - 1,
            stored_id=turn.id,
            damaged=terminal_safe(turn.damaged),
        )


def source_line(number: int, passage: ShownPassage) -> str:
    parts = [f"[{number}] {passage.source}"]
    if passage.heading:
        parts.append(passage.heading)
    if passage.page is not None:
        parts.append(f"p. {passage.page}")
    return " — ".join(parts)


def turn_markdown(turn: ConversationTurn) -> str:
    """The question and the answer shown, as a person would paste them elsewhere, with the
    sources the answer cites (by their numbers)."""
    lines = [f"## {turn.question}", "", turn.answer or "_(no answer)_"]
    if turn.status in ("cancelled", "failed"):
        lines += ["", f"_({turn.status}{': ' + turn.error if turn.error else ''})_"]
    cited = [n for n in sorted(turn.cited) if 1 <= n <= len(turn.documents)]
    if cited:
        lines += ["", "Sources:", ""]
        lines += [f"- {source_line(n, turn.documents[n - 1])}" for n in cited]
    return "\n".join(lines) + "\n"


def usage_of(turns: list[ConversationTurn]) -> str:
    """Tokens and cost of every answer (regenerated ones included), '' when none."""
    return usage_text([answer.version.usage for turn in turns for answer in turn.answers])
