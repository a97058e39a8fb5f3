"""Writers of an object-store index take turns per write, through a lease row in the index itself.

Why: LanceDB commits atomically on S3 (a new manifest is written with `If-None-Match: *`, so two
writers can never both commit version N; the loser rebases or retries), but two `merge_insert`s
that insert the same new key at once both succeed, so two machines ingesting the same changed
file would leave its chunks twice (measured: 3 concurrent ingests doubled every chunk, and the
next vector update failed with "Ambiguous merge inserts"). A local index has a lock file
(writer_lock.py); an object store has no shared lock, but it has LanceDB's atomic commit.

How: a one-row table `<collection>__lease` says who holds the lease until when. Taking it is a
conditional update (`owner = '' OR expires < now` -> me): of several concurrent updates of that
row exactly one commits against the version it read, the others are rebased, re-evaluate the
condition and update nothing (`rows_updated == 0`). Releasing is the reverse update. A holder
that dies leaves a lease that expires after `TTL_S`, so nobody waits on it for long.

What it covers: each insert of new rows (a flush of files' chunks, the meta row) and each
audit-and-repair, never a whole ingest: a machine embedding a million chunks does not hold up a
colleague's ingest for hours. A write that outlives the TTL could overlap another; the next
ingest's audit would find and redo the files concerned (health.py).
"""

from __future__ import annotations

import os
import random
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from atlas_tui.knowledge.faults import is_conflict, retrying

if TYPE_CHECKING:
    from lancedb.table import Table

TTL_S = 120.0
REOPENS = 5
LEASE_SCHEMA = pa.schema(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("owner", pa.string()),
        pa.field("expires", pa.float64()),
    ]
)


def new_owner() -> str:
    """Who holds the lease: host, process and a random part (only characters safe in SQL)."""
    host = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())[:60]
    return f"{host}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The write lease of one collection; reentrant within a process."""

    def __init__(self, table: Callable[[bool], Table], owner: str | None = None) -> None:
        self._table = table  # table(fresh): the lease table, opened again when fresh is True
        self.owner = owner or new_owner()
        self._depth = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._depth == 0:
            self._acquire()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._release()

    def _acquire(self) -> None:
        delay = 0.05
        while True:
            now = time.time()
            taken = self._update(
                f"name = 'writer' AND (owner = '' OR expires < {now!r})",
                {"owner": self.owner, "expires": now + TTL_S},
            )
            if taken.rows_updated == 1:
                return
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 1.5, 1.0)

    def _release(self) -> None:
        self._update(f"owner = '{self.owner}'", {"owner": "", "expires": 0.0})

    def _update(self, where: str, values: dict[str, object]) -> Any:
        """One conditional update of the lease row, retried when another writer's commit won.
        A create of the table that raced other commits can land as an Overwrite (seen under
        load); an update from a handle older than it is "incompatible", so the table is opened
        afresh and the update tried again."""
        for attempt in range(1, REOPENS + 1):
            table = self._table(attempt > 1)
            try:
                return retrying(lambda table=table: table.update(where=where, values=values))
            except Exception as exc:
                if attempt == REOPENS or not is_conflict(exc):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover


def initial_rows() -> pa.Table:
    return pa.Table.from_pylist([{"name": "writer", "owner": "", "expires": 0.0}], LEASE_SCHEMA)
