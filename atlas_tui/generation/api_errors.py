"""The SDK's and the network's failures as atlas-tui's errors, messages a person can act on."""

from __future__ import annotations

import json
import re

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


def generation_error(exc: BaseException, settings: Settings) -> errors.GenerationError | None:
    where = settings.base_url or "the Anthropic API"
    if isinstance(exc, TimedOut | anthropic.APITimeoutError):
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
