"""Ingest: incremental, resumable, and bad input reported without stopping the run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from atlas_tui.errors import ModelMismatchError
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.ingest import IngestProgress
from atlas_tui.knowledge.store import Store


def test_first_ingest_indexes_and_embeds_everything(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus()
    seen: list[IngestProgress] = []
    report = kb.ingest([root], progress=seen.append)
    assert report.ok and not report.interrupted
    assert (report.files_added, report.files_updated, report.files_removed) == (3, 0, 0)
    assert report.chunks_written == report.chunks_embedded > 0
    assert report.chunks_pending == 0
    assert {p.phase for p in seen} >= {"chunking", "embedding", "done"}
    stats = kb.stats()
    assert (stats.documents, stats.chunks, stats.embedded_chunks) == (3, *(2 * [stats.chunks]))
    assert stats.embedding_model and stats.dimension == 384 and stats.last_ingest
    assert report.to_dict()["ok"] is True and stats.to_dict()["documents"] == 3


def test_unchanged_changed_and_deleted_files(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus()
    kb.ingest([root])
    again = kb.ingest([root])
    assert (again.files_unchanged, again.chunks_written, again.chunks_embedded) == (3, 0, 0)

    (root / "gardening.md").write_text("# Gardening\n\nCucumbers like warm nights.\n")
    (root / "install.md").unlink()
    report = kb.ingest([root])
    assert (report.files_updated, report.files_unchanged, report.files_removed) == (1, 1, 1)
    assert report.chunks_embedded == report.chunks_written  # only the changed file re-embedded
    sources = {p.source for p in kb.search("install pip linux", mode="keyword", limit=20)}
    assert "install.md" not in sources
    texts = " ".join(p.text for p in kb.search("gardening", mode="keyword", limit=20))
    assert "Cucumbers" in texts and "Tomatoes" not in texts
    assert kb.stats().documents == 2


def test_interrupted_ingest_is_keyword_searchable_and_resumes(
    kb: KnowledgeBase, write_corpus
) -> None:
    root = write_corpus()
    calls = {"n": 0}

    def stop_once_embedding_starts() -> bool:
        calls["n"] += 1
        return calls["n"] > 3  # 3 files chunked, then stop before the first embedding batch

    report = kb.ingest([root], should_stop=stop_once_embedding_starts)
    assert report.interrupted and report.chunks_embedded == 0 and report.chunks_pending > 0
    hits = kb.search("trimodal methodology", mode="keyword")
    assert hits and hits[0].source == "trimodal.md"
    assert kb.search("trimodal methodology", mode="vector") == []
    assert kb.search("trimodal methodology")[0].source == "trimodal.md"  # hybrid: keyword part

    resumed = kb.ingest([root])
    assert resumed.files_unchanged == 3 and resumed.chunks_written == 0
    assert resumed.chunks_embedded == report.chunks_pending and resumed.chunks_pending == 0
    assert kb.search("trimodal methodology", mode="vector")[0].source == "trimodal.md"


def test_keyboard_interrupt_leaves_a_consistent_index(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus()

    def progress(event: IngestProgress) -> None:
        if event.phase == "chunking" and event.files_done == 2:
            raise KeyboardInterrupt

    report = kb.ingest([root], progress=progress)
    assert report.interrupted
    finished = kb.ingest([root])
    assert finished.files_added + finished.files_unchanged == 3
    assert kb.stats().embedded_chunks == kb.stats().chunks > 0


def test_bad_input_is_skipped_and_reported(kb: KnowledgeBase, write_corpus, tmp_path) -> None:
    root = write_corpus(
        {
            "good.md": "# Good\n\nA perfectly fine document about owls.\n",
            "empty.md": "",
            "binary.md": b"\x00\x01\x02\xff" * 64,
        }
    )
    missing = tmp_path / "does-not-exist"
    report = kb.ingest([root, missing])
    assert report.ok and report.files_added == 1
    skipped = {Path(s.path).name: s.reason for s in report.skipped}
    assert all(skipped.values())


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_skipped(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus({"ok.md": "# Ok\n\nFine.\n", "secret.md": "# Secret\n\nHidden.\n"})
    (root / "secret.md").chmod(0)
    report = kb.ingest([root])
    assert report.files_added == 1 and [Path(s.path).name for s in report.skipped] == ["secret.md"]


def test_nothing_ingestable_is_not_ok(kb: KnowledgeBase, write_corpus, tmp_path) -> None:
    assert not kb.ingest([tmp_path / "nowhere"]).ok
    assert not kb.ingest([write_corpus({"empty.md": ""}, name="empties")]).ok


def test_model_mismatch_is_a_clear_error(settings, embedder, write_corpus) -> None:
    other = Store(settings.resolved_db_path, settings.collection)
    other.open_for_writing("some-other-model", 384)
    kb = KnowledgeBase(settings)
    with pytest.raises(ModelMismatchError, match="some-other-model") as caught:
        kb.search("anything")
    assert "rebuild" in caught.value.hint
    with pytest.raises(ModelMismatchError):
        kb.ingest([write_corpus()])
