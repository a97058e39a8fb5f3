"""The worker side of streaming: batch the answer's deltas into UI updates; link citations."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

BATCH_SECONDS = 0.033  # at most ~30 UI updates a second, however fast the tokens come
MAX_HOLD_SECONDS = 0.25  # while the user types, at least 4 updates a second still
CITATION = re.compile(r"\[(\d{1,3})\]")
_OPEN_CITATION = re.compile(r"\[\d{0,3}$")  # a "[12" that the next delta may close


def link_citations(markdown: str) -> str:
    """`[n]` becomes a Markdown link to `cite:n`, which the transcript turns into a selection."""
    return CITATION.sub(r"[\[\1\]](cite:\1)", markdown)


class DeltaBatcher:
    """Collects deltas in the worker and emits them at most every `interval` seconds.

    The first delta is emitted at once (time to first token is what a person feels); later ones
    are emitted by a ticker thread, so text keeps appearing even while the stream stalls. A
    trailing, still-open `[n` is held back so a citation split across deltas is linked whole (by
    `link_citations`, where the batch is shown). Use as a context manager: leaving it stops the
    ticker and emits what is left.

    Typing comes first: while `typing()` says a key was just pressed, the ticker holds the text
    (up to `max_hold` seconds), so the frame that shows the key is not queued behind the relayout
    of a growing answer. Nothing is dropped: the held text comes with the next update.
    """

    def __init__(
        self,
        emit: Callable[[str], None],
        interval: float = BATCH_SECONDS,
        *,
        typing: Callable[[], bool] = lambda: False,
        max_hold: float = MAX_HOLD_SECONDS,
    ) -> None:
        self.interval, self.max_hold = interval, max_hold
        self._fed = False
        self._emit = emit
        self._typing = typing
        self._released_at = time.monotonic()
        self._pending = ""
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="delta-batcher", daemon=True)

    def __enter__(self) -> DeltaBatcher:
        self._ticker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the ticker and emit everything held (idempotent)."""
        self._stopped.set()
        self._ticker.join()
        self._release(final=True)

    def feed(self, text: str) -> None:
        with self._lock:
            first, self._fed = not self._fed, True
            self._pending += text
        if first:
            self._release(final=False)

    def _tick(self) -> None:
        while not self._stopped.wait(self.interval):
            held_for = time.monotonic() - self._released_at
            if held_for >= self.max_hold or not self._typing():
                self._release(final=False)

    def _release(self, *, final: bool) -> None:
        with self._lock:
            ready, held = self._pending, ""
            if not final and (match := _OPEN_CITATION.search(ready)):
                ready, held = ready[: match.start()], ready[match.start() :]
            self._pending = held
            self._released_at = time.monotonic()
            if ready:
                self._emit(ready)
