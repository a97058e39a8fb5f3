"""Ingest: files -> chunks (written at once, keyword-searchable) -> embeddings (in batches).

Two phases, both resumable:
1. Every discovered file is hashed; unchanged files are skipped unparsed, new and changed ones
   are loaded, chunked and written with empty vectors. A file's record in the files table is written
   after its chunks (the commit point), so an interruption never leaves half a file behind.
2. Chunks without a vector are embedded in batches, each batch committed as it completes; a run that
   stops early leaves the rest for the next run. Hybrid search uses whatever is embedded so far.
Bad input is skipped and reported (`IngestReport.skipped`); it never stops the run.

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

import hashlib
import os
import random
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from atlas_tui.knowledge import health, loaders
from atlas_tui.knowledge.chunking import chunk_document, load_token_counter
from atlas_tui.knowledge.object_store import is_remote
from atlas_tui.knowledge.records import Chunk, LoadedDocument, Skipped
from atlas_tui.knowledge.store import (
    FileRecord,
    Store,
    chunk_id,
    chunk_schema,
    document_path,
    file_id,
)
from atlas_tui.knowledge.writer_lock import writer_lock

if TYPE_CHECKING:
    from atlas_tui.knowledge.embedding import Embedder

FLUSH_ROWS = 2000  # chunks buffered before a write (fewer, larger fragments)
FLUSH_FILES = 200
PENDING_WINDOW = 1024  # chunks fetched at once to embed, sorted by length to limit padding
EMBED_BATCH = 128  # chunks per committed embedding batch
PROGRESS_EVERY = 32  # chunks encoded between two progress reports
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


def _search_text(doc: LoadedDocument, chunk: Chunk) -> str:
    """What BM25 reads: where the chunk sits (title, heading path, file path), then its text."""
    path_words = doc.source.replace("/", " ").replace("_", " ").replace(".", " ")
    return f"{doc.title}\n{chunk.heading}\n{path_words}\n{chunk.text}"


def _rows(doc: LoadedDocument, key: str, chunks: Sequence[Chunk]) -> list[dict[str, Any]]:
    return [
        {
            "id": chunk_id(key, doc.content_hash, c.chunk_index),
            "file_id": key,
            "source": doc.source,
            "root": doc.root,
            "title": doc.title,
            "heading": c.heading,
            "kind": doc.kind,
            "chunk_index": c.chunk_index,
            "start": c.start,
            "end": c.end,
            "line_start": c.line_start,
            "line_end": c.line_end,
            "page": c.page,
            "mtime": doc.mtime,
            "content_hash": doc.content_hash,
            "text": c.text,
            "search_text": _search_text(doc, c),
            "vector": None,
        }
        for c in chunks
    ]


class Ingestor:
    """One ingest run into `store` with `embedder`."""

    def __init__(
        self,
        store: Store,
        embedder: Embedder,
        *,
        max_bytes: int,
        progress: ProgressCallback | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.max_bytes = max_bytes
        self.progress = progress or (lambda _p: None)
        self.should_stop = should_stop or (lambda: False)
        self.report = IngestReport()
        self._schema = chunk_schema(embedder.dimension)
        self._records: list[FileRecord] = []
        self._rows: list[dict[str, Any]] = []
        self._files_total = 0
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
        counter = load_token_counter(self.embedder.model_path)
        self._files_total = len(found)
        for done, (path, root) in enumerate(found, start=1):
            if self.should_stop():
                self.report.interrupted = True
                break
            key = file_id(document_path(path))
            # (`key in kept`: a file reached twice in one run, through a symlink)
            if key not in kept and self._ingest_file(path, root, key, known.get(key), counter):
                kept.add(key)
            if len(self._rows) >= FLUSH_ROWS or len(self._records) >= FLUSH_FILES:
                self._flush()
            self.progress(
                IngestProgress("chunking", done, len(found), chunks_total=len(self._rows))
            )
        self._flush()
        if not self.report.interrupted:
            self._remove_unwanted(known, kept, paths, unusable)

    def _ingest_file(
        self,
        path: Path,
        root: Path,
        key: str,
        previous: FileRecord | None,
        counter: Callable[[str], int],
    ) -> bool:
        """Load, chunk and buffer one file; False when it cannot be used (and why is recorded)."""
        try:
            raw, info = loaders.read_regular(path, self.max_bytes)
            digest = hashlib.sha256(raw).hexdigest()
            if previous is not None and previous.content_hash == digest:
                self.report.files_unchanged += 1
                return True
            doc = loaders.extract(path, root, raw, info.st_mtime)
            chunks = chunk_document(doc, counter)
            if not chunks:
                raise loaders.LoadError("no text to index")
        except loaders.LoadError as exc:
            self.report.skipped.append(Skipped(str(path), str(exc)))
            if previous is not None:
                self._dropped[key] = f"now {exc}"
            return False
        self._rows.extend(_rows(doc, key, chunks))
        self._records.append(
            FileRecord(key, doc.root, doc.source, doc.content_hash, doc.mtime, len(chunks))
        )
        if previous is None:
            self.report.files_added += 1
        else:
            self.report.files_updated += 1
        return True

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
        """Embed chunks without a vector, batch by batch; return how many were embedded."""
        total = self.store.count("vector IS NULL")
        done = 0
        started = time.perf_counter()
        self.progress(IngestProgress("embedding", self._files_total, self._files_total, 0, total))
        while done < total:
            window = self.store.pending(PENDING_WINDOW, self._window_offset(total - done))
            if not window:
                break
            window.sort(key=lambda row: len(row["text"]))
            for i in range(0, len(window), EMBED_BATCH):
                if self.should_stop():
                    self.report.interrupted = True
                    return done
                batch = window[i : i + EMBED_BATCH]
                texts = [
                    Chunk(row["text"], row["heading"], 0, 0, 0, 0, 0).embedding_text(row["title"])
                    for row in batch
                ]
                parts = []
                for j in range(0, len(texts), PROGRESS_EVERY):  # the bar moves within a batch
                    parts.append(self.embedder.encode_documents(texts[j : j + PROGRESS_EVERY]))
                    self._embedding_progress(done + j + len(parts[-1]), total, started)
                self.store.set_vectors([row["id"] for row in batch], np.concatenate(parts))
                done += len(batch)
                self.report.chunks_embedded += len(batch)
                if done % OPTIMIZE_EVERY < len(batch) and done < total:
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
                "embedding", self._files_total, self._files_total, done, total, round(rate, 2)
            )
        )
