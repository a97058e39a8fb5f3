"""Checking the index against itself, and repairing what can be rebuilt from the files.

What can go wrong, and how it is found:
- a crash, a kill or a race between writes (see store.py for their order) leaves chunks whose
  file has no record (orphans) or a record whose chunks are missing, extra or of another version
  (broken): `audit` compares the two tables on two narrow columns (cheap; every ingest runs it);
- garbage in the full-text index makes every keyword and hybrid search fail: `fts_works`;
- garbage in a chunk data file makes reads of those rows fail: `unreadable_documents` reads every
  row (all columns) and, when that fails, each document's rows on their own to name the damaged
  ones (slow on a large index: `atlas-tui check` runs it, ingest only below `SCAN_MAX_ROWS`).
`repair` drops what is broken (chunks first, then records) so the next ingest of the same folders
re-adds it from the files, and rebuilds the full-text index.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from atlas_tui.errors import IndexCorruptError
from atlas_tui.knowledge.store import Store, guard, in_list

SCAN_MAX_ROWS = 100_000  # ingest reads every row only below this (a few hundred MB at most)
BATCH_ROWS = 4096


@dataclass(slots=True)
class Health:
    """What `check` found; `problems()` says it in one line each."""

    documents: int = 0
    chunks: int = 0
    orphans: list[str] = field(default_factory=list)  # file ids with chunks but no record
    broken: list[str] = field(default_factory=list)  # records whose chunks do not match
    unreadable: list[str] = field(default_factory=list)  # file ids whose rows cannot be read
    fts_ok: bool = True

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.broken or self.unreadable) and self.fts_ok

    def problems(self) -> list[str]:
        found = []
        if self.orphans:
            found.append(f"{len(self.orphans)} documents have chunks but no file record")
        if self.broken:
            found.append(f"{len(self.broken)} documents have missing, extra or stale chunks")
        if self.unreadable:
            found.append(f"{len(self.unreadable)} documents have unreadable chunk data")
        if not self.fts_ok:
            found.append("the full-text index is damaged (keyword and hybrid search fail)")
        return found


def audit(store: Store, health: Health | None = None) -> Health:
    """Compare the files table with the chunks table."""
    health = health or Health()
    records = store.files()
    with guard(store.uri, "read"):
        table = store.chunks.search().select(["file_id", "content_hash"]).limit(None).to_arrow()
    file_ids = table.column("file_id").to_pylist()
    per_version = Counter(zip(file_ids, table.column("content_hash").to_pylist(), strict=True))
    per_file = Counter(file_ids)
    health.documents, health.chunks = len(records), len(file_ids)
    health.orphans = sorted(set(per_file) - set(records))
    health.broken = sorted(
        key
        for key, record in records.items()
        if not per_version[(key, record.content_hash)] == per_file[key] == record.chunks
    )
    return health


def fts_works(store: Store) -> bool:
    """Whether the full-text index answers a query."""
    if not store.count() or not any("FTS" in t for t in store.index_types()):
        return True
    try:
        with guard(store.uri, "searched"):
            query = store.chunks.search("index", query_type="fts", fts_columns="search_text")
            query.limit(1).to_arrow()
    except IndexCorruptError:
        return False
    return True


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Keep a Rust panic's report (several lines, on fd 2) off the terminal while we probe."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _reads(store: Store, where: str | None) -> bool:
    columns = [f.name for f in store.chunks.schema]
    query = store.chunks.search().select(columns).limit(None)
    if where:
        query = query.where(where, prefilter=True)
    try:
        with _quiet_stderr(), guard(store.uri, "read"):
            for _batch in query.to_batches(BATCH_ROWS):
                pass
    except IndexCorruptError:
        return False
    return True


def unreadable_documents(store: Store) -> list[str]:
    """File ids whose chunk rows cannot be read (empty when every row reads)."""
    if _reads(store, None):
        return []
    with guard(store.uri, "read"):
        ids = set(store.chunks.search().select(["file_id"]).limit(None).to_arrow()["file_id"])
    return sorted(str(fid) for fid in ids if not _reads(store, in_list("file_id", [str(fid)])))


def check(store: Store, *, scan: bool = True) -> Health:
    """Everything `Health` describes (`scan=False`: all but reading every row)."""
    store.open()
    health = audit(store)
    health.fts_ok = fts_works(store)
    if scan:
        health.unreadable = unreadable_documents(store)
    return health


def repair(store: Store, health: Health) -> list[str]:
    """Drop what is broken (the next ingest re-adds it), rebuild a damaged full-text index.

    Returns what was done, one line each.
    """
    done = []
    if health.orphans:
        store.delete_chunks_of(health.orphans)
        done.append(f"dropped the chunks of {len(health.orphans)} documents without a record")
    damaged = sorted(set(health.broken) | set(health.unreadable))
    if damaged:
        store.delete_files(damaged)
        done.append(f"dropped {len(damaged)} damaged documents (ingest re-adds them)")
    if not health.fts_ok or damaged or health.orphans:
        store.ensure_fts_index(rebuild=True)
        if not health.fts_ok:
            done.append("rebuilt the full-text index")
    return done
