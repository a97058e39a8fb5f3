"""Answers from Claude through Anthropic's SDK, streamed, with the passages as cited search results.

Each answer is read on a private thread that feeds a queue; the caller iterates the queue. So
`cancel()` is prompt whatever the request is doing: connecting, waiting out an SDK retry, or blocked
on a server that went silent. Cancelling also shuts the socket down (closing the response alone
would not wake a read blocked on a silent socket), which ends the thread and tells the server to
stop, and a middleware keeps the SDK from starting another attempt once cancelled.

The passages go as `search_result` blocks with citations enabled (the `anthropic` profile), or as
numbered plain-text documents whose [n] markers we verify ourselves (`compatible`: Ollama,
llama.cpp). On profile `auto`, a 400 naming an unknown block type makes the answerer ask once more
in the compatible form and keep that form for its endpoint.
"""

from __future__ import annotations

import contextlib
import contextvars
import queue
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

import anthropic
import httpx2

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint, describe_url
from atlas_tui.generation import GenerationEvent, TextDelta
from atlas_tui.generation.api_errors import (
    Stage,
    TimedOut,
    generation_error,
    rejects_search_results,
)
from atlas_tui.generation.bounds import BoundedStream, bounded
from atlas_tui.generation.compatible import compatible_messages, compatible_system
from atlas_tui.generation.events import CompatibleTranslator, Translator
from atlas_tui.generation.profiles import is_compatible, remember_compatible
from atlas_tui.generation.prompts import (
    NumberedPassage,
    build_messages,
    load_system_prompt,
    select_passages,
)
from atlas_tui.types import Passage, Turn

CONNECT_TIMEOUT_S = 10.0

_CANCELLED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar(
    "atlas_answer_cancelled", default=None
)
_END = object()  # the pump has nothing more to say
_WAKE = object()  # cancel() wakes the reader with this


class _Cancelled(Exception):
    """Raised by the middleware to stop the SDK from starting an attempt after a cancel."""


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
            raise TimedOut from None  # no __cause__: the SDK retries what a cause says it may


def make_client(settings: Settings, *, endpoint_key: str | None = None) -> anthropic.Anthropic:
    """The SDK's client. For an endpoint (`endpoint_key` given, "" when it has none) only that key
    is sent, as `Authorization: Bearer`: never a key or token the SDK would find in the
    environment, which are Anthropic's."""
    credential: dict[str, str]
    if endpoint_key is not None:
        # "" is an explicit credential to the SDK (it then reads no environment variable); the
        # Authorization header it would make of it is omitted from every request
        credential = {"auth_token": endpoint_key} if endpoint_key else {"api_key": ""}
    elif settings.api_key or settings.auth_token:  # the SDK takes one: the key wins
        credential = (
            {"api_key": settings.api_key}
            if settings.api_key
            else {"auth_token": settings.auth_token}
        )
    else:
        credential = {}
    return anthropic.Anthropic(
        **credential,
        base_url=settings.base_url or None,
        max_retries=settings.max_retries,
        timeout=anthropic.Timeout(
            settings.request_timeout, connect=min(CONNECT_TIMEOUT_S, settings.request_timeout)
        ),
        middleware=[_StopWhenCancelled()],
    )


def omit_missing_credential(client: anthropic.Anthropic) -> dict[str, Any]:
    """The extra headers of a request from `client`: without any credential (SKIP_API_KEY_CHECK
    behind a gateway that adds its own; a local server that needs none), say so to the SDK
    rather than have it refuse to send the request (or send an empty key)."""
    if client.api_key or client.auth_token or client.credentials is not None:
        return {}
    return {"Authorization": anthropic.omit}


class ClaudeAnswerer:
    """A model behind the Messages API: Claude given the passages as `search_result` blocks with
    citations enabled, or (an `endpoint` on the compatible profile) a local model given them as
    numbered documents, its [n] markers verified by us."""

    extractive = False

    def __init__(
        self, settings: Settings, endpoint: Endpoint | None = None, model: str | None = None
    ) -> None:
        if endpoint is not None:
            key = endpoint.api_key()  # never the global key or token: they are Anthropic's
            settings = replace(settings, base_url=endpoint.base_url, api_key=key, auth_token="")
        self.settings = settings
        self.endpoint = endpoint
        self.model = model or settings.model
        self.label = self.label_for(self.model)
        # `auto` may switch to the compatible form once a server refuses search_result blocks
        self.profile = endpoint.profile if endpoint is not None else "auto"
        self.compatible = (
            endpoint.resolved_profile == "compatible"
            if endpoint is not None
            else is_compatible(settings.base_url)  # learnt from an earlier refusal
        )
        self.system_prompt = load_system_prompt(settings)
        self.client = make_client(
            settings, endpoint_key=settings.api_key if endpoint is not None else None
        )
        self._extra_headers = omit_missing_credential(self.client)

    def label_for(self, model: str) -> str:
        """ "Claude claude-sonnet-5-5", or "local qwen3 via Ollama" for an endpoint."""
        if self.endpoint is not None:
            return self.endpoint.describe(model)
        return describe_url(self.settings.base_url, model)

    def learn_compatible(self) -> None:
        """From now on ask in the compatible form (and, for ANTHROPIC_BASE_URL, in later runs)."""
        self.compatible = True
        if self.endpoint is None:
            remember_compatible(self.settings.base_url)

    def may_switch(self, exc: BaseException) -> bool:
        """Whether a refusal means: ask again in the compatible form (and keep to it)."""
        return self.profile == "auto" and not self.compatible and rejects_search_results(exc)

    def request(
        self,
        question: str,
        chosen: Sequence[NumberedPassage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        compatible: bool | None = None,
    ) -> dict[str, Any]:
        """The keyword arguments of `messages.create` for this question (without `stream`), in
        the answerer's form unless `compatible` says which.

        `system_prompt` (a session's own instructions) follows the configured system prompt,
        which keeps the rules on citing and on treating documents as data. `max_tokens` caps the
        answer (default: the configured `max_answer_tokens`); `temperature` goes to an endpoint's
        server only: the Messages API (and its SDK) take none."""
        compatible = self.compatible if compatible is None else compatible
        system = compatible_system(self.system_prompt) if compatible else self.system_prompt
        if system_prompt and system_prompt.strip():
            system += "\n\nThe user's instructions for this research session:\n" + system_prompt
        build = compatible_messages if compatible else build_messages
        request = {
            "model": model or self.model,
            "max_tokens": max_tokens or self.settings.max_answer_tokens,
            "system": system,
            "messages": build(question, chosen, history, self.settings.history_turns),
            "extra_headers": self._extra_headers,
        }
        if temperature is not None and self.endpoint is not None:
            # a local server's own setting (Anthropic's Messages API has none: ignored for Claude)
            request["extra_body"] = {"temperature": temperature}
        return request

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
    ) -> BoundedStream:
        chosen = select_passages(passages, self.settings.context_token_budget)

        def request(compatible: bool | None = None) -> dict[str, Any]:
            return self.request(
                question,
                chosen,
                history,
                model=model,
                system_prompt=system_prompt,
                temperature=temperature,
                max_tokens=max_tokens,
                compatible=compatible,
            )

        stream = ClaudeStream(self, request, chosen)
        return bounded(stream, self.settings, max_tokens=max_tokens)  # bounds.py

    def close(self) -> None:
        self.client.close()


class ClaudeStream:
    """One answer being streamed. Iterate it once; `cancel()` from any thread."""

    def __init__(
        self,
        answerer: ClaudeAnswerer,
        request: Callable[..., dict[str, Any]],
        chosen: Sequence[NumberedPassage],
    ) -> None:
        self._answerer = answerer
        self._request = request  # (compatible=None) -> the request in that form
        self._chosen = chosen
        self._translator = self._translator_for(answerer.compatible)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._response: httpx2.Response | None = None
        self._thread = threading.Thread(target=self._pump, name="atlas-claude-stream", daemon=True)
        self._text = ""  # what the reader was given so far
        self._started = False
        self._stage: Stage = "connecting"  # how far the answer got: names a failure

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
        try:
            try:
                self._read(self._request())
            except anthropic.BadRequestError as exc:
                if not self._answerer.may_switch(exc):
                    raise
                # A server without search_result blocks: once more as plain documents, and
                # from now on for this endpoint (the refusal came before any text).
                self._answerer.learn_compatible()
                self._translator = self._translator_for(compatible=True)
                self._read(self._request(compatible=True))
        except BaseException as exc:  # every failure must reach the reader, who waits on the queue
            self._queue.put(self._failure(exc))
        self._queue.put(_END)

    def _translator_for(self, compatible: bool) -> Translator | CompatibleTranslator:
        return CompatibleTranslator(self._chosen) if compatible else Translator(self._chosen)

    def _read(self, request: dict[str, Any]) -> None:
        translator = self._translator
        self._stage = "connecting"
        with self._answerer.client.messages.create(**request, stream=True) as events:
            self._attach(events.response)
            self._stage = "connected"
            for event in events:
                self._stage = "answering"
                for item in translator.feed(event):
                    self._queue.put(item)
            if not translator.stopped:
                raise errors.StreamInterruptedError(
                    "The answer stopped before it was complete (the stream ended without "
                    "message_stop)."
                )

    def _failure(self, exc: BaseException) -> BaseException:
        if self._cancelled.is_set() or isinstance(exc, _Cancelled):
            return errors.CancelledError_("Answer cancelled.", partial_text=self._translator.text)
        if isinstance(exc, errors.GenerationError):
            error: errors.GenerationError | None = exc
        else:
            error = generation_error(exc, self.settings, self._stage)
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
