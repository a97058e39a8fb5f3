"""Who answers a question: the endpoint whose model was chosen, else Claude (with a key), else the
first endpoint, else the offline answerer (`Settings.route`).

An endpoint's answerer is made once and kept, so what it learnt about its server (that it wants
the compatible form) lasts. Claude or an endpoint that cannot be reached before it says anything
(a connection that fails or times out before any stream event arrived: `APIConnectionError`,
`APITimeoutError`) is not an error for the user: the answer says so in one line and the offline
answer follows, labelled as offline, for that question only; the next question tries again. A
stream that breaks after it began (`StreamInterruptedError`) keeps its partial answer instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint
from atlas_tui.generation import (
    EXTRACTIVE_LABEL,
    Answerer,
    AnswerStream,
    Completed,
    GenerationEvent,
    TextDelta,
)
from atlas_tui.types import Passage, Turn

_UNREACHABLE = (errors.APIConnectionError, errors.APITimeoutError)


class RoutedAnswerer:
    """An `Answerer` over Claude, the configured endpoints and the offline answerer."""

    def __init__(self, settings: Settings, encode: Callable[[list[str]], Any] | None) -> None:
        self.settings = settings
        self._encode = encode
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.Lock()
        self.extractive = settings.answers_offline
        self.label = self.label_for(None)

    def label_for(self, model: str | None) -> str:
        return self.settings.label_for(model)

    def _answerer(self, key: str, make: Callable[[], Answerer]) -> Answerer:
        with self._lock:
            if key not in self._answerers:
                self._answerers[key] = make()
            return self._answerers[key]

    def _offline(self) -> Answerer:
        from atlas_tui.generation.extractive import ExtractiveAnswerer

        return self._answerer("", lambda: ExtractiveAnswerer(self.settings, self._encode))

    def _claude(self, endpoint: Endpoint | None, model: str) -> Answerer:
        from atlas_tui.generation.anthropic import ClaudeAnswerer

        settings = self.settings
        if endpoint is not None and endpoint.is_local:
            # A local server has no rate limit or overload to wait out: one attempt, so that a
            # server that is down falls back to the offline answer at once.
            settings = replace(settings, max_retries=0)
        key = f"endpoint:{endpoint.name}" if endpoint else "claude"
        return self._answerer(key, lambda: ClaudeAnswerer(settings, endpoint, model))

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
    ) -> AnswerStream:
        endpoint, chosen = self.settings.route(model)
        if endpoint is None and not self.settings.use_claude:
            return Labelled(self._offline().stream(question, passages, history), EXTRACTIVE_LABEL)
        answerer = self._claude(endpoint, chosen)
        answer = answerer.stream(
            question,
            passages,
            history,
            model=chosen,
            system_prompt=system_prompt,
            temperature=temperature,
            max_tokens=max_tokens,
        )
        labelled = Labelled(answer, self.label_for(model), chosen)

        def offline() -> AnswerStream:
            stream = self._offline().stream(question, passages, history)
            return Labelled(stream, EXTRACTIVE_LABEL, extractive=True)

        return FallbackStream(labelled, offline, endpoint.display_name if endpoint else "Claude")


class Labelled:
    """A stream whose `Completed` names who answered (and with which model)."""

    def __init__(
        self, inner: AnswerStream, label: str, model: str = "", *, extractive: bool = False
    ) -> None:
        self._inner = inner
        self._completed = Completed(answerer=label, model=model, extractive=extractive)

    def __iter__(self) -> Iterator[GenerationEvent]:
        for event in self._inner:
            if isinstance(event, Completed):
                event = replace(
                    event,
                    answerer=self._completed.answerer,
                    model=self._completed.model,
                    extractive=self._completed.extractive,
                )
            yield event

    def cancel(self) -> None:
        self._inner.cancel()

    def close(self) -> None:
        self._inner.close()


class FallbackStream:
    """Claude's or an endpoint's answer; if the server cannot be reached before any text, a line
    saying so and the offline answer instead."""

    def __init__(
        self, primary: AnswerStream, fallback: Callable[[], AnswerStream], name: str
    ) -> None:
        """`name`: who was asked, as the line says it ("Claude", "Ollama")."""
        self._current = primary
        self._fallback = fallback
        self._name = name
        self._lock = threading.Lock()
        self._cancelled = False

    def __iter__(self) -> Iterator[GenerationEvent]:
        text = ""
        try:
            for event in self._current:
                if isinstance(event, TextDelta):
                    text += event.text
                yield event
            return
        except _UNREACHABLE as error:
            if text or self._cancelled:
                raise
            notice = self.notice(error)
        with self._lock:
            if self._cancelled:
                raise errors.CancelledError_("Answer cancelled.")
            self._current = self._fallback()
        yield TextDelta(notice)
        try:
            yield from self._current
        except errors.GenerationError as error:
            error.partial_text = notice + error.partial_text
            raise

    def notice(self, error: errors.GenerationError) -> str:
        name = self._name
        return (
            f"*{name} is not answering ({error.message.rstrip('.')}), so this is the offline "
            "answer instead.*\n\n"
        )

    def cancel(self) -> None:
        with self._lock:
            self._cancelled = True
            current = self._current
        current.cancel()

    def close(self) -> None:
        with self._lock:
            current = self._current
        current.close()
