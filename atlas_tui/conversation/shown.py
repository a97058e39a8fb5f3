"""Untrusted text made safe to show, once, where it enters the conversation: the documents and the
answer of each event, and what the sessions database gives back (titles, questions, answers, errors,
earlier turns' documents).

What is shown is `Clean` (atlas_tui.safety); what is stored and sent on stays as it came: the
session store and `ask --json` keep the text verbatim, a follow-up question sends the model the
documents it read, and a file is found by its real name.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, replace

from atlas_tui.errors import AtlasError
from atlas_tui.query import Delta, Done, Event, Failed, Retrieved
from atlas_tui.safety import Clean, terminal_safe
from atlas_tui.sessions import AnswerVersion, SearchHit, SessionSummary, title_from_question
from atlas_tui.types import Citation, Passage

CITATION = re.compile(r"\[(\d{1,3})\]")


def cited_numbers(answer: str) -> set[int]:
    """The document numbers an answer cites as [n]."""
    return {int(n) for n in CITATION.findall(answer)}


@dataclass(frozen=True, slots=True)
class ShownPassage:
    """A retrieved passage as a screen may show it: its text, file name, title and heading path
    cleaned; `passage` is what was retrieved, to read its file by (`passage.path`)."""

    passage: Passage
    text: Clean
    source: Clean
    title: Clean
    heading: Clean
    path: Clean

    @classmethod
    def of(cls, passage: Passage) -> ShownPassage:
        return cls(
            passage,
            terminal_safe(passage.text),
            terminal_safe(passage.source),
            terminal_safe(passage.title),
            terminal_safe(passage.heading),
            terminal_safe(passage.path),
        )

    @property
    def score(self) -> float:
        return self.passage.score

    @property
    def page(self) -> int | None:
        return self.passage.page

    @property
    def line_start(self) -> int:
        return self.passage.line_start

    @property
    def line_end(self) -> int:
        return self.passage.line_end


def shown_passages(passages: tuple[Passage, ...]) -> tuple[ShownPassage, ...]:
    return tuple(ShownPassage.of(p) for p in passages)


def shown_citation(citation: Citation) -> Citation:
    return replace(citation, cited_text=terminal_safe(citation.cited_text))


def shown_error(error: AtlasError) -> AtlasError:
    """The error with its message and hint cleaned (a server's error text is untrusted)."""
    shown = copy.copy(error)
    shown.message, shown.hint = terminal_safe(error.message), terminal_safe(error.hint)
    shown.args = (shown.message,)
    return shown


def shown_event(event: Event) -> Event:
    """The event as a person may read it; documents stay as they came (see `ShownPassage`)."""
    if isinstance(event, Delta):
        return Delta(terminal_safe(event.text), tuple(map(shown_citation, event.citations)))
    if isinstance(event, Done):
        return replace(
            event,
            answer=terminal_safe(event.answer),
            citations=tuple(map(shown_citation, event.citations)),
            answerer=terminal_safe(event.answerer),
        )
    if isinstance(event, Failed):
        return Failed(shown_error(event.error), terminal_safe(event.partial_text))
    assert isinstance(event, Retrieved)
    return event


@dataclass(frozen=True, slots=True)
class ShownAnswer:
    """One answer to a question as the screen shows it, cleaned once, with what was stored."""

    version: AnswerVersion  # as stored (verbatim): follow-ups send the model this
    text: Clean
    documents: tuple[ShownPassage, ...]
    citations: tuple[Citation, ...]
    answerer: Clean
    error: Clean

    @classmethod
    def of(cls, version: AnswerVersion) -> ShownAnswer:
        return cls(
            version,
            terminal_safe(version.answer),
            shown_passages(version.documents),
            tuple(map(shown_citation, version.citations)),
            terminal_safe(version.answerer),
            terminal_safe(version.error or ""),
        )

    @property
    def cited(self) -> set[int]:
        """The documents the answer cites: its [n] markers and its valid citations."""
        return cited_numbers(self.text) | {c.number for c in self.citations if c.valid}


def shown_title(title: str) -> Clean:
    """A session title for a screen: one line, at most TITLE_LENGTH characters, cleaned."""
    return terminal_safe(title_from_question(title))


def shown_summary(summary: SessionSummary) -> SessionSummary:
    return replace(summary, title=terminal_safe(summary.title))


def shown_hit(hit: SearchHit) -> SearchHit:
    return replace(
        hit,
        session_title=terminal_safe(hit.session_title),
        question=terminal_safe(hit.question),
        snippet=terminal_safe(hit.snippet),
    )
