"""Passages awaiting a vector: embedded batch by batch, each batch committed as it comes back.

An ingest's second phase, and the whole of a resume (`atlas-tui ingest` with no paths, or a front
end opening an index with passages awaiting): the passages without a vector are fetched a window
at a time, sorted by length (less padding), sent to the engine in batches (several may be out at
once), and each batch's vectors are committed as they return. Stopping (`should_stop`) hands out
no more batches: the ones already out are committed, so a stop loses nothing and the next run
starts where this one ended. Keyword search covers every passage meanwhile; vector search the
embedded ones.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas_tui.knowledge.engine import Engine, embedding_text
from atlas_tui.knowledge.object_store import is_remote
from atlas_tui.knowledge.steering import (
    PIECES,
    UNIT_CAP,
    UNIT_FIXED,
    WORD_PIECES_PER_PIECE,
    ProgressMeter,
    count_pieces,
    passage_units,
)
from atlas_tui.knowledge.store import Store

PENDING_WINDOW = 1024  # passages fetched at once to embed, sorted by length to limit padding
EMBED_BATCH = 128  # passages per committed embedding batch
# A vector update rewrites its rows into new fragments, which the full-text index does not cover
# yet (BM25 then scans them): re-index and compact after this many embedded passages.
OPTIMIZE_EVERY = 2048


def row_units(row: dict[str, Any]) -> int:
    """The estimated work of embedding a pending row (steering.passage_units)."""
    context = row.get("heading") or row.get("title") or ""
    return passage_units(count_pieces(context) + count_pieces(row.get("text") or ""))


def pending_work(store: Store) -> tuple[int, int]:
    """(passages awaiting a vector, their estimated work) in the index."""
    pieces = store.pending_pieces(PIECES)
    # passage_units, for them all at once
    units = np.minimum(np.rint(pieces * WORD_PIECES_PER_PIECE), UNIT_CAP) + UNIT_FIXED
    return len(pieces), int(units.sum())


@dataclass(slots=True)
class Outcome:
    embedded: int = 0
    interrupted: bool = False


class PendingEmbedding:
    """One pass over the passages awaiting a vector (see the module doc)."""

    def __init__(
        self,
        store: Store,
        engine: Engine,
        meter: ProgressMeter,
        *,
        progress: Callable[[str], None],
        should_stop: Callable[[], bool],
    ) -> None:
        self.store = store
        self.engine = engine
        self.meter = meter
        self.progress = progress  # tells the caller to report `meter.event(phase)`
        self.should_stop = should_stop
        self._sent = deque[tuple[list[str], int]]()

    def run(self) -> Outcome:
        total, units = pending_work(self.store)
        outcome = Outcome()
        self.meter.embedding_starts(total, units)
        self.progress("embedding")
        sent = self._sent = deque[tuple[list[str], int]]()  # (ids, work) out, oldest first
        out: set[str] = set()

        def batches() -> Iterator[list[str]]:
            handed = 0
            while handed < total:
                # The next window of pending passages, less those out already (not yet committed).
                rows = self.store.pending(
                    PENDING_WINDOW + len(out), self._window_offset(total - handed)
                )
                window = [row for row in rows if row["id"] not in out]
                if not window:
                    return
                window.sort(key=lambda row: len(row["text"]))
                for i in range(0, len(window), EMBED_BATCH):
                    if self.should_stop() or handed >= total:
                        outcome.interrupted |= handed < total
                        return
                    batch = window[i : i + EMBED_BATCH]
                    sent.append(([row["id"] for row in batch], sum(map(row_units, batch))))
                    out.update(sent[-1][0])
                    handed += len(batch)
                    yield [embedding_text(row) for row in batch]

        for vectors in self.engine.embed(batches(), self._encoded):
            ids, work = sent.popleft()
            self.store.set_vectors(ids, vectors)
            out.difference_update(ids)
            outcome.embedded += len(ids)
            self.meter.embedded(len(ids), work)
            self.progress("embedding")
            if outcome.embedded % OPTIMIZE_EVERY < len(ids) and outcome.embedded < total:
                self.store.optimize()
        return outcome

    def _encoded(self, n: int) -> None:
        """`n` passages of the oldest batch out are encoded (not committed yet): a bar moves."""
        if self._sent:
            ids, work = self._sent[0]
            self.meter.encoding(n, work * n // max(len(ids), 1))
            self.progress("embedding")

    def _window_offset(self, left: int) -> int:
        """Where the next window of pending passages starts: at the first, except on an object
        store, where other machines may be embedding the same passages: there a random place, so
        that concurrent ingests mostly share the work instead of repeating it."""
        if not is_remote(self.store.uri) or left <= PENDING_WINDOW:
            return 0
        return random.randrange(0, left - PENDING_WINDOW + 1)
