"""Writes one question's events to the session store as they arrive.

The question is stored when it is sent, the documents when they arrive, the answer while it streams
(a background flush every `interval` seconds, so a stalled stream's text is stored too), and how it
ended. A killed process loses at most the last `interval` of text; the store marks such a turn
interrupted when it is next opened.

A flush that fails (a locked or full disk) does not stop the answer: the error is kept in
`flush_error`, passed once to `on_error` for the owner to show, and the next flush tries again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING

from atlas_tui.errors import SessionStoreError
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
        on_error: Callable[[SessionStoreError], None] | None = None,
        regenerate: int | None = None,
    ) -> None:
        """`regenerate`: the stored turn answered again (its answer becomes an alternative)
        instead of a new turn for `question`."""
        self._store = store
        self._on_error = on_error
        self._parts: list[str] = []
        self._saved = 0  # how many parts are stored
        self._lock = threading.Lock()
        self._finished = threading.Event()
        self.flush_error: SessionStoreError | None = None
        self.turn_id = (
            store.begin_turn(session_id, question)
            if regenerate is None
            else store.regenerate_turn(regenerate)
        )
        self._flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="atlas-turn-flush", daemon=True
        )
        self._flusher.start()

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def record(self, event: Event) -> None:
        if isinstance(event, Retrieved):
            self._store.set_documents(self.turn_id, event.documents)
        elif isinstance(event, Delta):
            self._parts.append(event.text)
        elif isinstance(event, Done):
            self._finish()
            self._store.finish_turn(
                self.turn_id,
                event.answer,
                event.citations,
                answerer=event.answerer,
                timings=asdict(event.timings),
                status="done",
                model=event.model,
                usage=event.usage_record(),
            )
        elif isinstance(event, Failed):
            self._finish()
            self._store.finish_turn(
                self.turn_id,
                event.partial_text or self.text,
                status="cancelled" if event.cancelled else "failed",
                error=event.error.message,
            )

    def flush(self) -> None:
        """Store the answer so far, if it grew since the last flush."""
        with self._lock:
            count = len(self._parts)
            if count != self._saved and not self._finished.is_set():
                self._store.update_answer(self.turn_id, "".join(self._parts[:count]))
                self._saved = count

    def _finish(self) -> None:
        with self._lock:
            self._finished.set()
        self._flusher.join()

    def _flush_every(self, interval: float) -> None:
        while not self._finished.wait(interval):
            try:
                self.flush()
            except SessionStoreError as error:
                # The answer carries on; the next flush tries again (a lock may have passed).
                first = self.flush_error is None
                self.flush_error = error
                if first and self._on_error is not None:
                    self._on_error(error)
