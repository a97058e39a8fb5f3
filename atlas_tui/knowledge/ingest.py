"""Ingest: files -> chunks (written at once, keyword-searchable) -> embeddings (in batches).

Two phases, both resumable:
1. Every discovered file is hashed; unchanged files are skipped unparsed, new and changed ones
   are loaded, chunked and written with empty vectors. A file's record in the files table is written
   after its chunks (the commit point), so an interruption never leaves half a file behind.
2. Chunks without a vector are embedded in batches, each batch committed as it completes; a run that
   stops early leaves the rest for the next run. Hybrid search uses whatever is embedded so far.
Bad input is skipped and reported (`IngestReport.skipped`); it never stops the run.
The extracting, chunking and encoding run on an engine (engine.py: in this process, or on a Ray
cluster with ray_engine.py); whatever the engine, this module alone decides and writes, in the
same order, so both give the same index.

What an ingest of PATHS means for the index: afterwards it holds exactly the ingestible files
under PATHS as this walk found them. A known document under PATHS that this walk did not yield
or could not use (deleted, renamed, emptied, turned binary, over the size cap, newly excluded by
.gitignore or --exclude) loses its chunks and is listed in `IngestReport.removed` with the reason.
Documents are identified by their real path (store.py), so a folder ingested inside another
already ingested one changes nothing, and documents under other roots are left alone.
Before anything, `health.check` finds what a crash, a race or damaged files left behind and
`health.repair` drops it, so a run after any interruption converges to a clean build.
Two ingests into one local index run one after the other (writer_lock.py: the second reports
"waiting", then finds the first one's work done); into an object store they run at once, each
write under the index's lease (lease.py), and what one left half-written the next ingest redoes.
"""

from __future__ import annotations

import os
import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from atlas_tui.knowledge import health, loaders
from atlas_tui.knowledge.engine import (
    Engine,
    FileJob,
    LocalEngine,
    Prepared,
    Unusable,
    embedding_text,
    read_file,
)
from atlas_tui.knowledge.object_store import is_remote
from atlas_tui.knowledge.records import Skipped
from atlas_tui.knowledge.store import FileRecord, Store, chunk_schema, document_path, file_id
from atlas_tui.knowledge.writer_lock import writer_lock

if TYPE_CHECKING:
    from atlas_tui.knowledge.embedding import Embedder

FLUSH_ROWS = 2000  # chunks buffered before a write (fewer, larger fragments)
FLUSH_FILES = 200
PENDING_WINDOW = 1024  # chunks fetched at once to embed, sorted by length to limit padding
EMBED_BATCH = 128  # chunks per committed embedding batch
# A vector update rewrites its rows into new fragments, which the full-text index does not cover
# yet (BM25 then scans them): re-index and compact after this many embedded chunks.
OPTIMIZE_EVERY = 2048


@dataclass(frozen=True, slots=True)
class IngestProgress:
    phase: str  # waiting (for another ingest) | scanning | chunking | embedding | indexing | done
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    chunks_total: int = 0
    chunks_per_s: float = 0.0
    workers: int = 1  # encoders at work (Ray: actors across the cluster)
    detail: str = ""  # waiting: for whom (an object-store index's lease holder, until when)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class IngestReport:
    files_added: int = 0
    files_updated: int = 0
    files_unchanged: int = 0
    chunks_written: int = 0
    chunks_embedded: int = 0
    chunks_pending: int = 0  # still without a vector (an interrupted run embeds them next time)
    skipped: list[Skipped] = field(default_factory=list)
    removed: list[Skipped] = field(default_factory=list)  # path, "removed: now empty" etc.
    repaired: list[str] = field(default_factory=list)  # what `health.repair` did first
    elapsed_s: float = 0.0
    interrupted: bool = False
    engine: str = "local"  # where chunking and embedding ran: local | ray

    @property
    def files_removed(self) -> int:
        return len(self.removed)

    @property
    def files_indexed(self) -> int:
        return self.files_added + self.files_updated + self.files_unchanged

    @property
    def ok(self) -> bool:
        """False when nothing could be ingested (the CLI then exits non-zero)."""
        return self.files_indexed > 0 or self.files_removed > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["removed"] = [{"path": s.path, "reason": s.reason} for s in self.removed]
        data["files_removed"] = self.files_removed
        data["elapsed_s"] = round(self.elapsed_s, 3)
        data["ok"] = self.ok
        return data


ProgressCallback = Callable[[IngestProgress], None]


class Ingestor:
    """One ingest run into `store` with `embedder`; the heavy work runs on `engine` (engine.py:
    this process by default, or a Ray cluster), every write from here."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        max_bytes: int,
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
        engine: Engine | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.progress = progress or (lambda _p: None)
        self.should_stop = should_stop or (lambda: False)
        self.engine: Engine = engine or LocalEngine(embedder)
        self.report = IngestReport(engine=self.engine.name)
        store.on_lease_wait = lambda detail: self.progress(IngestProgress("waiting", detail=detail))
        self._schema = chunk_schema(embedder.dimension)
        self._records: list[FileRecord] = []
        self._rows: list[dict[str, Any]] = []
        self._files_total = 0
        self._files_done = 0
        self._dropped: dict[str, str] = {}  # known file id -> why it is no longer ingestible

    def run(
        self, paths: Sequence[str | Path], include: Sequence[str], exclude: Sequence[str]
    ) -> IngestReport:
        started = time.perf_counter()
        try:
            self.store.open_for_writing(self.embedder.name, self.embedder.dimension)
            with writer_lock(
                self.store.uri,
                self.store.collection,
                on_wait=lambda: self.progress(IngestProgress("waiting")),
                should_stop=self.should_stop,
            ) as locked:
                if locked:
                    self._run_locked(paths, include, exclude)
                else:
                    self.report.interrupted = True
        except KeyboardInterrupt:
            # Everything committed so far is consistent; the next run picks up from there.
            self.report.interrupted = True
        finally:
            self.engine.close()
        if self.store.exists():  # (not when interrupted before the index was created)
            self.report.chunks_pending = self.store.count("vector IS NULL")
        self.report.elapsed_s = time.perf_counter() - started
        self.progress(IngestProgress("done", chunks_done=self.report.chunks_embedded))
        return self.report

    def _run_locked(
        self, paths: Sequence[str | Path], include: Sequence[str], exclude: Sequence[str]
    ) -> None:
        self._repair()
        self._ingest_files(paths, include, exclude)
        if self.report.chunks_written or self.report.files_removed:
            # Index the new text now: BM25 over unindexed rows is a slow scan meanwhile.
            self.progress(IngestProgress("indexing", self._files_total, self._files_total))
            self.store.optimize()
        if not self.report.interrupted:
            embedded = self._embed_pending()
            if embedded:
                self.progress(IngestProgress("indexing", self._files_total, self._files_total))
                self.store.optimize()
        self.store.set_meta("last_ingest", time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def _repair(self) -> None:
        """Drop what an earlier crash, race or damaged file left (see health.py)."""
        with self.store.exclusive():  # (an object store's other writers finish their writes first)
            scan = self.store.count() <= health.SCAN_MAX_ROWS
            found = health.check(self.store, scan=scan)
            if not found.clean:
                self.report.repaired = health.repair(self.store, found)

    # --- phase 1: files -> chunk rows ---

    def _ingest_files(
        self, paths: Sequence[str | Path], include: Sequence[str], exclude: Sequence[str]
    ) -> None:
        self.progress(IngestProgress("scanning"))
        found: list[tuple[Path, Path]] = []
        unusable: dict[str, str] = {}  # path -> why discovery passed it over
        for item in loaders.discover(paths, include, exclude, self.max_bytes):
            if isinstance(item, Skipped):
                self.report.skipped.append(item)
                unusable[item.path] = item.reason
            else:
                found.append(item)
        known = self.store.files()
        kept: set[str] = set()
        self._files_total = len(found)
        for outcome in self.engine.prepare(self._jobs(found, known, kept)):
            if isinstance(outcome, Unusable):
                self._unusable(outcome.path, outcome.key, known, outcome.reason)
            else:
                self._buffer(outcome, known)
                kept.add(outcome.key)
            self._file_done()
        self._flush()
        if not self.report.interrupted:
            self._remove_unwanted(known, kept, paths, unusable)

    def _jobs(
        self, found: Sequence[tuple[Path, Path]], known: dict[str, FileRecord], kept: set[str]
    ) -> Iterator[FileJob]:
        """Read and hash each file; yield the new and changed ones (unchanged: kept as they are)."""
        seen: set[str] = set()  # a file reached twice in one run, through a symlink
        for path, root in found:
            if self.should_stop():
                self.report.interrupted = True
                return
            key = file_id(document_path(path))
            if key in seen:
                self._file_done()
                continue
            seen.add(key)
            try:
                raw, mtime, digest = read_file(path, self.max_bytes)
            except loaders.LoadError as exc:
                self._unusable(str(path), key, known, str(exc))
                self._file_done()
                continue
            previous = known.get(key)
            if previous is not None and previous.content_hash == digest:
                self.report.files_unchanged += 1
                kept.add(key)
                self._file_done()
                continue
            yield FileJob(str(path), str(root), key, raw, mtime)

    def _file_done(self) -> None:
        self._files_done += 1
        if len(self._rows) >= FLUSH_ROWS or len(self._records) >= FLUSH_FILES:
            self._flush()
        self.progress(
            IngestProgress(
                "chunking",
                self._files_done,
                self._files_total,
                chunks_total=len(self._rows),
                workers=self.engine.workers,
            )
        )

    def _unusable(self, path: str, key: str, known: dict[str, FileRecord], reason: str) -> None:
        self.report.skipped.append(Skipped(path, reason))
        if key in known:
            self._dropped[key] = f"now {reason}"

    def _buffer(self, prepared: Prepared, known: dict[str, FileRecord]) -> None:
        self._rows.extend(prepared.rows)
        self._records.append(prepared.record)
        if prepared.key in known:
            self.report.files_updated += 1
        else:
            self.report.files_added += 1

    def _flush(self) -> None:
        if not self._records:
            return
        rows = pa.Table.from_pylist(self._rows, schema=self._schema)
        self.report.chunks_written += self.store.write_files(self._records, rows)
        self._records, self._rows = [], []
        self.store.ensure_fts_index()

    def _remove_unwanted(
        self,
        known: dict[str, FileRecord],
        kept: set[str],
        paths: Iterable[str | Path],
        unusable: dict[str, str],
    ) -> None:
        """Forget the known documents under `paths` that this run did not keep, saying why."""
        scopes = set()
        for given in paths:
            absolute = os.path.abspath(Path(given).expanduser())
            scopes |= {absolute, os.path.realpath(absolute)}

        def in_scope(location: str) -> bool:
            return any(location == s or location.startswith(s.rstrip("/") + "/") for s in scopes)

        removed: dict[str, Skipped] = {}
        superseded: list[str] = []  # a record of a kept file under an older id (a re-keying)
        for key, record in known.items():
            location = os.path.join(record.root, record.source)
            if key in kept or not (key in self._dropped or in_scope(location)):
                continue
            if os.path.lexists(location) and file_id(document_path(location)) in kept:
                superseded.append(key)
                continue
            if key in self._dropped:
                reason = self._dropped[key]
            elif not os.path.lexists(location):
                reason = "no longer on disk"
            elif location in unusable:
                reason = f"now {unusable[location]}"
            else:
                reason = "now excluded (.gitignore, --exclude, --include or a hidden folder)"
            removed[key] = Skipped(location, f"removed: {reason}")
        self.store.delete_files(sorted([*removed, *superseded]))
        self.report.removed = [removed[key] for key in sorted(removed)]

    # --- phase 2: embeddings ---

    def _embed_pending(self) -> int:
        """Embed chunks without a vector, batch by batch, each batch committed as it comes back
        (several may be out on the engine at once); return how many were embedded."""
        total = self.store.count("vector IS NULL")
        started = time.perf_counter()
        sent: deque[list[str]] = deque()  # ids of the batches out on the engine, oldest first
        out: set[str] = set()
        done = 0
        self._embedding_progress(0, total, started)

        def batches() -> Iterator[list[str]]:
            handed = 0
            while handed < total:
                # The next window of pending chunks, less those out already (not yet committed).
                rows = self.store.pending(
                    PENDING_WINDOW + len(out), self._window_offset(total - handed)
                )
                window = [row for row in rows if row["id"] not in out]
                if not window:
                    return
                window.sort(key=lambda row: len(row["text"]))
                for i in range(0, len(window), EMBED_BATCH):
                    if self.should_stop() or handed >= total:
                        self.report.interrupted |= handed < total
                        return
                    batch = window[i : i + EMBED_BATCH]
                    sent.append([row["id"] for row in batch])
                    out.update(sent[-1])
                    handed += len(batch)
                    yield [embedding_text(row) for row in batch]

        encoded = lambda n: self._embedding_progress(done + n, total, started)  # noqa: E731
        for vectors in self.engine.embed(batches(), encoded):
            ids = sent.popleft()
            self.store.set_vectors(ids, vectors)
            out.difference_update(ids)
            done += len(ids)
            self.report.chunks_embedded += len(ids)
            self._embedding_progress(done, total, started)
            if done % OPTIMIZE_EVERY < len(ids) and done < total:
                self.store.optimize()
        return done

    def _window_offset(self, left: int) -> int:
        """Where the next window of pending chunks starts: at the first, except on an object
        store, where other machines may be embedding the same chunks: there a random place, so
        that concurrent ingests mostly share the work instead of repeating it."""
        if not is_remote(self.store.uri) or left <= PENDING_WINDOW:
            return 0
        return random.randrange(0, left - PENDING_WINDOW + 1)

    def _embedding_progress(self, done: int, total: int, started: float) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        self.progress(
            IngestProgress(
                "embedding",
                self._files_total,
                self._files_total,
                done,
                total,
                round(rate, 2),
                self.engine.workers,
            )
        )
