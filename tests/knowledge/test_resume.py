"""Steering a real ingest: stopped mid-embedding it keeps what was written (and `check` finds the
index sound), a resume embeds the rest, the bar of the whole run never goes back, and an index
keeps to its kind of vectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import EmbeddingModelError, IndexMissingError, ModelMismatchError
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.ingest import EMBED_BATCH
from atlas_tui.knowledge.pending import pending_work, row_units
from atlas_tui.knowledge.steering import IngestProgress, StopHandle
from tests.corpus import write_files

NOTES = 300  # one passage each: three batches of 128 (the last one short)


@pytest.fixture
def notes(tmp_path: Path) -> Path:
    words = ("lamp", "harbour", "granite", "willow", "ember", "quartz", "meadow", "lantern")
    return write_files(
        tmp_path / "notes",
        {
            f"n{i:03}.md": f"# Note {i}\n\nThe {words[i % len(words)]} keeper logs entry {i}: "
            "café, naïve.\n"
            for i in range(NOTES)
        },
    )


def stop_when(stop: StopHandle, seen: list[IngestProgress], phase: str):
    """A progress callback that keeps every event and stops the run at the first of `phase`
    with something done in it (a file read; passages encoded)."""

    def progress(event: IngestProgress) -> None:
        seen.append(event)
        done = event.chunks_done if phase == "embedding" else event.files_done
        if event.phase == phase and done:
            stop.stop()

    return progress


def test_a_stop_mid_embedding_keeps_what_was_written_and_a_resume_ends_it(
    kb: KnowledgeBase, notes: Path
) -> None:
    stop, seen = StopHandle(), []
    report = kb.ingest([notes], progress=stop_when(stop, seen, "embedding"), should_stop=stop)

    # The stop came while the first batch encoded: that batch is committed, no other is started.
    assert report.interrupted and report.stopped_in == "embedding"
    assert report.chunks_written == NOTES and report.chunks_embedded == EMBED_BATCH
    assert (report.index_chunks, report.index_embedded) == (NOTES, EMBED_BATCH)
    assert report.chunks_pending == NOTES - EMBED_BATCH
    assert seen[-1].phase == "stopped" and seen[-1].fraction < 1
    stats = kb.stats()
    assert (stats.chunks, stats.embedded_chunks, stats.pending_chunks) == (
        NOTES,
        EMBED_BATCH,
        NOTES - EMBED_BATCH,
    )
    assert stats.summary() == f"{NOTES} documents, {NOTES} passages ({EMBED_BATCH} embedded)"
    health, _ = kb.check()
    assert health.clean and health.chunks == NOTES
    # every passage is keyword-searchable; vector search finds only the embedded ones
    assert len(kb.search("keeper logs entry", mode="keyword", limit=1000)) == NOTES
    assert len(kb.search("keeper logs entry", mode="vector", limit=1000)) == EMBED_BATCH
    assert len(kb.search("keeper logs entry", mode="keyword")) == 6  # the default limit
    assert kb.pending() == NOTES - EMBED_BATCH
    # the work estimated for them all at once (Arrow) is the sum of each one's (Python)
    rows = kb.store.pending(NOTES)
    assert pending_work(kb.store) == (len(rows), sum(map(row_units, rows)))

    stopped = kb.resume_embedding(should_stop=lambda: True)  # asked to stop before a batch
    assert stopped.interrupted and stopped.chunks_embedded == 0
    assert kb.pending() == NOTES - EMBED_BATCH
    resumed, events = kb.resume_embedding(progress=(later := []).append), later
    assert resumed.resume and resumed.ok and not resumed.interrupted
    assert resumed.chunks_written == 0 and resumed.chunks_embedded == NOTES - EMBED_BATCH
    assert (resumed.index_chunks, resumed.index_embedded, resumed.chunks_pending) == (
        NOTES,
        NOTES,
        0,
    )
    assert {e.phase for e in events} >= {"embedding", "done"} and "chunking" not in {
        e.phase for e in events
    }
    assert kb.pending() == 0 and kb.stats().summary() == f"{NOTES} documents, {NOTES} passages"
    assert len(kb.search("keeper logs entry", mode="vector", limit=1000)) == NOTES
    assert kb.check()[0].clean


def test_a_stop_while_reading_keeps_the_files_read(kb: KnowledgeBase, notes: Path) -> None:
    stop, seen = StopHandle(), []
    report = kb.ingest([notes], progress=stop_when(stop, seen, "chunking"), should_stop=stop)
    assert report.interrupted and report.stopped_in == "reading"
    assert 0 < report.files_added < NOTES and report.chunks_embedded == 0
    assert kb.check()[0].clean
    finished = kb.ingest([notes])
    assert finished.files_unchanged == report.files_added
    assert finished.files_added == NOTES - report.files_added
    assert kb.stats().embedded_chunks == NOTES


def test_one_bar_for_the_whole_run_never_goes_back(kb: KnowledgeBase, notes: Path) -> None:
    seen: list[IngestProgress] = []
    kb.ingest([notes], progress=seen.append)
    fractions = [e.fraction for e in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    reading = [e.fraction for e in seen if e.phase == "chunking"]
    embedding = [e for e in seen if e.phase == "embedding"]
    # reading 300 small files is a small part of the run: the bar is nowhere near full after it
    assert reading and max(reading) < 0.5
    assert embedding[-1].chunks_done == NOTES and embedding[-1].chunks_total == NOTES
    assert all(e.eta_s is not None for e in embedding)
    assert embedding[-1].eta_s is not None and embedding[-1].eta_s < embedding[0].eta_s


def test_resuming_without_an_index_says_there_is_none(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    assert kb.pending() == 0
    with pytest.raises(IndexMissingError):
        kb.resume_embedding()


def test_the_index_records_its_kind_of_vectors_and_who_embedded_them(
    settings: Settings, embedder, write_corpus
) -> None:
    kb = KnowledgeBase(Settings(db_path=settings.db_path, collection="kinds", encoder="fp32"))
    kb.ingest([write_corpus()])
    stats = kb.stats()
    assert (stats.vectors, stats.encoders) == ("fp32", "fp32")
    assert stats.encoder_here.startswith("fp32 (forced")
    # auto on this index keeps to fp32 vectors, whatever this CPU's fastest path is
    auto = KnowledgeBase(Settings(db_path=settings.db_path, collection="kinds"))
    assert auto.embedder.family == "fp32" and auto.embedder.path in ("fp32", "bf16", "torch")
    assert auto.stats().encoder_here.startswith(auto.embedder.path)
    # forcing int8 vectors into it is refused in one sentence, with what to do
    forced = KnowledgeBase(Settings(db_path=settings.db_path, collection="kinds", encoder="int8"))
    with pytest.raises(EmbeddingModelError, match="holds fp32 vectors") as caught:
        forced.ingest([write_corpus()])
    assert "new index" in caught.value.hint
    # and the store itself refuses another kind (a writer that chose before the index existed)
    with pytest.raises(ModelMismatchError, match="holds fp32 vectors"):
        kb.store.open_for_writing(kb.embedder.name, 384, "int8")


def test_an_index_from_before_the_kinds_holds_fp32_vectors(
    settings: Settings, embedder, write_corpus
) -> None:
    kb = KnowledgeBase(Settings(db_path=settings.db_path, collection="old", encoder="fp32"))
    kb.ingest([write_corpus()])
    meta = kb.store._meta
    assert meta is not None
    meta.delete("key IN ('vectors', 'encoders')")  # as an index made before these keys existed
    assert "vectors" not in kb.store.meta() and kb.store.vectors() == "fp32"
    assert (kb.stats().vectors, kb.stats().encoders) == ("fp32", "")  # no encoder recorded
    again = KnowledgeBase(Settings(db_path=settings.db_path, collection="old", encoder="fp32"))
    (Path(write_corpus()) / "more.md").write_text("# More\n\nA new note about kites.\n")
    report = again.ingest([write_corpus()])
    assert report.files_added == 1 and again.store.meta()["vectors"] == "fp32"


def test_a_new_index_starts_its_estimate_from_this_machines_last_speed(
    settings: Settings, notes: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before a new index has timed any embedding, its time estimate comes from the speed last
    measured on this machine (same model, encoder path and engine), not a guess; each run keeps
    its own measure for the next."""
    from atlas_tui.knowledge import ingest, steering

    monkeypatch.setattr(ingest, "user_cache_dir", lambda: tmp_path / "cache")
    monkeypatch.setattr(ingest, "MIN_SPEED_SAMPLE_S", 0.0)  # (these runs are short)
    monkeypatch.setattr(steering, "MIN_MEASURED_S", 0.0)

    def first_estimate(db: str) -> float:
        seen: list[IngestProgress] = []
        kb = KnowledgeBase(Settings(db_path=str(tmp_path / db), collection="c"))
        kb.ingest([notes], progress=seen.append)
        return next(e.eta_s for e in seen if e.phase == "chunking" and e.eta_s is not None)

    embedder = KnowledgeBase(settings).embedder
    key = f"{embedder.name}:{embedder.path}:local"
    ingest.keep_machine_speed(key, 1.0)  # a machine that embeds one word-piece a second
    slow = first_estimate("a")
    assert slow > NOTES * 10  # 300 passages of ~20 word-pieces each: hours at that speed
    assert ingest.machine_speeds()[key] > 100  # the run kept what it measured
    assert first_estimate("b") < slow / 10  # the next new index starts from it
    (tmp_path / "cache" / ingest.SPEEDS_FILE).write_text("not json")
    assert ingest.machine_speeds() == {}  # unreadable: the default guess, no failure
