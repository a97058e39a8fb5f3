"""The index in LanceDB: a chunks table, a files table (for incremental ingest) and a meta table.

Nothing user-supplied is ever spliced raw into a LanceDB predicate: rows are addressed by hex ids
(`file_id`, `id`), and the few literal values a caller filters on go through `sql_literal`.
LanceDB reports a garbled manifest as a Rust panic (`pyo3_runtime.PanicException`, a
BaseException); `guard` (faults.py) turns that, and LanceDB's own errors, into one-line errors.

Document identity: a file is one document whatever root reached it. Its `file_id` is a hash of
its real path (absolute, symlinks resolved, `document_path`), so `ingest docs` then
`ingest docs/sub` finds the same documents, and a file reached through a symlinked folder is the
one file it points to. The `root` and `source` columns say how the last ingest that wrote the file
reached it (what `--source` globs and the UI show).

Crash safety: every write is ordered so that a kill between any two of them leaves a state the
next ingest converges from (`audit` finds what is half-written; see ingest.py):
- writing a file: its chunks are replaced (one commit), then its record (the commit point);
- deleting files: their chunks go first, then their records (a record left without chunks is
  found by `audit` and redone or dropped).
Writes that lose a commit race to another process are retried (`faults.retrying`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from atlas_tui.errors import (
    IndexCorruptError,
    IndexMissingError,
    IngestError,
    ModelMismatchError,
)
from atlas_tui.knowledge.faults import guard, retrying
from atlas_tui.knowledge.lease import Lease, initial_rows
from atlas_tui.knowledge.object_store import (
    deadline_s,
    is_remote,
    probe,
    storage_options,
    within_deadline,
)

__all__ = ["FileRecord", "Store", "chunk_id", "chunk_schema", "file_id", "guard", "in_list"]

if TYPE_CHECKING:
    from lancedb.db import DBConnection
    from lancedb.table import Table

SCHEMA_VERSION = "1"
# Exact search costs ~2.6 ms per 1k rows here (262 ms p50 at 100k, 2 busy cores), so above ~20k
# rows it would eat the 50 ms budget of a hybrid query; an IVF_HNSW_SQ index then answers in
# ~27 ms at recall@10 1.00 against exact (benchmarks/bench_search.py --quick).
VECTOR_INDEX_MIN_ROWS = 20_000
VECTOR_NPROBES = 32
VECTOR_EF = 200  # HNSW candidates per partition searched
T = TypeVar("T")
VECTOR_REFINE = 4  # re-rank 4x the limit with the exact vectors (SQ is lossy)


def sql_literal(value: object) -> str:
    """A value as a SQL literal for a LanceDB predicate (strings: single quotes doubled)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def in_list(column: str, values: Sequence[object]) -> str:
    return f"{column} IN ({', '.join(sql_literal(v) for v in values)})"


def document_path(path: str | Path) -> str:
    """The path that names a document: absolute, with every symlink resolved."""
    return os.path.realpath(path)


def file_id(real_path: str) -> str:
    """A document's id: a hash of its `document_path` (see the module doc)."""
    return hashlib.sha1(real_path.encode()).hexdigest()[:20]


def chunk_id(file_key: str, content_hash: str, index: int) -> str:
    return hashlib.sha1(f"{file_key}\n{content_hash}\n{index}".encode()).hexdigest()[:20]


def chunk_schema(dimension: int) -> pa.Schema:
    return pa.schema(
        [
            pa.field("id", pa.string(), nullable=False),
            pa.field("file_id", pa.string(), nullable=False),
            pa.field("source", pa.string()),
            pa.field("root", pa.string()),
            pa.field("title", pa.string()),
            pa.field("heading", pa.string()),
            pa.field("kind", pa.string()),
            pa.field("chunk_index", pa.int32()),
            pa.field("start", pa.int64()),
            pa.field("end", pa.int64()),
            pa.field("line_start", pa.int32()),
            pa.field("line_end", pa.int32()),
            pa.field("page", pa.int32(), nullable=True),
            pa.field("mtime", pa.float64()),
            pa.field("content_hash", pa.string()),
            pa.field("text", pa.string()),
            pa.field("search_text", pa.string()),  # title, heading path, source and text: for BM25
            pa.field("vector", pa.list_(pa.float32(), dimension), nullable=True),
        ]
    )


FILE_SCHEMA = pa.schema(
    [
        pa.field("file_id", pa.string(), nullable=False),
        pa.field("root", pa.string()),
        pa.field("source", pa.string()),
        pa.field("content_hash", pa.string()),
        pa.field("mtime", pa.float64()),
        pa.field("chunks", pa.int32()),
    ]
)
META_SCHEMA = pa.schema([pa.field("key", pa.string()), pa.field("value", pa.string())])


@dataclass(frozen=True, slots=True)
class FileRecord:
    file_id: str
    root: str
    source: str
    content_hash: str
    mtime: float
    chunks: int


class Store:
    """One collection of one LanceDB database. Cheap to construct; connects on first use."""

    def __init__(
        self,
        uri: str,
        collection: str,
        storage: Mapping[str, str] | None = None,
        *,
        lease_timeout: float = 300.0,
    ) -> None:
        self.uri = uri
        self.collection = collection
        self.storage = dict(storage or {})  # the config file's [storage] (object_store.py)
        self._db: DBConnection | None = None
        self._chunks: Table | None = None
        self._files: Table | None = None
        self._meta: Table | None = None
        # what a writer waiting for an object-store index's lease says (who holds it, until when)
        self.on_lease_wait: Callable[[str], None] = lambda _detail: None
        self._lease = (
            Lease(self._lease_table, timeout=lease_timeout, on_wait=self._lease_waits)
            if is_remote(uri)
            else None
        )
        self._lease_rows: Table | None = None
        self._deadline_s: float | None = None  # an object store's: each opening step at most

    # --- opening ---

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the write lease of an object-store index (lease.py); reentrant. A local index's
        writers take turns per ingest instead (writer_lock.py), so there it does nothing."""
        if self._lease is None:
            yield
            return
        with guard(self.uri, "locked for writing", IngestError), self._lease.held():
            yield

    def _lease_waits(self, detail: str) -> None:
        self.on_lease_wait(detail)

    def _lease_table(self, fresh: bool = False) -> Table:
        """The lease table (made with the collection by `open_for_writing`; made here for an
        index from before it had one), opened once, or again when `fresh`."""
        if self._lease_rows is None or fresh:
            db, name = self._connect(), self._lease_name
            with guard(self.uri, "locked for writing", IngestError):
                if name in self._table_names():
                    self._lease_rows = db.open_table(name)
                else:
                    self._lease_rows = db.create_table(name, data=initial_rows(), exist_ok=True)
        return self._lease_rows

    @property
    def _lease_name(self) -> str:
        return f"{self.collection}__lease"

    @property
    def _names(self) -> tuple[str, str, str]:
        c = self.collection
        return c, f"{c}__files", f"{c}__meta"

    def _connect(self) -> DBConnection:
        if self._db is None:
            import lancedb

            self._check_local_path()
            options = storage_options(self.storage) if is_remote(self.uri) else None
            if options is not None:
                probe(self.uri, options)
                self._deadline_s = deadline_s(options)
            with guard(self.uri, "opened"):
                # interval 0: every read checks for the latest version, so a reader opened before
                # a write (the TUI while `atlas-tui ingest` runs) sees that write.
                self._db = self.bounded(
                    lambda: lancedb.connect(
                        self.uri,
                        read_consistency_interval=timedelta(0),
                        storage_options=options,
                    ),
                    "opened",
                )
        return self._db

    def bounded(self, action: Callable[[], T], doing: str) -> T:
        """One step that opens or reads the index; on an object store, bounded as a whole (a
        stalled store can make LanceDB repeat its requests for minutes: see object_store.py).
        Writes are not: one left running on its own could still land after we gave up on it."""
        if self._deadline_s is None:
            return action()
        return within_deadline(action, self.uri, self._deadline_s, doing)

    def _check_local_path(self) -> None:
        if not is_remote(self.uri) and Path(self.uri).exists() and not Path(self.uri).is_dir():
            raise IndexCorruptError(f"The index path {self.uri} is a file, not a folder.")

    def _table_names(self) -> set[str]:
        db = self._connect()
        with guard(self.uri, "listed"):
            return set(self.bounded(lambda: db.list_tables().tables, "listed"))

    def exists(self) -> bool:
        """Whether the collection exists (does not validate it)."""
        if not is_remote(self.uri) and not Path(self.uri).is_dir():
            return False
        return self.collection in self._table_names()

    def open(self) -> None:
        """Open an existing collection for reading; raise if missing, foreign or corrupt."""
        if self._chunks is not None:
            return
        self._check_local_path()
        if not self.exists():
            raise IndexMissingError(
                f"There is no index {self.collection!r} at {self.uri}.",
            )
        names = self._names
        if not {names[1], names[2]} <= self._table_names():
            raise IndexCorruptError(
                f"The table {self.collection!r} at {self.uri} was not made by atlas-tui "
                "(its bookkeeping tables are missing)."
            )
        db = self._connect()

        def open_tables() -> tuple[Table, Table, Table]:
            chunks, files, meta = (db.open_table(n) for n in names)
            chunks.count_rows()  # reads the manifest: a garbled one fails here, not later
            files.count_rows()
            return chunks, files, meta

        with guard(self.uri, "opened"):
            self._chunks, self._files, self._meta = self.bounded(open_tables, "opened")

    def open_for_writing(self, model: str, dimension: int) -> None:
        """Open the collection, creating it for this model when it does not exist yet.

        Two processes may create it at once: each table is created whole or opened as it is
        (`exist_ok`), so the one that loses the race simply opens what the winner made.
        """
        if self._chunks is None and not self.exists():
            db = self._connect()
            names = self._names
            wanted = [
                {"key": "schema_version", "value": SCHEMA_VERSION},
                {"key": "embedding_model", "value": model},
                {"key": "dimension", "value": str(dimension)},
            ]
            with guard(self.uri, "created", IngestError):
                meta = db.create_table(
                    names[2], data=pa.Table.from_pylist(wanted, META_SCHEMA), exist_ok=True
                )
                stored = {row["key"]: row["value"] for row in meta.to_arrow().to_pylist()}
                if not self.collection_exists_now() and stored != {
                    r["key"]: r["value"] for r in wanted
                }:  # left by a creation that never finished (another model): start again
                    retrying(lambda: meta.delete("true"))
                    retrying(lambda: meta.add(pa.Table.from_pylist(wanted, META_SCHEMA)))
                files = db.create_table(names[1], schema=FILE_SCHEMA, exist_ok=True)
                chunks = db.create_table(names[0], schema=chunk_schema(dimension), exist_ok=True)
                if self._lease is not None:  # every table made up front, before any row lands
                    db.create_table(self._lease_name, data=initial_rows(), exist_ok=True)
            self._chunks, self._files, self._meta = chunks, files, meta
        self.open()
        self.check_model(model, dimension)

    def collection_exists_now(self) -> bool:
        return self.collection in self._table_names()

    def check_model(self, model: str, dimension: int) -> None:
        meta = self.meta()
        stored_model, stored_dim = meta.get("embedding_model", ""), meta.get("dimension", "")
        if stored_model != model or stored_dim != str(dimension):
            raise ModelMismatchError(
                f"The index at {self.uri} was built with {stored_model or '?'} "
                f"({stored_dim or '?'} dimensions), not {model} ({dimension} dimensions)."
            )

    @property
    def chunks(self) -> Table:
        self.open()
        assert self._chunks is not None
        return self._chunks

    # --- bookkeeping ---

    def meta(self) -> dict[str, str]:
        self.open()
        assert self._meta is not None
        meta = self._meta
        with guard(self.uri, "read"):
            rows = self.bounded(meta.to_arrow, "read").to_pylist()
        return {row["key"]: row["value"] for row in rows}

    def set_meta(self, key: str, value: str) -> None:
        self.open()
        assert self._meta is not None
        meta = self._meta
        table = pa.table({"key": [key], "value": [value]}, schema=META_SCHEMA)
        with self.exclusive(), guard(self.uri, "written", IngestError):
            retrying(
                lambda: (
                    meta.merge_insert("key")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(table)
                )
            )

    def files(self) -> dict[str, FileRecord]:
        self.open()
        assert self._files is not None
        files = self._files
        with guard(self.uri, "read"):
            rows = self.bounded(files.to_arrow, "read").to_pylist()
        return {row["file_id"]: FileRecord(**row) for row in rows}

    # --- writing ---

    def write_files(self, records: Sequence[FileRecord], rows: pa.Table) -> int:
        """Replace the chunks of these files with `rows`, then record the files; return how
        many rows were written.

        The chunks are replaced in one commit (new ones inserted, the files' other ones deleted),
        so a reader never finds a file without its passages. The file record is written last: it
        is the commit point. Until it lands, the next ingest sees the file as changed and redoes
        it, so an interruption anywhere leaves no half file. Files whose record already has this
        content (another machine wrote them while this ingest read them) are left as they are.
        """
        self.open()
        assert self._files is not None
        files, chunks = self._files, self.chunks
        with self.exclusive(), guard(self.uri, "written", IngestError):
            records, rows = self._not_yet_written(records, rows)
            if not records:
                return 0
            table = pa.Table.from_pylist([asdict(r) for r in records], schema=FILE_SCHEMA)
            others = in_list("file_id", [r.file_id for r in records])
            if rows.num_rows:
                retrying(
                    lambda: (
                        chunks.merge_insert("id")
                        .when_not_matched_insert_all()
                        .when_not_matched_by_source_delete(others)
                        .execute(rows, on_bad_vectors="null")
                    )
                )
            else:
                retrying(lambda: chunks.delete(others))
            retrying(
                lambda: (
                    files.merge_insert("file_id")
                    .when_matched_update_all()
                    .when_not_matched_insert_all()
                    .execute(table)
                )
            )
        return rows.num_rows

    def _not_yet_written(
        self, records: Sequence[FileRecord], rows: pa.Table
    ) -> tuple[list[FileRecord], pa.Table]:
        """`records` and `rows` without the files already recorded with this very content."""
        if not records:
            return [], rows
        assert self._files is not None
        stored = (
            self._files.search()
            .where(in_list("file_id", [r.file_id for r in records]))
            .select(["file_id", "content_hash"])
            .to_arrow()
            .to_pylist()
        )
        done = {(row["file_id"], row["content_hash"]) for row in stored}
        wanted = [r for r in records if (r.file_id, r.content_hash) not in done]
        if len(wanted) == len(records):
            return wanted, rows
        keep = pa.array([r.file_id for r in wanted], pa.string())
        return wanted, rows.filter(pc.is_in(rows["file_id"], value_set=keep))

    def delete_files(self, ids: Sequence[str]) -> None:
        """Forget these files: their chunks first, then their records (see the module doc)."""
        if not ids:
            return
        self.open()
        assert self._files is not None
        files, chunks = self._files, self.chunks
        with guard(self.uri, "written", IngestError):
            retrying(lambda: chunks.delete(in_list("file_id", ids)))
            retrying(lambda: files.delete(in_list("file_id", ids)))

    def delete_chunks_of(self, ids: Sequence[str]) -> None:
        """Drop the chunks of these file ids (orphans: their files have no record)."""
        if not ids:
            return
        chunks = self.chunks
        with guard(self.uri, "written", IngestError):
            retrying(lambda: chunks.delete(in_list("file_id", ids)))

    def pending(self, limit: int, offset: int = 0) -> list[dict[str, Any]]:
        """Up to `limit` chunks still waiting for their embedding, from the `offset`-th on."""
        with guard(self.uri, "read"):
            table = (
                self.chunks.search()
                .where("vector IS NULL")
                .select(["id", "title", "heading", "text"])
                .offset(offset)
                .limit(limit)
                .to_arrow()
            )
        return table.to_pylist()

    def set_vectors(self, ids: Sequence[str], vectors: np.ndarray) -> None:
        dimension = vectors.shape[1]
        flat = pa.array(np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1))
        table = pa.table(
            {
                "id": pa.array(ids, pa.string()),
                "vector": pa.FixedSizeListArray.from_arrays(flat, dimension),
            }
        )
        chunks = self.chunks
        with guard(self.uri, "written", IngestError):
            retrying(lambda: chunks.merge_insert("id").when_matched_update_all().execute(table))

    def count(self, predicate: str | None = None) -> int:
        chunks = self.chunks
        with guard(self.uri, "read"):
            return int(self.bounded(lambda: chunks.count_rows(predicate), "read"))

    def index_types(self) -> set[str]:
        chunks = self.chunks
        with guard(self.uri, "read"):
            return {str(index.index_type) for index in self.bounded(chunks.list_indices, "read")}

    def optimize(self, vector_index_min_rows: int = VECTOR_INDEX_MIN_ROWS) -> None:
        """Compact, bring the full-text index up to date, and build the vector index when due.

        While chunks wait for vectors and a vector index exists, only the full-text index is
        rebuilt: LanceDB 0.40's incremental index update fails ("Not found: .../ivf_0.lance") on
        new fragments whose vectors are all null. The full optimisation runs once all are embedded.
        """
        self.ensure_fts_index()
        pending = self.count("vector IS NULL")
        has_vector_index = any(t.upper().startswith("IVF") for t in self.index_types())
        if pending and has_vector_index:
            self.ensure_fts_index(rebuild=True)
            return
        embedded = self.count() - pending
        if not pending and embedded >= vector_index_min_rows and not has_vector_index:
            self.build_vector_index(embedded)
        assert self._files is not None
        files, chunks, keep = self._files, self.chunks, timedelta(minutes=2)
        with guard(self.uri, "optimized", IngestError):
            # optimize() also indexes rows added since the indexes were built
            retrying(lambda: chunks.optimize(cleanup_older_than=keep))
            retrying(lambda: files.optimize(cleanup_older_than=keep))

    def ensure_fts_index(self, *, rebuild: bool = False) -> None:
        from lancedb.index import FTS

        if rebuild or "FTS" not in self.index_types():
            chunks = self.chunks
            with guard(self.uri, "indexed", IngestError):
                retrying(
                    lambda: chunks.create_index("search_text", config=FTS(stem=True), replace=True)
                )

    def build_vector_index(self, rows: int) -> None:
        from lancedb.index import HnswSq

        partitions = max(1, round(np.sqrt(rows) / 4))
        config = HnswSq(distance_type="cosine", num_partitions=partitions)
        chunks = self.chunks
        with guard(self.uri, "indexed", IngestError):
            retrying(lambda: chunks.create_index("vector", config=config, replace=True))

    def size_bytes(self) -> int | None:
        if is_remote(self.uri):
            return None
        total = 0
        for dirpath, _dirs, names in os.walk(self.uri):
            for name in names:
                try:
                    total += os.lstat(os.path.join(dirpath, name)).st_size
                except OSError:
                    continue  # a file removed while we walk (a compaction running)
        return total
