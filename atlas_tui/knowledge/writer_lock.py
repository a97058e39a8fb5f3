"""One ingest at a time into a local index: a second one waits for the first, then runs.

LanceDB retries a commit that races another, but two processes ingesting the same changed file
at once can both insert its new chunks (each saw none there), and the duplicate ids then make
every later update of those rows ambiguous. Writers of a local index therefore take an
exclusive lock file next to its tables (`filelock`: released by the OS when a process dies).
An object-store index has no lock file; its writers take turns per write through a lease row
in the index itself (lease.py), so ingests from several machines run at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from atlas_tui.errors import IngestError
from atlas_tui.knowledge.faults import guard, is_remote

POLL_S = 0.25


@contextmanager
def writer_lock(
    uri: str,
    collection: str,
    *,
    on_wait: Callable[[], None] = lambda: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> Iterator[bool]:
    """Hold the index's writer lock; yields False when `should_stop` ended the wait first."""
    if is_remote(uri):
        yield True
        return
    lock = _acquire(uri, collection, on_wait, should_stop)
    if lock is None:
        yield False
        return
    try:
        yield True
    finally:
        lock.release()


def _acquire(
    uri: str, collection: str, on_wait: Callable[[], None], should_stop: Callable[[], bool]
) -> FileLock | None:
    with guard(uri, "locked for writing", IngestError):
        Path(uri).mkdir(parents=True, exist_ok=True)
        lock = FileLock(Path(uri) / f".{collection}.ingest.lock")
        try:
            lock.acquire(timeout=0)
            return lock
        except Timeout:
            on_wait()
        while not should_stop():
            try:
                lock.acquire(timeout=POLL_S)
                return lock
            except Timeout:
                continue
    return None
