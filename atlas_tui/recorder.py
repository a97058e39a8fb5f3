"""Writes one question's events to the session store as they arrive.

The question is stored when it is sent, the documents when they arrive, the answer while it streams
(at most `interval` seconds apart), and how it ended. A killed process loses at most the last
`interval` of text; the store marks such a turn interrupted when it is next opened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from atlas_tui.query import Delta, Done, Event, Failed, Retrieved

if TYPE_CHECKING:
    from atlas_tui.sessions import SessionStore


class TurnRecorder:
    def __init__(
        self,
        store: SessionStore,
        session_id: str,
        question: str,
        *,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._interval = interval
        self._clock = clock
        self._parts: list[str] = []
        self._saved_at = clock()
        self._unsaved = False
        self.turn_id = store.begin_turn(session_id, question)

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def record(self, event: Event) -> None:
        if isinstance(event, Retrieved):
            self._store.set_documents(self.turn_id, event.documents)
        elif isinstance(event, Delta):
            self._parts.append(event.text)
            self._unsaved = True
            if self._clock() - self._saved_at >= self._interval:
                self.flush()
        elif isinstance(event, Done):
            self._store.finish_turn(
                self.turn_id,
                event.answer,
                event.citations,
                answerer=event.answerer,
                timings=asdict(event.timings),
                status="done",
            )
            self._unsaved = False
        elif isinstance(event, Failed):
            self._store.finish_turn(
                self.turn_id,
                event.partial_text or self.text,
                answerer="",
                status="cancelled" if event.cancelled else "failed",
                error=event.error.message,
            )
            self._unsaved = False

    def flush(self) -> None:
        """Store the answer so far (also called on a timer while a stream stalls)."""
        if self._unsaved:
            self._store.update_answer(self.turn_id, self.text)
            self._unsaved = False
        self._saved_at = self._clock()
