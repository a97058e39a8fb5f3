"""The records the query client yields (`Retrieved`, `Round`, `Delta`, `Done`, `Failed`), the run
that yields them (`QueryRun`), and the loop that streams an answer's text to a callback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas_tui.errors import AtlasError, CancelledError_
from atlas_tui.generation import GenerationEvent, Round, TextDelta
from atlas_tui.types import Citation, Passage, Usage
from atlas_tui.usage import usage_record

if TYPE_CHECKING:
    from atlas_tui.generation import AnswerStream


@dataclass(frozen=True, slots=True)
class Timings:
    retrieval_ms: float = 0.0
    first_token_ms: float | None = None  # from the call to the first delta
    total_ms: float = 0.0
    tokens_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class Retrieved:
    documents: tuple[Passage, ...]
    retrieval_ms: float = 0.0


# A piece of the answer, with the citations it carries: the answerer's own event, passed through.
Delta = TextDelta
# Research mode's round of tool calls carried out (`Round`, the answerer's own event, passed through
# as well): `round` (its steps, note, tokens), `documents` (every passage gathered so far, [n] being
# documents[n - 1]), `usage` and `cost_usd` so far.


@dataclass(frozen=True, slots=True)
class Done:
    answer: str
    citations: tuple[Citation, ...]
    usage: Usage
    timings: Timings
    answerer: str
    extractive: bool = False
    model: str = ""  # the Claude model that answered ("" for the offline answerer)
    cost_usd: float | None = None  # from the model's own token counts, where its price is known
    rounds: int = 0  # research mode's rounds of searching (0: one search, as `events()` does)

    def usage_record(self) -> dict[str, Any]:
        """Tokens in and out (and the cost, when known), as stored with the turn."""
        return usage_record(self.usage, self.cost_usd)


@dataclass(frozen=True, slots=True)
class Failed:
    error: AtlasError
    partial_text: str = ""

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, CancelledError_)


Event = Retrieved | Round | Delta | Done | Failed
DeltaCallback = Callable[[str, str], None]


class QueryRun:
    """One question's event stream. Iterate it; `cancel()` may be called from any thread."""

    def __init__(self, events: Callable[[QueryRun], Iterator[Event]]) -> None:
        self._cancelled = threading.Event()
        self._answer: AnswerStream | None = None
        self._lock = threading.Lock()
        self._iterator = events(self)

    def __iter__(self) -> Iterator[Event]:
        return self._iterator

    def __next__(self) -> Event:
        return next(self._iterator)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def attach(self, answer: AnswerStream) -> None:
        with self._lock:
            self._answer = answer
            if self._cancelled.is_set():
                answer.cancel()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._answer is not None:
                self._answer.cancel()

    def close(self) -> None:
        self.cancel()
        self._iterator.close()


def stream_text(
    run: QueryRun, callback: DeltaCallback, on_round: Callable[[Round], None] | None = None
) -> str:
    """The answer of `run`, each piece given to `callback(delta, full_text)` as it comes."""
    full = ""
    for event in run:
        if isinstance(event, Delta):
            full += event.text
            callback(event.text, full)
        elif isinstance(event, Round) and on_round is not None:
            on_round(event)
        elif isinstance(event, Failed):
            raise event.error
    return full


class Prefixed:
    """An answer stream that begins with a line of ours (e.g. research mode's fallback)."""

    def __init__(self, inner: AnswerStream, line: str) -> None:
        self._inner = inner
        self._line = line

    def __iter__(self) -> Iterator[GenerationEvent]:
        yield TextDelta(self._line)
        yield from self._inner

    def cancel(self) -> None:
        self._inner.cancel()

    def close(self) -> None:
        self._inner.close()
