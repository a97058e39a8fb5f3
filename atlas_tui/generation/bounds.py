"""Bounds on one model answer that the client keeps itself: its length and its time.

The server is asked for at most `max_answer_tokens` tokens, and `request_timeout` bounds how long
it may stay silent; neither is kept by the server's word alone. A server that ignores max_tokens
can stream 40 MB (taken whole: 1.2 GB in memory), and one that sends a word every half second is
never silent for long, so its answer never ends. `BoundedStream` cuts an answer:

- at `max_answer_tokens * CHARS_PER_TOKEN` characters: no tokenizer averages more than a few
  characters a token, so an answer the server kept within max_tokens never comes near it;
- at `answer_timeout` seconds after it was asked for, however steadily it streams.

What arrived before the cut is kept (`partial_text`), the connection is closed (the answer is
cancelled upstream), and the error says which bound and which setting raises it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from atlas_tui.config import Settings
from atlas_tui.errors import CancelledError_, GenerationError
from atlas_tui.generation import AnswerStream, GenerationEvent, TextDelta

CHARS_PER_TOKEN = 16


class AnswerCutOff(GenerationError):
    """The answer passed a bound the client keeps (too long, or too slow in all)."""


class BoundedStream:
    """An `AnswerStream` cut off at `max_chars` characters or after `seconds`."""

    def __init__(
        self, inner: AnswerStream, *, max_chars: int, seconds: float, own_length: bool = False
    ) -> None:
        self._inner = inner
        self.max_chars = max_chars
        self.own_length = own_length  # the session's own answer length, not max_answer_tokens
        self.seconds = seconds
        self._timed_out = threading.Event()
        self._timer = threading.Timer(seconds, self._time_up)
        self._timer.daemon = True
        self._timer.start()  # from the request on: the first byte can be slow too

    def __iter__(self) -> Iterator[GenerationEvent]:
        length = 0
        try:
            for event in self._inner:
                if isinstance(event, TextDelta):
                    room = self.max_chars - length
                    if len(event.text) > room:
                        if room > 0:
                            yield TextDelta(event.text[:room], event.citations)
                        self._inner.cancel()
                        raise self._too_long()
                    length += len(event.text)
                yield event
        except CancelledError_ as cancelled:
            if self._timed_out.is_set():
                raise self._too_slow() from cancelled
            raise
        finally:
            self._timer.cancel()

    def _time_up(self) -> None:
        self._timed_out.set()
        self._inner.cancel()  # wakes the reader at once, whatever the server is doing

    def _too_long(self) -> AnswerCutOff:
        if self.own_length:
            asked, hint = "this session's answer length", "Raise the session's answer length"
        else:
            asked, hint = "max_answer_tokens", "Raise max_answer_tokens in the config file"
        return AnswerCutOff(
            f"The answer was cut off at {self.max_chars:,} characters: the server sent more than "
            f"{asked} asks for.",
            hint=f"{hint} if answers are meant to be this long.",
        )

    def _too_slow(self) -> AnswerCutOff:
        return AnswerCutOff(
            f"The answer was cut off after {self.seconds:g} s (answer_timeout): it was still "
            "streaming.",
            hint="A slow model may need a larger answer_timeout in the config file.",
        )

    def cancel(self) -> None:
        self._inner.cancel()

    def close(self) -> None:
        self._timer.cancel()
        self._inner.close()

    def __enter__(self) -> BoundedStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the inner stream's reader thread, where it has one (True once finished)."""
        join = getattr(self._inner, "join", None)
        return bool(join(timeout)) if join is not None else True


def bounded(
    stream: AnswerStream, settings: Settings, *, max_tokens: int | None = None
) -> BoundedStream:
    """`stream`, cut off by `max_tokens` (a session's own answer length; by default the settings'
    `max_answer_tokens`) and the settings' `answer_timeout`."""
    return BoundedStream(
        stream,
        max_chars=(max_tokens or settings.max_answer_tokens) * CHARS_PER_TOKEN,
        seconds=settings.answer_timeout,
        own_length=bool(max_tokens),
    )
