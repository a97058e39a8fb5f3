"""The knowledge base facade the query client, the CLI and the TUI use.

Constructing it is cheap: LanceDB and the embedding model load on first use (or on `warm()`, which a
UI calls off its main thread).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas_tui.config import Settings
from atlas_tui.errors import IndexError_
from atlas_tui.types import Passage

if TYPE_CHECKING:
    import numpy as np

    from atlas_tui.knowledge.embedding import Embedder
    from atlas_tui.knowledge.health import Health
    from atlas_tui.knowledge.ingest import IngestProgress, IngestReport
    from atlas_tui.knowledge.store import Store


@dataclass(frozen=True, slots=True)
class IndexStats:
    """What the index holds. `chunks` counts every passage (keyword search finds them all);
    `embedded_chunks` those with a vector (all that vector search can find): a front end says
    both, never the first alone, while passages await embedding (`summary()`)."""

    documents: int
    chunks: int
    embedded_chunks: int
    pending_chunks: int  # awaiting a vector: `atlas-tui ingest` (or a resume) embeds them
    embedding_model: str
    dimension: int
    vectors: str  # the kind of vectors (hardware.py): fp32 or int8
    encoders: str  # the encoder paths that embedded them, "int8" or "bf16,fp32"
    encoder_here: str  # the path this machine uses for this index, and why
    location: str
    size_bytes: int | None  # None for an object-store URI
    last_ingest: str | None  # ISO time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        """'333 documents, 11,104 passages (634 embedded)' while some await a vector, else
        '333 documents, 11,104 passages': what a status line shows."""
        text = f"{self.documents:,} documents, {self.chunks:,} passages"
        if self.pending_chunks:
            text += f" ({self.embedded_chunks:,} embedded)"
        return text


class KnowledgeBase:
    """Ingest folders into the index and search it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._store: Store | None = None
        self._embedder: Embedder | None = None
        self._checked = False
        self._title_vectors: dict[str, np.ndarray] = {}  # document title -> its embedding

    # --- the parts, made on first use ------------------------------------------------------------

    @property
    def store(self) -> Store:
        with self._lock:
            if self._store is None:
                from atlas_tui.knowledge.store import Store

                self._store = Store(
                    self.settings.resolved_db_path,
                    self.settings.collection,
                    self.settings.storage,
                    lease_timeout=self.settings.lease_timeout,
                )
            return self._store

    @property
    def embedder(self) -> Embedder:
        """The model, on the fastest encoder path for the index's kind of vectors (hardware.py;
        a new index: for this CPU)."""
        with self._lock:
            if self._embedder is None:
                from atlas_tui.knowledge.embedding import get_embedder

                vectors = self.store.vectors() if self.store.exists() else None
                self._embedder = get_embedder(
                    self.settings.embedding_model, self.settings.encoder, vectors
                )
            return self._embedder

    def exists(self) -> bool:
        return self.store.exists()

    def _open_checked(self) -> Store:
        """The store, opened and checked against the configured model (no model load needed)."""
        store = self.store
        if not self._checked:
            store.open()
            store.check_model(self.embedder.name, self.embedder.dimension)
            self._checked = True  # once per KnowledgeBase: it saves a table read per search
        return store

    def warm(self) -> None:
        """Open the index and load the model (slow: seconds). Idempotent and thread-safe."""
        with self._lock:
            self._open_checked()
            self.embedder.warm()

    # --- searching ---

    def search(
        self,
        query: str,
        *,
        mode: str = "hybrid",
        limit: int = 6,
        source: str | None = None,
        where: dict[str, Any] | None = None,
        min_score: float = 0.0,
    ) -> list[Passage]:
        from atlas_tui.knowledge import retrieval

        retrieval.check_knobs(limit, min_score)  # before any work: a bad value is never used
        store = self._open_checked()
        return retrieval.search(
            store,
            query,
            encode=self.embedder.encode_query,
            encode_titles=self.encode_titles,
            mode=mode,
            limit=limit,
            source=source,
            where=where,
            min_score=min_score,
        )

    def around(self, passage: Passage, before: int, after: int) -> list[Passage]:
        """`passage` and up to `before` and `after` chunks next to it in its file, in file order
        (research mode's `read`). The neighbours carry the passage's score."""
        from atlas_tui.knowledge import retrieval

        return retrieval.around(self._open_checked(), passage, before, after)

    def encode_titles(self, titles: Sequence[str]) -> np.ndarray:
        """Title vectors, each encoded once per process (titles are few and short)."""
        import numpy as np

        missing = [t for t in titles if t not in self._title_vectors]
        if missing:
            vectors = self.embedder.encode_queries(missing)
            with self._lock:
                self._title_vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._title_vectors[t] for t in titles])

    def stats(self) -> IndexStats:
        store = self.store
        store.open()
        meta = store.meta()
        chunks, pending = store.count(), store.count("vector IS NULL")
        return IndexStats(
            documents=len(store.files()),
            chunks=chunks,
            embedded_chunks=chunks - pending,
            pending_chunks=pending,
            embedding_model=meta.get("embedding_model", ""),
            dimension=int(meta.get("dimension") or 0),
            vectors=store.vectors(),
            encoders=meta.get("encoders", ""),
            encoder_here=self._encoder_here(),
            location=store.uri,
            size_bytes=store.size_bytes(),
            last_ingest=meta.get("last_ingest"),
        )

    def _encoder_here(self) -> str:
        """The path this machine would embed with, and why ("" when the model cannot load)."""
        from atlas_tui.errors import EmbeddingModelError, ModelMismatchError

        try:
            return self.embedder.describe()
        except (EmbeddingModelError, ModelMismatchError) as error:
            return f"none: {error.message}"

    def pending(self) -> int:
        """How many passages await a vector (0 without an index). Cheap: a count."""
        if not self.store.exists():
            return 0
        self.store.open()
        return self.store.count("vector IS NULL")

    def check(
        self, *, repair: bool = False, on_wait: Callable[[], None] = lambda: None
    ) -> tuple[Health, list[str]]:
        """Verify the index (health.py); with `repair`, drop what is damaged and say what was done.

        A repair waits for an ingest into the same index to finish (`on_wait` says so first).

        Returns the health found (after a repair: found again) and the repairs made.
        """
        from atlas_tui.knowledge import health
        from atlas_tui.knowledge.writer_lock import writer_lock

        store = self._open_checked()
        found = health.check(store)
        if not repair or found.clean:
            return found, []
        with writer_lock(store.uri, store.collection, on_wait=on_wait), store.exclusive():
            found = health.check(store)
            done = health.repair(store, found) if not found.clean else []
        return health.check(store), done

    # --- ingesting ---

    def ingest(
        self,
        paths: Sequence[str | Path],
        *,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        progress: Callable[[IngestProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestReport:
        """Add new and changed files, drop vanished ones, embed what is missing. See ingest.py.

        No paths: embed the passages awaiting a vector, nothing else (`resume_embedding`).
        `should_stop` (e.g. a `steering.StopHandle`) ends the run after the batch in hand."""
        from atlas_tui.knowledge.ingest import Ingestor

        with self._lock:  # the index may have been made (with its kind of vectors) meanwhile
            self._embedder, self._checked = None, False
        engine = None
        if self.settings.ingest_engine == "ray":
            from atlas_tui.knowledge.ray_engine import RayEngine

            engine = RayEngine(self.embedder, address=self.settings.ray_address or None)
        ingestor = Ingestor(
            self.store,
            self.embedder,
            max_bytes=self.settings.max_file_bytes,
            progress=progress,
            should_stop=should_stop,
            engine=engine,
        )
        return ingestor.run(paths, include, exclude)

    def resume_embedding(
        self,
        *,
        progress: Callable[[IngestProgress], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> IngestReport:
        """Embed the passages an earlier ingest left awaiting a vector (stopped, killed, or
        still running elsewhere); the index stays searchable meanwhile. `IndexMissingError`
        without an index."""
        self.store.open()
        return self.ingest([], progress=progress, should_stop=should_stop)

    def document_text(self, passage: Passage) -> str:
        """The whole extracted text of the passage's file (for a preview in context)."""
        from atlas_tui.knowledge import loaders

        try:
            doc = loaders.load_document(
                Path(passage.path), Path(passage.root), self.settings.max_file_bytes
            )
        except loaders.LoadError as exc:
            raise IndexError_(f"Cannot reload {passage.path}: {exc}") from exc
        return doc.text
