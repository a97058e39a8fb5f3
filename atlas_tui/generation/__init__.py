"""Answer generation: prompts, Claude via the Anthropic SDK, and the offline extractive answerer.

Takes passages and a question and yields text deltas; knows nothing of LanceDB or the UI.

Contract: an answerer's `stream(question, passages, history)` returns an `AnswerStream`: iterate it
for `TextDelta`s then one `Completed`. Passage i (0-based) is document [i + 1]. Failures raise a
`GenerationError` subclass whose `partial_text` holds the text streamed so far. `cancel()` may be
called from any thread and makes the iteration stop promptly (raising `CancelledError_`), even while
the server stalls; `close()` (or leaving a `with` block) releases the connection.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from atlas_tui.config import OFFLINE_LABEL, Settings
from atlas_tui.types import Citation, Passage, Turn, Usage

EXTRACTIVE_LABEL = OFFLINE_LABEL  # the offline answerer's label, as sessions record it


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str
    citations: tuple[Citation, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Completed:
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "end_turn"
    # who answered, when a router chose it ("" leaves it to the answerer's own label)
    answerer: str = ""
    model: str = ""
    extractive: bool = False


GenerationEvent = TextDelta | Completed


class AnswerStream(Protocol):
    def __iter__(self) -> Iterator[GenerationEvent]: ...
    def cancel(self) -> None: ...
    def close(self) -> None: ...


class Answerer(Protocol):
    label: str  # shown in the status line: "Claude claude-sonnet-4-5" or "offline extractive"
    extractive: bool

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,  # this question's Claude model (None: the configured one)
        system_prompt: str | None = None,  # this session's instructions, added to the prompt
        temperature: float | None = None,  # this session's sampling temperature (None: default)
        max_tokens: int | None = None,  # this session's answer length cap (None: the config's)
    ) -> AnswerStream: ...


def make_answerer(settings: Settings, encode: Callable[[list[str]], Any] | None = None) -> Answerer:
    """With a key (or the provider forced) or endpoints configured, a router over Claude, the
    endpoints and their models, falling back to the offline answer when the one asked cannot
    be reached; else the extractive answerer.

    `encode` (texts -> L2-normalised vectors) lets the extractive answerer score by meaning.
    """
    if settings.endpoints or settings.use_claude:  # with the offline answer to fall back on
        from atlas_tui.generation.routing import RoutedAnswerer

        return RoutedAnswerer(settings, encode)
    from atlas_tui.generation.extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(settings, encode)
