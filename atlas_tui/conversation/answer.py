"""One answer being written: its events run in a worker, recorded as they pass, and taken in by the
turn on the thread that shows them.

`Answer.events()` (a worker thread, or `ask`'s main thread) waits for the client if asked to, runs
the question through `AtlasQuery.events()` and records every event in the session store, verbatim,
whatever happens to the screen meanwhile. `Answer.take(event)` (the thread that shows the answer)
updates the turn and returns the event cleaned for a terminal. The answer's `token` says whether it
should stop (`cancel`) and whether its events still count (`current`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.conversation.shown import ShownAnswer, shown_event
from atlas_tui.conversation.token import Token
from atlas_tui.conversation.turns import ConversationTurn
from atlas_tui.errors import AtlasError, CancelledError_, SessionStoreError
from atlas_tui.query import Delta, Done, Event, Failed, Retrieved
from atlas_tui.sessions import AnswerVersion

if TYPE_CHECKING:
    from atlas_tui.conversation.conversation import Conversation, SessionRef

CANCELLED_BEFORE_START = "Cancelled before the answer started."
WAIT_STEP_S = 0.05  # how often a wait for the client looks again for a cancel

log = logging.getLogger(__name__)


class Recording:
    """Records one answer's events; after a store failure it says so once and stops."""

    def __init__(self, recorder: TurnRecorder | None, on_problem: Callable[[str], None]) -> None:
        self._recorder = recorder
        self._on_problem = on_problem
        self.ended = False  # a Done or Failed was recorded

    def record(self, event: Event) -> None:
        self.ended = self.ended or isinstance(event, Done | Failed)
        if self._recorder is None:
            return
        try:
            self._recorder.record(event)
        except SessionStoreError as error:
            self._recorder = None
            self._on_problem(f"This answer could not be saved: {error.describe()}")


class Answer:
    def __init__(
        self,
        conversation: Conversation,
        turn: ConversationTurn,
        session: SessionRef,
        knobs: dict[str, Any],
        *,
        regenerating: bool,
    ) -> None:
        self.turn = turn
        self.session = session  # the session the question was asked in (ctrl+n cannot move it)
        self.knobs = knobs  # fixed when asked: history, model, system prompt, retrieval
        self.regenerating = regenerating
        self.token = Token(session.token)
        self._conversation = conversation

    @property
    def current(self) -> bool:
        """Whether this answer's events are still shown (not answered again, same session)."""
        return self.token.current

    def cancel(self) -> None:
        self.token.cancel()

    # --- the worker's side ----------------------------------------------------------------------

    def events(self, ready: threading.Event | None = None) -> Generator[Event, None, None]:
        """The answer's events, recorded as they pass. With `ready`, first wait for it (the
        client warming up) unless the answer is cancelled meanwhile. Never raises for a failure
        of the back ends: an unexpected one ends the answer as a `Failed` saying so. Interrupted
        (Ctrl+C) or left unread, the answer is stored as cancelled."""
        conversation = self._conversation
        if self.regenerating:
            conversation.wait_idle()  # the answer it replaces is stored first
        with conversation.recording(self) as recording:
            if ready is not None and not self._wait(ready):
                failed = Failed(CancelledError_(CANCELLED_BEFORE_START))
                recording.record(failed)
                yield failed
                return
            run = conversation.client.events(self.turn.asked, **self.knobs)
            self.token.on_cancel(run.cancel)
            parts: list[str] = []
            try:
                for event in run:
                    if isinstance(event, Delta):
                        parts.append(event.text)
                    recording.record(event)
                    yield event
            except Exception as error:  # a bug or an unexpected back-end failure: said in place
                log.exception("answering failed")
                unexpected = AtlasError(f"Unexpected error while answering: {error}")
                failed = Failed(unexpected, "".join(parts))
                recording.record(failed)
                yield failed
            except BaseException:  # Ctrl+C, or the reader stopped reading
                if not recording.ended:
                    recording.record(Failed(CancelledError_("Cancelled."), "".join(parts)))
                raise
            finally:
                run.close()

    def _wait(self, ready: threading.Event) -> bool:
        while not ready.is_set():
            if self.token.wait_cancelled(WAIT_STEP_S):
                return False
        return True

    # --- the showing side -----------------------------------------------------------------------

    def take(self, event: Event) -> Event:
        """The turn takes the event in (call on the thread that shows the turn, in order);
        returns the event as it may be shown. A stale answer's events change nothing."""
        shown = shown_event(event)
        if not self.current:
            return shown
        turn = self.turn
        if isinstance(event, Retrieved):
            turn.live = ShownAnswer.of(AnswerVersion(documents=event.documents, status="streaming"))
        elif isinstance(event, Done):
            version = AnswerVersion(
                answer=event.answer,
                documents=turn.live.version.documents,
                citations=event.citations,
                answerer=event.answerer,
                model=event.model,
                timings=asdict(event.timings),
                usage=event.usage_record(),
                status="done",
            )
            self._conversation.keep(turn, version, regenerated=self.regenerating)
        elif isinstance(event, Failed):
            version = AnswerVersion(
                answer=event.partial_text,
                documents=turn.live.version.documents,
                status="cancelled" if event.cancelled else "failed",
                error=None if event.cancelled else event.error.message,
            )
            self._conversation.keep(turn, version, regenerated=self.regenerating)
        return shown
