"""LanceDB failures turned into one-line `AtlasError`s with an honest hint, and retried commits.

`guard` converts what LanceDB raises (its errors, and Rust panics: `pyo3_runtime.PanicException`
derives from BaseException) into an `AtlasError` whose message is one line: the Rust debug text
of an object-store error (`IO { source: Generic { store: "S3", ... } }`) is reduced to its cause.
What went wrong decides the error and the hint:
- a full disk (ENOSPC) says so, whatever the location;
- an object-store URI that cannot be reached (connection, DNS, timeout, credentials, bucket) is
  not called corrupt, and the hint is about the URI, endpoint and credentials, not a folder;
- anything else keeps the caller's error class (corrupt index, ingest failure).
`retrying` re-runs a write that lost a commit race to another writer (two `ingest` processes).
"""

from __future__ import annotations

import errno
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from atlas_tui.errors import AtlasError, IndexCorruptError, IndexError_
from atlas_tui.knowledge.object_store import REMOTE_HINT, describe_failure, is_remote

__all__ = ["explain", "guard", "is_conflict", "is_remote", "retrying", "short_reason"]

T = TypeVar("T")
_PASS_THROUGH = (KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError, AtlasError)
_DISK_FULL = re.compile(r"No space left on device|code: 28\b|os error 28|ENOSPC", re.I)
_UNREACHABLE = re.compile(
    r"Connect|connection|dns error|timed out|timeout|RetryError|NoSuchBucket|AccessDenied|"
    r"error sending request|Error performing \w+ request|"
    r"Forbidden|credential|403|404 Not Found|Unauthorized|InvalidAccessKeyId|SignatureDoesNotMatch",
    re.I,
)
_CONFLICT = re.compile(r"commit conflict|retryable|conflicting|Incompatible transaction", re.I)
_RUST_MESSAGE = re.compile(r'message: "([^"]+)"')
_RUST_KIND = re.compile(r"kind: (\w+)")
CORRUPT_HINT = (
    "`atlas-tui check` says what is damaged; `atlas-tui check --repair` and the same ingest again "
    "rebuild what they can, or move the folder aside and rebuild with `atlas-tui ingest PATH`."
)
DISK_FULL_HINT = (
    "Free some disk space, then run the same command again (what was committed is kept)."
)


def short_reason(exc: BaseException) -> str:
    """One line that says why, without Rust debug structures or source locations."""
    text = " ".join(str(exc).split())
    if not text:
        return type(exc).__name__
    if "{" in text:  # Rust debug output: keep the head and the innermost human message
        head = text.split("{", 1)[0].rstrip(" :").removesuffix(" IO").rstrip(" :")
        inner = _RUST_MESSAGE.findall(text) or _RUST_KIND.findall(text)[-1:]
        text = f"{head}: {inner[-1]}" if inner else head
    text = re.sub(r",? ?/\S+\.rs:\d+(:\d+)?", "", text)  # ", /root/.cargo/.../x.rs:12:3"
    return text[:200]


def _disk_full(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno == errno.ENOSPC:
            return True
        if _DISK_FULL.search(str(seen)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _all_text(exc: BaseException) -> str:
    """The text of `exc` and of the exceptions that caused it."""
    texts, seen = [], exc
    while seen is not None and len(texts) < 8:
        texts.append(str(seen))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(texts)


def explain(
    exc: BaseException, location: str, doing: str, error: type[AtlasError] = IndexCorruptError
) -> AtlasError:
    """The `AtlasError` to raise for a LanceDB failure while `doing` something at `location`."""
    reason = short_reason(exc)
    if _disk_full(exc):
        return error(
            f"The index at {location} could not be {doing}: the disk is full "
            "(no space left on device).",
            hint=DISK_FULL_HINT,
        )
    if is_remote(location):
        if described := describe_failure(_all_text(exc), location):
            return IndexError_(
                f"The index at {location} could not be reached: {described}.", hint=REMOTE_HINT
            )
        if _UNREACHABLE.search(str(exc)):
            return IndexError_(
                f"The index at {location} could not be reached: {reason}", hint=REMOTE_HINT
            )
        return error(f"The index at {location} could not be {doing}: {reason}", hint=REMOTE_HINT)
    message = f"The index at {location} could not be {doing}: {reason}"
    if issubclass(error, IndexCorruptError):
        return error(message, hint=CORRUPT_HINT)
    return error(message)


@contextmanager
def guard(location: str, doing: str, error: type[AtlasError] = IndexCorruptError) -> Iterator[None]:
    """Convert LanceDB failures (errors and Rust panics) into a clear `AtlasError`."""
    try:
        yield
    except _PASS_THROUGH:
        raise
    except BaseException as exc:  # pyo3 panics derive from BaseException, not Exception
        raise explain(exc, location, doing, error) from exc


def is_conflict(exc: BaseException) -> bool:
    return bool(_CONFLICT.search(str(exc)))


def retrying(action: Callable[[], T], *, attempts: int = 12, first_delay: float = 0.05) -> T:
    """Run `action`, again after a short random wait when another writer won the commit race."""
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except _PASS_THROUGH:
            raise
        except Exception as exc:
            if attempt == attempts or not is_conflict(exc):
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 1.0)
    raise AssertionError("unreachable")  # pragma: no cover
