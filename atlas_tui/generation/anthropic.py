"""Answers from Claude through Anthropic's SDK, streamed, with the passages as cited search results.

Each answer is read on a private thread that feeds a queue; the caller iterates the queue. So
`cancel()` is prompt whatever the request is doing: connecting, waiting out an SDK retry, or blocked
on a server that went silent. Cancelling also shuts the socket down (closing the response alone
would not wake a read blocked on a silent socket), which ends the thread and tells the server to
stop, and a middleware keeps the SDK from starting another attempt once cancelled.

Citations arrive as `citations_delta` events naming a search result by index. Each becomes a
`Citation` for the document [n] the user sees, checked against that passage's text. The markers
are written when the cited text block ends (`content_block_stop`): the API sends a block's
citations before its text, so a marker placed on arrival would precede the claim it supports; at the
block's end it follows the claim, like a footnote. Markers the model already wrote are not doubled.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import queue
import re
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import anthropic
import httpx2

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.generation import Completed, GenerationEvent, TextDelta
from atlas_tui.generation.prompts import (
    NumberedPassage,
    build_messages,
    load_system_prompt,
    select_passages,
)
from atlas_tui.types import Citation, Passage, Turn, Usage

CONNECT_TIMEOUT_S = 10.0

_CANCELLED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "atlas_answer_cancelled", default=None
)
_END = object()  # the pump has nothing more to say
_WAKE = object()  # cancel() wakes the reader with this


class _Cancelled(Exception):
    """Raised by the middleware to stop the SDK from starting an attempt after a cancel."""


class _TimedOut(Exception):
    """A timed-out attempt, raised instead of the SDK's own error so that it is not retried."""


class _StopWhenCancelled(anthropic.Middleware):
    """Starts no attempt after a cancel, and retries no attempt that timed out.

    The SDK retries timeouts like refused connections; but `request_timeout` is how long the user
    agreed to wait for a silent server, and two retries made it three times that. A timeout is not
    retried (refused or reset connections, 429, 529 and 5xx still are, with the SDK's backoff).
    """

    def handle(self, request: anthropic.APIRequest, call_next: Any) -> Any:
        cancelled = _CANCELLED.get()
        if cancelled is not None and cancelled.is_set():
            raise _Cancelled
        try:
            return call_next(request)
        except anthropic.APITimeoutError:
            raise _TimedOut from None  # no __cause__: the SDK retries what a cause says it may


def make_client(settings: Settings) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=settings.api_key or None,
        base_url=settings.base_url or None,
        max_retries=settings.max_retries,
        timeout=anthropic.Timeout(
            settings.request_timeout, connect=min(CONNECT_TIMEOUT_S, settings.request_timeout)
        ),
        middleware=[_StopWhenCancelled()],
    )


class ClaudeAnswerer:
    """Claude, given the passages as `search_result` blocks with citations enabled."""

    extractive = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.label = f"Claude {settings.model}"
        self.system_prompt = load_system_prompt(settings)
        self.client = make_client(settings)
        # Without any credential (SKIP_API_KEY_CHECK, e.g. behind a gateway that adds its own),
        # say so to the SDK rather than have it refuse to send the request.
        no_credential = (
            self.client.api_key is None
            and self.client.auth_token is None
            and self.client.credentials is None
        )
        self._extra_headers: dict[str, Any] = (
            {"Authorization": anthropic.omit} if no_credential else {}
        )

    def request(
        self,
        question: str,
        chosen: Sequence[NumberedPassage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for this question (without `stream`).

        `system_prompt` (a session's own instructions) follows the configured system prompt,
        which keeps the rules on citing and on treating documents as data."""
        system = self.system_prompt
        if system_prompt and system_prompt.strip():
            system += "\n\nThe user's instructions for this research session:\n" + system_prompt
        return {
            "model": model or self.settings.model,
            "max_tokens": self.settings.max_answer_tokens,
            "system": system,
            "messages": build_messages(question, chosen, history, self.settings.history_turns),
            "extra_headers": self._extra_headers,
        }

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,
        system_prompt: str | None = None,
    ) -> ClaudeStream:
        chosen = select_passages(passages, self.settings.context_token_budget)
        request = self.request(question, chosen, history, model=model, system_prompt=system_prompt)
        return ClaudeStream(self, request, chosen)

    def close(self) -> None:
        self.client.close()


class ClaudeStream:
    """One answer being streamed. Iterate it once; `cancel()` from any thread."""

    def __init__(
        self, answerer: ClaudeAnswerer, request: dict[str, Any], chosen: Sequence[NumberedPassage]
    ) -> None:
        self._answerer = answerer
        self._request = request
        self._translator = _Translator(chosen)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self._thread = threading.Thread(target=self._pump, name="atlas-claude-stream", daemon=True)
        self._text = ""  # what the reader was given so far
        self._started = False

    # --- the reader's side ---------------------------------------------------------------------

    def __iter__(self) -> Iterator[GenerationEvent]:
        if self._started:
            raise RuntimeError("An answer stream can be iterated only once.")
        self._started = True
        if not self._cancelled.is_set():
            self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if self._cancelled.is_set():
                    raise errors.CancelledError_("Answer cancelled.", partial_text=self._text)
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, TextDelta):
                    self._text += item.text
                yield item  # type: ignore[misc]  # the pump only queues events besides the above
        finally:
            self.close()

    def cancel(self) -> None:
        self._cancelled.set()
        self._queue.put(_WAKE)
        self._hang_up()

    def close(self) -> None:
        """Release the connection (a stream still running is stopped)."""
        if self._thread.is_alive():
            self.cancel()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the background reader to finish; True once it has (or never started)."""
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    def __enter__(self) -> ClaudeStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the pump thread -----------------------------------------------------------------------

    def _pump(self) -> None:
        _CANCELLED.set(self._cancelled)
        translator = self._translator
        try:
            with self._answerer.client.messages.create(**self._request, stream=True) as events:
                self._attach(events.response)
                for event in events:
                    for item in translator.feed(event):
                        self._queue.put(item)
                if not translator.stopped:
                    raise errors.StreamInterruptedError(
                        "The answer stopped before it was complete (the stream ended without "
                        "message_stop)."
                    )
        except BaseException as exc:  # every failure must reach the reader, who waits on the queue
            self._queue.put(self._failure(exc))
        self._queue.put(_END)

    def _failure(self, exc: BaseException) -> BaseException:
        if self._cancelled.is_set() or isinstance(exc, _Cancelled):
            return errors.CancelledError_("Answer cancelled.", partial_text=self._translator.text)
        error = exc if isinstance(exc, errors.GenerationError) else _generation_error(exc, self)
        if error is None:
            return exc  # not a failure of the API or the network: a bug, let it surface as it is
        error.partial_text = self._translator.text
        if error is not exc:
            error.__cause__ = exc
        return error

    def _attach(self, response: httpx2.Response) -> None:
        with self._lock:
            self._response = response
        if self._cancelled.is_set():
            self._hang_up()

    def _hang_up(self) -> None:
        """Shut the socket down: wakes a read blocked on a silent server, unlike closing."""
        with self._lock:
            response = self._response
        if response is None:
            return
        network = response.extensions.get("network_stream")
        sock = network.get_extra_info("socket") if network is not None else None
        if isinstance(sock, socket.socket):
            # OSError here means the socket is already closed: nothing left to hang up.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    @property
    def settings(self) -> Settings:
        return self._answerer.settings


class _Translator:
    """Turns the SDK's raw stream events into our events, citations mapped to documents [n]."""

    def __init__(self, chosen: Sequence[NumberedPassage]) -> None:
        self._chosen = list(chosen)
        self.text = ""
        self.stopped = False
        self._block_text = ""
        self._block_citations: list[Citation] = []
        self._input_tokens = 0
        self._output_tokens = 0
        self._stop_reason = "end_turn"

    def feed(self, event: Any) -> list[GenerationEvent]:
        kind = event.type
        if kind == "message_start":
            self._input_tokens = event.message.usage.input_tokens or 0
            self._output_tokens = event.message.usage.output_tokens or 0
        elif kind == "content_block_start":
            self._block_text, self._block_citations = "", []
            block = event.content_block
            if block.type == "text" and block.text:
                return [self._text_delta(block.text)]
        elif kind == "content_block_delta":
            return self._delta(event.delta)
        elif kind == "content_block_stop":
            return self._markers()
        elif kind == "message_delta":
            self._stop_reason = event.delta.stop_reason or self._stop_reason
            self._output_tokens = event.usage.output_tokens or self._output_tokens
            self._input_tokens = event.usage.input_tokens or self._input_tokens
        elif kind == "message_stop":
            self.stopped = True
            usage = Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens)
            return [Completed(usage=usage, stop_reason=self._stop_reason)]
        return []

    def _delta(self, delta: Any) -> list[GenerationEvent]:
        if delta.type == "text_delta" and delta.text:
            return [self._text_delta(delta.text)]
        if delta.type == "citations_delta" and delta.citation.type == "search_result_location":
            self._block_citations.append(self._citation(delta.citation))
        return []

    def _text_delta(self, text: str, citations: tuple[Citation, ...] = ()) -> TextDelta:
        self.text += text
        self._block_text += text
        return TextDelta(text, citations)

    def _citation(self, location: Any) -> Citation:
        index = location.search_result_index
        cited = location.cited_text or ""
        if not 0 <= index < len(self._chosen):
            return Citation(number=index + 1, chunk_id="", cited_text=cited, valid=False)
        numbered = self._chosen[index]
        valid = bool(_normalise(cited)) and _normalise(cited) in _normalise(numbered.passage.text)
        return Citation(numbered.number, numbered.passage.chunk_id, cited, valid)

    def _markers(self) -> list[GenerationEvent]:
        if not self._block_citations:
            return []
        citations = tuple(dict.fromkeys(self._block_citations))
        written = {int(n) for n in re.findall(r"\[(\d+)\]", self._block_text)}
        numbers = dict.fromkeys(c.number for c in citations if c.number not in written)
        markers = "".join(f"[{n}]" for n in numbers)
        if markers and not self._block_text[-1:].isspace():
            markers = " " + markers
        self._block_citations = []
        return [self._text_delta(markers, citations)]


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _generation_error(exc: BaseException, stream: ClaudeStream) -> errors.GenerationError | None:
    settings = stream.settings
    where = settings.base_url or "the Anthropic API"
    if isinstance(exc, _TimedOut | anthropic.APITimeoutError):
        return errors.APITimeoutError(
            f"{where} did not answer within {settings.request_timeout:g} s "
            "(a timeout is not retried)."
        )
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc
        return errors.APIConnectionError(f"Could not connect to {where}: {cause}")
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, settings)
    if isinstance(exc, anthropic.APIError):
        return errors.APIError(
            f"The API's answer could not be read: {exc.message}", hint=_RETRY_HINT
        )
    if isinstance(exc, httpx2.TimeoutException):
        return errors.APITimeoutError(
            f"{where} sent nothing for {settings.request_timeout:g} s in the middle of the answer."
        )
    if isinstance(exc, httpx2.TransportError):
        # The transport's own wording stays on the chained cause, for a log, not the screen.
        return errors.StreamInterruptedError("The connection dropped mid-answer.")
    if isinstance(exc, json.JSONDecodeError):
        return errors.APIError(f"The API sent a malformed stream event ({exc}).", hint=_RETRY_HINT)
    return None


def _status_error(exc: anthropic.APIStatusError, settings: Settings) -> errors.GenerationError:
    status, kind = exc.status_code, exc.type or ""
    detail = exc.api_message or exc.message
    in_stream = status == 200
    retried = "" if in_stream else f" (after {settings.max_retries} retries)"
    if status == 401 or kind == "authentication_error":
        return errors.AuthenticationError(f"The API rejected the key: {detail}")
    if status == 403 or kind == "permission_error":
        return errors.AuthenticationError(f"The key may not use this model or API: {detail}")
    if status == 429 or kind == "rate_limit_error":
        return errors.RateLimitError(f"Rate limited by the API{retried}: {detail}")
    if status == 529 or kind == "overloaded_error":
        return errors.OverloadedError(f"The API is overloaded{retried}: {detail}")
    if in_stream:
        return errors.APIError(
            f"The API reported an error mid-answer ({kind or 'error'}): {detail}", hint=_RETRY_HINT
        )
    if status >= 500:
        return errors.APIError(
            f"The API failed ({status}, {kind or 'error'}): {detail}", hint=_RETRY_HINT
        )
    return errors.APIError(
        f"The API refused the request ({status}, {kind or 'error'}): {detail}",
        hint="Check the model name (ATLAS_DEFAULT_MODEL) and ANTHROPIC_BASE_URL.",
    )


_RETRY_HINT = "The partial answer is kept; regenerate to try again."
