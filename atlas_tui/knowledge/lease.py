"""Writers of an object-store index take turns per write, through a lease row in the index itself.

Why: LanceDB commits atomically on S3 (a new manifest is written with `If-None-Match: *`, so two
writers can never both commit version N; the loser rebases or retries), but two `merge_insert`s
that insert the same new key at once both succeed, so two machines ingesting the same changed
file would leave its chunks twice (measured: 3 concurrent ingests doubled every chunk, and the
next vector update failed with "Ambiguous merge inserts"). A local index has a lock file
(writer_lock.py); an object store has no shared lock, but it has LanceDB's atomic commit.

How: a one-row table `<collection>__lease` says who holds the lease. Taking a free lease is a
conditional update (`owner = ''` -> me): of several concurrent updates of that row exactly one
commits against the version it read, the others are rebased, re-evaluate the condition and update
nothing (`rows_updated == 0`). Releasing is the reverse update.

No machine's clock is trusted by another. The holder renews the row every `HEARTBEAT_S` while it
holds the lease (its `expires`, by its own clock, moves on each time). A waiter judges the holder
by its own monotonic clock only: a row it has seen unchanged for `STALE_S` belongs to a holder
that died, and it takes the lease over with a conditional update naming exactly that row (so a
renewal in between wins). A holder with a fast clock that died (its `expires` an hour ahead) is
taken over after `STALE_S`, like any other; a live holder with a slow clock is never robbed.
`expires` is only shown: who holds the lease "until when", by that holder's clock.

A waiter says who holds the lease (`on_wait`, once per holder) and gives up after `timeout`
seconds (the `lease_timeout` setting) with an error naming the holder.

What it covers: each insert of new rows (a flush of files' chunks, the meta row) and each
audit-and-repair, never a whole ingest: a machine embedding a million chunks does not hold up a
colleague's ingest for hours. A holder cut off from the store for longer than `STALE_S` can lose
the lease while it writes; the next ingest's audit finds and redoes the files concerned
(health.py).
"""

from __future__ import annotations

import os
import random
import re
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from atlas_tui.errors import IngestError
from atlas_tui.knowledge.faults import is_conflict, retrying

if TYPE_CHECKING:
    from lancedb.table import Table

TTL_S = 120.0  # how far ahead a holder's `expires` is set (shown to waiters; never compared)
HEARTBEAT_S = 10.0  # a holder renews its row this often
STALE_S = 60.0  # a row unchanged this long (by the waiter's clock): its holder is gone
POLL_S = 1.0  # the longest pause between two looks at the row
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


@dataclass(frozen=True, slots=True)
class Holder:
    """The lease row as a waiter saw it."""

    owner: str
    expires: float  # by the holder's own clock

    def describe(self) -> str:
        until = datetime.fromtimestamp(self.expires).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")
        return f"{self.owner} (until {until} by its own clock)"


class LeaseTimeout(IngestError):
    """Another writer held the lease for longer than the wait allowed."""

    hint = (
        "Let that writer's ingest finish, then run this one again; or allow a longer wait with "
        "the lease_timeout setting (seconds) in the config file."
    )


class Lease:
    """The write lease of one collection; reentrant within a process."""

    def __init__(
        self,
        table: Callable[[bool], Table],
        owner: str | None = None,
        *,
        timeout: float = 300.0,
        on_wait: Callable[[str], None] = lambda _detail: None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._table = table  # table(fresh): the lease table, opened again when fresh is True
        self.owner = owner or new_owner()
        self.timeout = timeout
        self.on_wait = on_wait  # what a waiter says, once per holder it waits for
        self._clock = clock  # the wall clock `expires` is written by (shown only)
        self._depth = 0
        self._renewing: threading.Event | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        if self._depth == 0:
            self._acquire()
            self._start_heartbeat()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._stop_heartbeat()
                self._release()

    def _acquire(self) -> None:
        started = time.monotonic()
        seen: Holder | None = None
        seen_at = started
        delay = 0.05
        while not self._take("owner = ''"):
            now = time.monotonic()
            holder = self._holder()
            if holder is not None and holder != seen:
                seen, seen_at = holder, now
                self.on_wait(self._waiting(holder))
            elif holder is not None and now - seen_at >= STALE_S:
                # unchanged for STALE_S by our clock: its holder is gone. Take exactly that row.
                condition = f"owner = {_sql(holder.owner)} AND expires = {holder.expires!r}"
                if self._take(condition):
                    return
            if now - started >= self.timeout:
                who = f"{seen.describe()}, renewed {now - seen_at:.0f} s ago" if seen else "?"
                raise LeaseTimeout(
                    f"Another writer holds this index's write lease: {who}; gave up waiting "
                    f"after {self.timeout:g} s."
                )
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 1.5, POLL_S)

    def _waiting(self, holder: Holder) -> str:
        return (
            f"Waiting for this index's write lease, held by {holder.describe()}; taken over "
            f"if not renewed for {STALE_S:g} s, given up after {self.timeout:g} s."
        )

    def _take(self, condition: str) -> bool:
        values = {"owner": self.owner, "expires": self._clock() + TTL_S}
        return self._update(f"name = 'writer' AND {condition}", values).rows_updated == 1

    def _holder(self) -> Holder | None:
        """The lease row's holder, or None when the lease is free."""
        rows = self._table(False).to_arrow().to_pylist()
        row = next((r for r in rows if r["name"] == "writer"), None)
        if row is None or not row["owner"]:
            return None
        return Holder(str(row["owner"]), float(row["expires"] or 0.0))

    def _start_heartbeat(self) -> None:
        stop = self._renewing = threading.Event()
        thread = threading.Thread(target=self._renew, args=(stop,), daemon=True)
        thread.name = "atlas-lease-heartbeat"
        thread.start()

    def _stop_heartbeat(self) -> None:
        if self._renewing is not None:
            self._renewing.set()
            self._renewing = None

    def _renew(self, stop: threading.Event) -> None:
        """Move the row's `expires` on every `HEARTBEAT_S` while held: the holder is alive. Ends
        when released, or when the row is no longer ours (taken over: we seemed dead)."""
        while not stop.wait(HEARTBEAT_S):
            try:
                if not self._take(f"owner = '{self.owner}'"):
                    return
            except Exception:  # a store that does not answer now: the next beat tries again
                continue

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


def _sql(text: str) -> str:
    """A string read from the store (another writer's: any text) as a SQL literal."""
    from atlas_tui.knowledge.store import sql_literal  # (store imports this module)

    return sql_literal(text)


def initial_rows() -> pa.Table:
    return pa.Table.from_pylist([{"name": "writer", "owner": "", "expires": 0.0}], LEASE_SCHEMA)
