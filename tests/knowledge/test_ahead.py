"""Embedding ahead: passages encoded on a spare core while files are still read get exactly the
vectors the embedding phase would give them, are counted, and are kept when the run is stopped."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from atlas_tui.config import Settings
from atlas_tui.knowledge import ahead
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.embedding import Embedder
from atlas_tui.knowledge.steering import IngestProgress, StopHandle
from tests.corpus import write_files

NOTES = 80
SLOW_READ_S = 0.02  # per file: reading that takes a while, as a big corpus's does


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    words = ("lamp", "harbour", "granite", "willow", "ember", "quartz")
    return write_files(
        tmp_path / "notes",
        {
            f"n{i:03}.md": f"# Note {i}\n\nThe {words[i % len(words)]} keeper logs entry {i}.\n"
            for i in range(NOTES)
        },
    )


@pytest.fixture
def spare_core(embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ahead on for these small corpora, as on a 2-core machine whatever this one has."""
    monkeypatch.setattr(ahead, "MIN_BYTES", 0)
    monkeypatch.setattr(embedder, "workers", max(embedder.workers, 2))


def slow_reading(seen: list[IngestProgress], then: Callable[[IngestProgress], None] | None = None):
    def progress(event: IngestProgress) -> None:
        seen.append(event)
        if event.phase == "chunking" and event.files_done:
            time.sleep(SLOW_READ_S)
        if then is not None:
            then(event)

    return progress


def vectors_by_id(kb: KnowledgeBase) -> dict[str, np.ndarray]:
    rows = kb.store.chunks.search().select(["id", "vector"]).limit(None).to_list()
    return {row["id"]: np.asarray(row["vector"], dtype=np.float32) for row in rows}


def test_passages_encoded_while_reading_are_the_ones_the_phase_would_make(
    tmp_path: Path, notes: Path, spare_core: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[IngestProgress] = []
    kb = KnowledgeBase(Settings(db_path=str(tmp_path / "ahead"), collection="notes"))
    report = kb.ingest([notes], progress=slow_reading(seen))
    assert not report.interrupted and report.chunks_embedded == NOTES
    assert (report.index_chunks, report.index_embedded, report.chunks_pending) == (NOTES, NOTES, 0)
    # the embedding phase found fewer passages awaiting a vector than were written
    embedding = [e for e in seen if e.phase == "embedding"]
    assert embedding and embedding[-1].chunks_total < NOTES
    assert embedding[-1].chunks_done == embedding[-1].chunks_total

    monkeypatch.setattr(ahead, "MIN_BYTES", 10**12)  # the same corpus, every passage in the phase
    plain = KnowledgeBase(Settings(db_path=str(tmp_path / "plain"), collection="notes"))
    later: list[IngestProgress] = []
    assert plain.ingest([notes], progress=later.append).chunks_embedded == NOTES
    assert [e for e in later if e.phase == "embedding"][-1].chunks_total == NOTES
    mine, theirs = vectors_by_id(kb), vectors_by_id(plain)
    assert mine.keys() == theirs.keys()
    worst = max(float(np.abs(mine[i] - theirs[i]).max()) for i in mine)
    assert worst < 1e-6
    assert len(kb.search("granite keeper", mode="vector", limit=NOTES)) == NOTES


def test_a_stop_while_reading_keeps_the_passages_encoded_ahead(
    kb: KnowledgeBase, notes: Path, spare_core: None
) -> None:
    stop, seen = StopHandle(), []

    def stop_late(event: IngestProgress) -> None:
        if event.phase == "chunking" and event.files_done >= NOTES // 2:
            stop.stop()

    report = kb.ingest([notes], progress=slow_reading(seen, stop_late), should_stop=stop)
    assert report.interrupted and report.stopped_in == "reading"
    assert 0 < report.chunks_embedded <= report.chunks_written < NOTES
    assert report.index_embedded == report.chunks_embedded
    assert kb.check()[0].clean
    finished = kb.ingest([notes])
    assert finished.chunks_embedded == NOTES - report.chunks_embedded
    assert kb.stats().embedded_chunks == NOTES
