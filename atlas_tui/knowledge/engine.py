"""Where an ingest's heavy work runs: the per-file work and the encoder, behind one small interface.

`Ingestor` (ingest.py) owns the semantics: discovery, hashing (an unchanged file is skipped before
any work is sent out), the order of commits, removal, the indexes. An engine only computes:
- `prepare(jobs)`: each changed file's bytes -> its chunk rows and file record, or why it cannot be
  used (`prepare_file`, the same function whatever runs it);
- `embed(batches)`: each batch of embedding texts -> its vectors.
Both yield results in the order they were given, and neither writes anything: the driver alone
commits through `Store`, so a task that Ray runs twice (a worker died) still lands once.

`LocalEngine` does both in this process; `ray_engine.RayEngine` maps them over a Ray cluster.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from atlas_tui.knowledge import loaders, records
from atlas_tui.knowledge.chunking import chunk_document, load_token_counter
from atlas_tui.knowledge.records import Chunk, LoadedDocument
from atlas_tui.knowledge.store import FileRecord, chunk_id

if TYPE_CHECKING:
    from atlas_tui.knowledge.embedding import Embedder
    from atlas_tui.knowledge.tokens import TokenCounter

PROGRESS_EVERY = 32  # chunks handed to one worker at a time (and between two progress reports)


@dataclass(frozen=True, slots=True)
class FileJob:
    """A new or changed file, read and hashed by the driver, to be extracted and chunked."""

    path: str
    root: str
    key: str  # file_id
    raw: bytes
    mtime: float


@dataclass(frozen=True, slots=True)
class Prepared:
    """A file's chunk rows (vectors empty) and its record, ready to commit."""

    key: str
    record: FileRecord
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Unusable:
    """A file that cannot be ingested, and why (a `loaders.LoadError` message)."""

    key: str
    path: str
    reason: str


Outcome = Prepared | Unusable


def read_file(path: Path, max_bytes: int) -> tuple[bytes, float, str]:
    """(bytes, mtime, sha256 hex) of a regular file, or `loaders.LoadError`."""
    raw, info = loaders.read_regular(path, max_bytes)
    return raw, info.st_mtime, hashlib.sha256(raw).hexdigest()


def search_text(doc: LoadedDocument, chunk: Chunk) -> str:
    """What BM25 reads: where the chunk sits (title, heading path, file path), then its text."""
    path_words = doc.source.replace("/", " ").replace("_", " ").replace(".", " ")
    return f"{doc.title}\n{chunk.heading}\n{path_words}\n{chunk.text}"


def chunk_rows(
    doc: LoadedDocument, key: str, chunks: Sequence[Chunk], reader: int
) -> list[dict[str, Any]]:
    return [
        {
            "id": chunk_id(key, doc.content_hash, reader, c.chunk_index),
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
            "search_text": search_text(doc, c),
            "vector": None,
        }
        for c in chunks
    ]


def prepare_file(job: FileJob, counter: TokenCounter) -> Outcome:
    """Extract and chunk one file (pure: reads nothing but `job`, writes nothing)."""
    try:
        doc = loaders.extract(Path(job.path), Path(job.root), job.raw, job.mtime)
        chunks = chunk_document(doc, counter)
        if not chunks:
            raise loaders.LoadError("no text to index")
    except loaders.LoadError as exc:
        return Unusable(job.key, job.path, str(exc))
    reader = records.READER_VERSION
    record = FileRecord(
        job.key, doc.root, doc.source, doc.content_hash, doc.mtime, len(chunks), reader
    )
    return Prepared(job.key, record, chunk_rows(doc, job.key, chunks, reader))


def embedding_text(row: dict[str, Any]) -> str:
    """What the encoder reads for a pending chunk row (see `Chunk.embedding_text`)."""
    return Chunk(row["text"], row["heading"], 0, 0, 0, 0, 0).embedding_text(row["title"])


def encode_batch(
    embedder: Embedder, texts: Sequence[str], encoded: Callable[[int], None] | None = None
) -> np.ndarray:
    """Vectors of one batch, handed out PROGRESS_EVERY texts at a time, as many at once as the
    embedder has workers (the same grouping whichever engine runs it); `encoded(n)` hears of the
    texts done so far."""
    return embedder.encode_documents(texts, batch_size=PROGRESS_EVERY, on_part=encoded)


class Engine(Protocol):
    name: str  # local | ray
    workers: int  # how many encoders run at once (shown with the progress)

    def prepare(self, jobs: Iterable[FileJob]) -> Iterator[Outcome]:
        """One outcome per job, in order; `jobs` is pulled lazily (a few ahead at most)."""
        ...

    def embed(
        self, batches: Iterable[list[str]], encoded: Callable[[int], None]
    ) -> Iterator[np.ndarray]:
        """One (len(batch), dimension) array per batch, in order; `encoded(n)` may report
        chunks encoded within the current batch (for a moving progress bar)."""
        ...

    def close(self) -> None: ...


class LocalEngine:
    """Everything in this process: the encoder on all its cores."""

    name = "local"
    workers = 1

    def __init__(self, embedder: Embedder) -> None:
        self.embedder = embedder
        self._counter: TokenCounter | None = None

    def prepare(self, jobs: Iterable[FileJob]) -> Iterator[Outcome]:
        for job in jobs:
            if self._counter is None:
                self._counter = load_token_counter(self.embedder.model_path)
            yield prepare_file(job, self._counter)

    def embed(
        self, batches: Iterable[list[str]], encoded: Callable[[int], None]
    ) -> Iterator[np.ndarray]:
        for texts in batches:
            yield encode_batch(self.embedder, texts, encoded)

    def close(self) -> None:
        return None
