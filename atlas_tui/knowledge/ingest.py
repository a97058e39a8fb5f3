"""Ingest: files -> chunks (written at once, keyword-searchable) -> embeddings (in batches).

Two phases, both resumable:
1. Every discovered file is hashed; unchanged files are skipped unparsed, new and changed ones
   are loaded, chunked and written with empty vectors. A file's record in the files table is written
   after its chunks (the commit point), so an interruption never leaves half a file behind. A file
   whose record names another reader (`records.READER_VERSION`: this version reads files into
   other passages) is read again although its bytes are unchanged (`IngestReport.files_reread`).
   A passage of a changed or re-read file whose text (with its heading) the file's old passages
   had already keeps their vector (`chunks_reused`): only new text is embedded.
2. Chunks without a vector are embedded in batches, each batch committed as it completes; a run that
   stops early (`should_stop`, e.g. a `steering.StopHandle`) leaves the rest for the next run, and
   a run with no paths does only this (a resume: pending.py). Hybrid search uses whatever is
   embedded so far.
Progress is one model for the whole run (steering.py): a fraction weighted by what each phase
costs, the passages embedded a second and the time left.
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

import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from atlas_tui.config import user_cache_dir
from atlas_tui.knowledge import ahead, health, loaders, records
from atlas_tui.knowledge.engine import (
    Engine,
    FileJob,
    LocalEngine,
    Prepared,
    Unusable,
    embedding_text,
    read_file,
)
from atlas_tui.knowledge.pending import EMBED_BATCH, PendingEmbedding, pending_work, row_units
from atlas_tui.knowledge.records import Skipped
from atlas_tui.knowledge.steering import IngestProgress, ProgressMeter
from atlas_tui.knowledge.store import FileRecord, Store, chunk_schema, document_path, file_id
from atlas_tui.knowledge.writer_lock import writer_lock

if TYPE_CHECKING:
    from atlas_tui.knowledge.embedding import Embedder

__all__ = ["EMBED_BATCH", "IngestProgress", "IngestReport", "Ingestor"]

logger = logging.getLogger(__name__)

FLUSH_ROWS = 2000  # chunks buffered before a write (fewer, larger fragments)
FLUSH_FILES = 200
SPEED_KEY = "embedding_units_per_s"  # meta: the last measured embedding speed, per encoder path
SPEEDS_FILE = "embedding-speeds.json"  # the same on this machine (user cache dir): a new index
MIN_SPEED_SAMPLE_S = 20.0  # a speed measured over less than this is not kept for next time


@dataclass(slots=True)
class IngestReport:
    files_added: int = 0
    files_updated: int = 0
    files_unchanged: int = 0
    files_reread: int = 0  # unchanged files read again: their record names an older reader
    chunks_written: int = 0
    chunks_reused: int = 0  # written with the vector of an old passage of the same text
    chunks_embedded: int = 0
    chunks_pending: int = 0  # still without a vector (an interrupted run embeds them next time)
    skipped: list[Skipped] = field(default_factory=list)
    removed: list[Skipped] = field(default_factory=list)  # path, "removed: now empty" etc.
    repaired: list[str] = field(default_factory=list)  # what `health.repair` did first
    elapsed_s: float = 0.0
    interrupted: bool = False
    stopped_in: str = ""  # where an interrupted run stopped: waiting | reading | embedding
    resume: bool = False  # a run with no paths: it only embedded what awaited a vector
    engine: str = "local"  # where chunking and embedding ran: local | ray
    encoder: str = ""  # the encoder path that embedded (hardware.py): fp32 | int8 | bf16 | torch
    index_chunks: int = 0  # the whole index afterwards: its passages,
    index_embedded: int = 0  # and how many of them have a vector (are found by vector search)

    @property
    def files_removed(self) -> int:
        return len(self.removed)

    @property
    def files_indexed(self) -> int:
        return self.files_added + self.files_updated + self.files_unchanged + self.files_reread

    @property
    def ok(self) -> bool:
        """False when nothing could be ingested (the CLI then exits non-zero)."""
        return self.resume or self.files_indexed > 0 or self.files_removed > 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["removed"] = [{"path": s.path, "reason": s.reason} for s in self.removed]
        data["files_removed"] = self.files_removed
        data["elapsed_s"] = round(self.elapsed_s, 3)
        data["ok"] = self.ok
        return data


ProgressCallback = Callable[[IngestProgress], None]


def machine_speeds() -> dict[str, float]:
    """The embedding speeds measured on this machine, by model, encoder path and engine."""
    try:
        data = json.loads((user_cache_dir() / SPEEDS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet (or unreadable): the meter starts from its default
        return {}
    if not isinstance(data, dict):
        return {}
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and v > 0}


def keep_machine_speed(key: str, units_per_s: float) -> None:
    """Record a measured speed for the next new index on this machine (best effort: a cache)."""
    speeds = machine_speeds() | {key: units_per_s}
    target = user_cache_dir() / SPEEDS_FILE
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(speeds, indent=1), encoding="utf-8")
        temporary.replace(target)
    except OSError as error:  # a read-only cache dir: the next new index starts from the default
        logger.info("embedding speed not kept in %s: %s", target, error)


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
        self._known_written: list[str] = []  # buffered files that have passages in the index
        self._files_total = 0
        self._files_done = 0
        self._sizes: dict[Path, int] = {}  # bytes of each file found, for the progress model
        self._bytes_total = self._bytes_done = self._units = 0
        self.meter = ProgressMeter(workers=self.engine.workers)
        self._dropped: dict[str, str] = {}  # known file id -> why it is no longer ingestible
        self._ahead: ahead.EmbedAhead | None = None  # encodes passages while files are read
        self._reused: set[str] = set()  # ids of passages given an old passage's vector

    def run(
        self,
        paths: Sequence[str | Path] = (),
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> IngestReport:
        """Ingest `paths`, then embed every passage awaiting a vector. No paths: only the latter
        (a resume of an earlier run's embedding)."""
        started = time.perf_counter()
        self.report.resume = not paths
        try:
            self.store.open_for_writing(
                self.embedder.name, self.embedder.dimension, self.embedder.family
            )
            with writer_lock(
                self.store.uri,
                self.store.collection,
                on_wait=lambda: self.progress(IngestProgress("waiting")),
                should_stop=self.should_stop,
            ) as locked:
                if locked:
                    self._run_locked(paths, include, exclude)
                else:
                    self.report.interrupted, self.report.stopped_in = True, "waiting"
        except KeyboardInterrupt:
            # Everything committed so far is consistent; the next run picks up from there.
            self.report.interrupted = True
        finally:
            self.engine.close()
        if self.store.exists():  # (not when interrupted before the index was created)
            self.report.index_chunks = self.store.count()
            self.report.chunks_pending = self.store.count("vector IS NULL")
            self.report.index_embedded = self.report.index_chunks - self.report.chunks_pending
        self.report.elapsed_s = time.perf_counter() - started
        self._say("stopped" if self.report.interrupted else "done")
        return self.report

    def _say(self, phase: str) -> None:
        self.meter.workers = self.engine.workers  # (a Ray cluster's are known once connected)
        self.progress(self.meter.event(phase))

    def _run_locked(
        self, paths: Sequence[str | Path], include: Sequence[str], exclude: Sequence[str]
    ) -> None:
        self._repair()
        self.meter = ProgressMeter(
            prior_units_per_s=self._last_speed(), workers=self.engine.workers
        )
        if paths:
            self.meter.pending_before(pending_work(self.store)[1])  # an earlier run's leftovers
            self._ingest_files(paths, include, exclude)
        if self.report.chunks_written or self.report.files_removed:
            # Index the new text now: BM25 over unindexed rows is a slow scan meanwhile.
            self._say("indexing")
            self.store.optimize()
        if not self.report.interrupted:
            self._embed_pending()
        self.store.set_meta("last_ingest", time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def _embed_pending(self) -> None:
        if self.engine.name == "local" and not self.should_stop():  # load it before the clock
            self.embedder.warm_documents()
        embedding = PendingEmbedding(
            self.store, self.engine, self.meter, progress=self._say, should_stop=self.should_stop
        )
        outcome = embedding.run()
        self.report.chunks_embedded += outcome.embedded
        if outcome.interrupted:
            self.report.interrupted, self.report.stopped_in = True, "embedding"
        if outcome.embedded:
            self.report.encoder = self.embedder.path
            self._keep_speed()
            self._say("indexing")
            self.store.optimize()

    def _last_speed(self) -> float | None:
        """The embedding speed the last run on this index measured with this encoder path; for
        an index without one (a new index), the last one measured on this machine."""
        value = self.store.meta().get(f"{SPEED_KEY}:{self.embedder.path}", "")
        try:
            return float(value) if value else machine_speeds().get(self._speed_key())
        except ValueError:  # (written by a later version in another form: start from scratch)
            return None

    def _speed_key(self) -> str:
        return f"{self.embedder.name}:{self.embedder.path}:{self.engine.name}"

    def _keep_speed(self) -> None:
        """Record which path embedded into the index, and its speed (the next run's prior)."""
        meta = self.store.meta()
        paths = {p for p in meta.get("encoders", "").split(",") if p} | {self.embedder.path}
        self.store.set_meta("encoders", ",".join(sorted(paths)))
        if self.meter.embedding_seconds() >= MIN_SPEED_SAMPLE_S:
            speed = f"{self.meter.units_per_s():.1f}"
            self.store.set_meta(f"{SPEED_KEY}:{self.embedder.path}", speed)
            keep_machine_speed(self._speed_key(), float(speed))

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
        self._sizes = {path: _size(path) for path, _root in found}
        self._bytes_total = sum(self._sizes.values())
        if ahead.wanted(self.embedder, self.engine.name, self._bytes_total):
            self._ahead = ahead.EmbedAhead(self.embedder)
        try:
            for outcome in self.engine.prepare(self._jobs(found, known, kept)):
                if isinstance(outcome, Unusable):
                    self._unusable(outcome.path, outcome.key, known, outcome.reason)
                else:
                    self._buffer(outcome, known)
                    kept.add(outcome.key)
                self._file_done()
            self._flush()
        except BaseException:
            if self._ahead is not None:  # (its vectors are encoded again by the next run)
                self._ahead.finish()
                self._ahead = None
            raise
        self._commit_ahead()
        if not self.report.interrupted:
            self._remove_unwanted(known, kept, paths, unusable)

    def _jobs(
        self, found: Sequence[tuple[Path, Path]], known: dict[str, FileRecord], kept: set[str]
    ) -> Iterator[FileJob]:
        """Read and hash each file; yield the new and changed ones (unchanged: kept as they are)."""
        seen: set[str] = set()  # a file reached twice in one run, through a symlink
        for path, root in found:
            if self.should_stop():
                self.report.interrupted, self.report.stopped_in = True, "reading"
                return
            self._bytes_done += self._sizes.get(path, 0)
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
            if (
                previous is not None
                and previous.content_hash == digest
                and previous.reader == records.READER_VERSION
            ):
                self.report.files_unchanged += 1
                kept.add(key)
                self._file_done()
                continue
            yield FileJob(str(path), str(root), key, raw, mtime)

    def _file_done(self) -> None:
        self._files_done += 1
        if len(self._rows) >= FLUSH_ROWS or len(self._records) >= FLUSH_FILES:
            self._flush()
        self.meter.reading(
            self._files_done, self._files_total, self._bytes_done, self._bytes_total, self._units
        )
        self._say("chunking")

    def _unusable(self, path: str, key: str, known: dict[str, FileRecord], reason: str) -> None:
        self.report.skipped.append(Skipped(path, reason))
        if key in known:
            self._dropped[key] = f"now {reason}"

    def _buffer(self, prepared: Prepared, known: dict[str, FileRecord]) -> None:
        self._rows.extend(prepared.rows)
        if self._ahead is not None:
            self._ahead.offer(prepared.rows)
        self._units += sum(map(row_units, prepared.rows))
        self._records.append(prepared.record)
        previous = known.get(prepared.key)
        if previous is None:
            self.report.files_added += 1
        elif previous.content_hash == prepared.record.content_hash:
            self.report.files_reread += 1
        else:
            self.report.files_updated += 1
        if previous is not None:
            self._known_written.append(prepared.key)

    def _flush(self) -> None:
        if not self._records:
            return
        self._reuse_vectors()
        rows = pa.Table.from_pylist(self._rows, schema=self._schema)
        self.report.chunks_written += self.store.write_files(self._records, rows)
        self._records, self._rows, self._known_written = [], [], []
        self.store.ensure_fts_index()

    def _reuse_vectors(self) -> None:
        """Give each new passage of a file already in the index the vector of its old passage
        with the same embedding text (same model, same text: the same vector)."""
        if not self._known_written:
            return
        old = {
            embedding_text(row): row["vector"] for row in self.store.embedded(self._known_written)
        }
        for row in self._rows:
            vector = old.get(embedding_text(row))
            if vector is not None and row["vector"] is None:
                row["vector"] = vector
                self.report.chunks_reused += 1
                self._reused.add(row["id"])

    def _commit_ahead(self) -> None:
        """Write the vectors encoded while files were read (the embedding phase then finds only
        the rest awaiting one); after a stop too: what was encoded is kept."""
        if self._ahead is None:
            return
        ids, vectors = self._ahead.finish()
        self._ahead = None
        keep = [i for i, row_id in enumerate(ids) if row_id not in self._reused]
        if vectors is None or not keep:
            return
        self.store.set_vectors([ids[i] for i in keep], vectors[keep])
        self.report.chunks_embedded += len(keep)

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


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # gone since discovery: reading it will say so
        return 0
