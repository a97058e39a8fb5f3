"""The SDK's and the network's failures as atlas-tui's errors, messages a person can act on."""

from __future__ import annotations

import json
import re
from typing import Literal

import anthropic
import httpx2

from atlas_tui import errors
from atlas_tui.config import Settings


class TimedOut(Exception):
    """A timed-out attempt, raised instead of the SDK's own error so that it is not retried."""


_UNKNOWN_BLOCK = re.compile(
    r"search_result|(unknown|unsupported|invalid|unexpected)\b.{0,40}\b(block|content)\b.{0,10}type"
    r"|(block|content) type.{0,60}\b(unknown|unsupported|not supported|invalid)",
    re.IGNORECASE | re.DOTALL,
)


def rejects_search_results(exc: BaseException) -> bool:
    """A 400 naming an unknown content block type: a server that speaks the Messages API
    without Claude's `search_result` blocks (Ollama, llama.cpp); ask it in the compatible form."""
    if not isinstance(exc, anthropic.BadRequestError):
        return False
    return bool(_UNKNOWN_BLOCK.search(exc.api_message or exc.message or ""))


# How far an answer got when it failed: decided by what the stream itself saw, never by which
# exception class the SDK or its transport chose for the failure (SDK 2.17 wraps a connection cut
# mid-stream in APIConnectionError, 2.15 let the transport's error through).
Stage = Literal["connecting", "connected", "answering"]


def generation_error(
    exc: BaseException, settings: Settings, stage: Stage = "connecting"
) -> errors.GenerationError | None:
    """atlas-tui's error for a failure of the SDK or the network, or None for anything else (a
    bug, left to surface as it is). `stage`: "connecting" until the server's response began,
    "connected" once it did, "answering" once a stream event arrived."""
    where = settings.base_url or "the Anthropic API"
    timed_out = isinstance(exc, TimedOut | anthropic.APITimeoutError | httpx2.TimeoutException)
    if timed_out or isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        return _transport_error(exc, where, settings.request_timeout, stage, timed_out=timed_out)
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, settings)
    if isinstance(exc, anthropic.APIError):
        return errors.APIError(f"The API's answer could not be read: {exc.message}")
    if isinstance(exc, json.JSONDecodeError):
        return errors.APIError(f"The API sent a malformed stream event ({exc}).")
    return None


def _transport_error(
    exc: BaseException, where: str, timeout: float, stage: Stage, *, timed_out: bool
) -> errors.GenerationError:
    if stage == "answering":
        if timed_out:
            return errors.APITimeoutError(
                f"{where} sent nothing for {timeout:g} s in the middle of the answer."
            )
        # The transport's own wording stays on the chained cause, for a log, not the screen.
        return errors.StreamInterruptedError("The connection dropped mid-answer.")
    if timed_out:
        return errors.APITimeoutError(
            f"{where} did not answer within {timeout:g} s (a timeout is not retried)."
        )
    if stage == "connected":
        return errors.APIConnectionError(
            f"{where} closed the connection before answering.",
            hint="Ask again; if it keeps happening, check the server's log.",
        )
    return errors.APIConnectionError(f"Could not connect to {where}: {_cause(exc)}")


def _cause(exc: BaseException) -> str:
    """What the transport said, without the SDK's own wrapping ("Connection error.")."""
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    return str(cause) or type(cause).__name__


def _status_error(exc: anthropic.APIStatusError, settings: Settings) -> errors.GenerationError:
    status, kind = exc.status_code, exc.type or ""
    detail = exc.api_message or exc.message
    in_stream = status == 200
    retries = settings.max_retries
    retried = "" if in_stream or not retries else f" (after {retries} {_plural(retries)})"
    if status == 401 or kind == "authentication_error":
        return errors.AuthenticationError(_said("The API rejected the key", detail))
    if status == 403 or kind == "permission_error":
        return errors.AuthenticationError(_said("The key may not use this model or API", detail))
    if status == 429 or kind == "rate_limit_error":
        return errors.RateLimitError(_said(f"Rate limited by the API{retried}", detail))
    if status == 529 or kind == "overloaded_error":
        return errors.OverloadedError(_said(f"The API is overloaded{retried}", detail))
    if in_stream:
        return errors.APIError(
            _said(f"The API reported an error mid-answer ({kind or 'error'})", detail)
        )
    if status >= 500:
        return errors.APIError(_said(f"The API failed ({status}, {kind or 'error'})", detail))
    return errors.APIError(
        _said(f"The API refused the request ({status}, {kind or 'error'})", detail),
        hint="Check the model name (ATLAS_DEFAULT_MODEL) and ANTHROPIC_BASE_URL.",
    )


def _said(phrase: str, detail: str) -> str:
    """`phrase: detail`, or the phrase alone where the server's detail only repeats it
    ("The API is overloaded", not "The API is overloaded: Overloaded")."""
    words = detail.strip().rstrip(".").lower()
    if not words or words in phrase.lower():
        return f"{phrase}."
    return f"{phrase}: {detail}"


def _plural(retries: int) -> str:
    return "retry" if retries == 1 else "retries"
