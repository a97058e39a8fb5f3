"""Messages between the workers and the widgets (the data flow of one question, in
docs/architecture.md).

Workers post these with `post_message` (thread-safe and cheap); widgets react to them only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message
from textual.notifications import Notification

if TYPE_CHECKING:
    from atlas_tui.conversation import Answer
    from atlas_tui.query import Event


class QuerySubmitted(Message):
    """The query box sent a question."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class AnswerEvent(Message):
    """An event of an answer, from its worker; the handler lets the answer `take` it."""

    def __init__(self, answer: Answer, event: Event) -> None:
        super().__init__()
        self.answer = answer
        self.event = event


class DocumentsRetrieved(AnswerEvent):
    """Retrieval returned, before the first token: the documents fill the pane."""


class AnswerDelta(AnswerEvent):
    """A batch of answer text (a `Delta` of the text streamed since the last one)."""


class AnswerDone(AnswerEvent):
    """The answer finished (`Done`)."""


class AnswerFailed(AnswerEvent):
    """The answer stopped (`Failed`): an error, or the user cancelled."""


class ClientReady(Message):
    """The client warmed up (model loaded, index opened), or found a problem with the index."""

    def __init__(
        self, answerer: str, extractive: bool, index_summary: str, problem: str = ""
    ) -> None:
        super().__init__()
        self.answerer = answerer
        self.extractive = extractive
        self.index_summary = index_summary
        self.problem = problem  # what the user should know, e.g. the index is missing or empty


class IngestProgress(Message):
    def __init__(self, done: int, total: int | None, label: str) -> None:
        super().__init__()
        self.done = done
        self.total = total
        self.label = label


class IngestFinished(Message):
    def __init__(
        self, summary: str, skipped: tuple[tuple[str, str], ...], ok: bool, index: str = ""
    ) -> None:
        super().__init__()
        self.summary = summary
        self.index = index  # the index's new size, for the status line
        self.skipped = skipped  # (path, reason) pairs, as the CLI's report lists them
        self.ok = ok


class IndexSized(Message):
    """The index's size, measured again after an answer (others may ingest into it)."""

    def __init__(self, index: str) -> None:
        super().__init__()
        self.index = index


class CitationSelected(Message):
    """A citation [n] of an answer was picked (clicked: `focus`, or stepped to with ] and [):
    highlight document n of that turn."""

    def __init__(self, turn_id: int, number: int, *, focus: bool) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.number = number
        self.focus = focus


class AnswerShown(Message):
    """Another of a turn's answers was put on screen (< and >): its documents follow."""

    def __init__(self, turn_id: int) -> None:
        super().__init__()
        self.turn_id = turn_id


class SessionChanged(Message):
    """The research session on screen was created or renamed: show its title."""


class SessionProblem(Message):
    """The session store failed while recording: say so once, the answer goes on."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class Flash(Message):
    """A notice for the main screen: one line in the status line if it fits, else a toast."""

    def __init__(self, notification: Notification) -> None:
        super().__init__()
        self.notification = notification
