"""Whether a piece of work still counts: the one token each answer and each session on screen holds.

An answer's token is *cancelled* when its work should stop (Esc, quitting, a new question): the
answer still ends in view, as cancelled. It is *retired* when its events no longer count at all: the
question was answered again, or another session is on screen. A token made with a parent (an
answer's, under its session's) is retired with it. Thread-safe: workers read it, the UI thread (or
`ask`'s main thread) cancels and retires.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class Token:
    def __init__(self, parent: Token | None = None) -> None:
        self._parent = parent
        self._cancelled = threading.Event()
        self._retired = threading.Event()
        self._lock = threading.Lock()
        self._stoppers: list[Callable[[], None]] = []

    @property
    def current(self) -> bool:
        """True until this token (or its parent) is retired: its events are still shown."""
        return not self._retired.is_set() and (self._parent is None or self._parent.current)

    @property
    def cancelled(self) -> bool:
        """True once the work should stop: cancelled, or no longer current."""
        return self._cancelled.is_set() or not self.current

    def wait_cancelled(self, timeout: float) -> bool:
        """Wait (at most `timeout` seconds) for a cancel; whether the work should stop."""
        self._cancelled.wait(timeout)
        return self.cancelled

    def cancel(self) -> None:
        """Ask the work to stop: every stopper given to `on_cancel` runs (once)."""
        with self._lock:
            self._cancelled.set()
            stoppers, self._stoppers = self._stoppers, []
        for stop in stoppers:
            stop()

    def retire(self) -> None:
        """The work no longer counts (and stops)."""
        self._retired.set()
        self.cancel()

    def on_cancel(self, stop: Callable[[], None]) -> None:
        """Run `stop` when the token is cancelled: at once if it already is."""
        with self._lock:
            if not self._cancelled.is_set():
                self._stoppers.append(stop)
                return
        stop()
