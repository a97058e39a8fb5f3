"""Messages between the workers and the widgets (the data flow of one question, in DESIGN.md).

Workers post these with `post_message` (thread-safe and cheap); widgets react to them only.
"""

from __future__ import annotations

from textual.message import Message

from atlas_tui.query import Done, Failed
from atlas_tui.types import Passage


class QuerySubmitted(Message):
    """The query box sent a question."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class DocumentsRetrieved(Message):
    """Retrieval returned, before the first token: the documents fill the pane."""

    def __init__(self, turn_id: int, documents: tuple[Passage, ...], retrieval_ms: float) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.documents = documents
        self.retrieval_ms = retrieval_ms


class AnswerDelta(Message):
    """A batch of answer text (already cleaned of control characters)."""

    def __init__(self, turn_id: int, text: str) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.text = text


class AnswerDone(Message):
    def __init__(self, turn_id: int, done: Done) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.done = done


class AnswerFailed(Message):
    """The answer stopped: an error, or the user cancelled (`failed.cancelled`)."""

    def __init__(self, turn_id: int, failed: Failed) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.failed = failed


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
    """A citation [n] in an answer was clicked: highlight document n of that turn."""

    def __init__(self, turn_id: int, number: int) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.number = number


class SessionChanged(Message):
    """The research session on screen was created or renamed: show its title."""


class SessionProblem(Message):
    """The session store failed while recording: say so once, the answer goes on."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
