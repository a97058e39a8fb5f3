"""Embedding ahead: passages encoded on a spare core while the ingest is still reading files.

Reading and chunking run on one core (Python); the encoder, once its phase starts, on all of them.
While files are still being read, the other cores would idle: an `EmbedAhead` encodes the passages
chunked so far on one of them, in the order they were chunked, and hands the vectors back when
reading ends (`finish`); the ingest commits them before its embedding phase, which then finds
only the rest awaiting a vector. Nothing is written from here, so steering, resume and the writer
lock stay the ingest's alone.
A vector does not depend on what it is encoded with (each text runs on its own:
embedding_onnx.py), so a passage encoded ahead gets exactly the vector the embedding phase would
have given it. Only for the ONNX paths (the torch paths pad batches), on a machine with a core to
spare, and for a run with enough to read (MIN_BYTES: a few small files are read in well under a
second, with nothing to hide); `finish` waits for the texts in hand, at most AHEAD_GROUP of them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from atlas_tui.knowledge.engine import embedding_text

if TYPE_CHECKING:
    from typing import Any

    from atlas_tui.knowledge.embedding import Embedder

logger = logging.getLogger(__name__)

AHEAD_GROUP = 8  # passages encoded between two looks at whether reading has ended
MIN_BYTES = 1_000_000  # to read (about 2 s of chunking on a 2-core AMD EPYC) before it pays


def wanted(embedder: Embedder, engine_name: str, bytes_to_read: int) -> bool:
    """Whether embedding ahead pays: a local ONNX encoder, a core beside the reader's, and
    files enough to keep it busy."""
    return (
        engine_name == "local"
        and embedder.encoder == "onnx"
        and embedder.workers > 1
        and bytes_to_read >= MIN_BYTES
    )


class EmbedAhead:
    """Encodes offered passages on one background thread until `finish` (see the module doc)."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self._queue: deque[tuple[str, str]] = deque()  # (row id, embedding text), oldest first
        self._ids: list[str] = []
        self._vectors: list[np.ndarray] = []
        self._wake = threading.Condition()
        self._finished = False
        self.error: BaseException | None = None  # what stopped it early (the phase redoes it)
        self._thread = threading.Thread(target=self._work, name="atlas-embed-ahead", daemon=True)
        self._thread.start()

    def offer(self, rows: Sequence[dict[str, Any]]) -> None:
        """Chunk rows just prepared (written soon with empty vectors): encode them when free."""
        with self._wake:
            self._queue.extend((row["id"], embedding_text(row)) for row in rows)
            self._wake.notify()

    def finish(self) -> tuple[list[str], np.ndarray | None]:
        """Stop taking work; (row ids, their vectors) of everything encoded so far."""
        with self._wake:
            self._finished = True
            self._queue.clear()
            self._wake.notify()
        self._thread.join()  # bounded: the group in hand (AHEAD_GROUP passages)
        if not self._ids:
            return [], None
        return self._ids, np.concatenate(self._vectors)

    def _next_group(self) -> list[tuple[str, str]] | None:
        with self._wake:
            while not self._queue and not self._finished:
                self._wake.wait()
            if self._finished:
                return None
            count = min(AHEAD_GROUP, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _work(self) -> None:
        while (group := self._next_group()) is not None:
            try:
                vectors = self._embedder.encode_documents(
                    [text for _id, text in group], batch_size=len(group), workers=1
                )
            except Exception as error:  # the embedding phase encodes these again, and says why
                logger.warning("embedding ahead stopped: %s", error)
                self.error = error
                return
            self._ids.extend(row_id for row_id, _text in group)
            self._vectors.append(vectors)
