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
    documents: int
    chunks: int
    embedded_chunks: int
    embedding_model: str
    dimension: int
    location: str
    size_bytes: int | None  # None for an object-store URI
    last_ingest: str | None  # ISO time

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
        with self._lock:
            if self._embedder is None:
                from atlas_tui.knowledge.embedding import get_embedder

                self._embedder = get_embedder(self.settings.embedding_model)
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

    def encode_titles(self, titles: Sequence[str]) -> np.ndarray:
        """Title vectors, each encoded once per process (titles are few and short)."""
        import numpy as np

        missing = [t for t in titles if t not in self._title_vectors]
        if missing:
            vectors = self.embedder.encode_documents(missing)
            with self._lock:
                self._title_vectors.update(zip(missing, vectors, strict=True))
        return np.stack([self._title_vectors[t] for t in titles])

    def stats(self) -> IndexStats:
        store = self.store
        store.open()
        meta = store.meta()
        return IndexStats(
            documents=len(store.files()),
            chunks=store.count(),
            embedded_chunks=store.count("vector IS NOT NULL"),
            embedding_model=meta.get("embedding_model", ""),
            dimension=int(meta.get("dimension") or 0),
            location=store.uri,
            size_bytes=store.size_bytes(),
            last_ingest=meta.get("last_ingest"),
        )

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
        """Add new and changed files, drop vanished ones, embed what is missing. See ingest.py."""
        from atlas_tui.knowledge.ingest import Ingestor

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
