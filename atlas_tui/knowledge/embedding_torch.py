"""The torch encoders: stock sentence-transformers in fp32 (any model), and the same model with
its matrix products in bfloat16 (`torch.autocast`: oneDNN runs them on AMX tiles or AVX-512 BF16).

Both run one intra-op thread per calling thread: the embedder encodes several batches at once on
worker threads (one per core), which keeps every core busy without the lock-step of torch's
thread pool, whose threads all wait for the slowest one (on a machine shared with other work,
the slowest is often descheduled: measured 2x slower than one thread per batch under load).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from atlas_tui.errors import EmbeddingModelError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class TorchEncoder:
    """sentence-transformers on torch; `bf16`: autocast its products to bfloat16."""

    def __init__(self, name: str, folder: Path | None, *, bf16: bool = False) -> None:
        import torch

        torch.set_num_threads(1)  # one per calling thread (see the module doc)
        self.model = load_sentence_transformer(name, folder)
        self.bf16 = bf16
        self.max_tokens = int(self.model.max_seq_length)

    def encode(self, texts: Sequence[str], threads: int = 1) -> np.ndarray:
        """Normalised float32 rows; `threads` is accepted for the encoder protocol: torch runs
        on the calling thread."""
        import torch

        with torch.inference_mode(), torch.autocast("cpu", torch.bfloat16, enabled=self.bf16):
            vectors = self.model.encode(
                list(texts),
                batch_size=len(texts),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)


def load_sentence_transformer(name: str, folder: Path | None) -> SentenceTransformer:
    from atlas_tui.knowledge.embedding import quiet_model_loading

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
