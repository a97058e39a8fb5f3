"""Ingest: incremental, resumable, and bad input reported without stopping the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.errors import ModelMismatchError
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.ingest import IngestProgress
from atlas_tui.knowledge.store import Store
from tests.corpus import write_files
from tests.knowledge.helpers import run_script


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
    db = Path(kb.settings.db_path)
    assert stats.location == str(db)  # where `atlas-tui stats` says the index is, and its size
    assert stats.size_bytes == sum(f.stat().st_size for f in db.rglob("*") if f.is_file())


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
    assert skipped == {
        "empty.md": "empty file",
        "binary.md": "binary file",
        "does-not-exist": "no such file or folder",
    }
    assert not report.removed  # never indexed, so nothing to remove


UNREADABLE_INGEST = """
import json, os, sys
from pathlib import Path
from atlas_tui.config import Settings
from atlas_tui.knowledge.base import KnowledgeBase
db, collection, root, warm, warm_db = sys.argv[1:]
kb = KnowledgeBase(Settings(db_path=db, collection=collection))
# a first ingest as root loads every module and the model (nobody cannot read root's files)
KnowledgeBase(Settings(db_path=warm_db)).ingest([warm])
# this whole process reads and writes as nobody now (root ignores file modes); not a forked
# child: a fork of a process running LanceDB's threads can hang in LanceDB (seen in CI)
if os.geteuid() == 0:
    os.setegid(65534)
    os.seteuid(65534)
report = kb.ingest([root])
print(json.dumps([report.files_added, [(Path(s.path).name, s.reason) for s in report.skipped]]))
"""


def test_unreadable_file_is_skipped(settings, world_readable_dir: Path) -> None:
    root = write_files(
        world_readable_dir / "c", {"ok.md": "# Ok\n\nFine.\n", "secret.md": "# Secret\n\nHidden.\n"}
    )
    (root / "secret.md").chmod(0)
    db = world_readable_dir / "db"
    db.mkdir(mode=0o777)
    db.chmod(0o777)
    warm = write_files(world_readable_dir / "warm", {"w.md": "# W\n\nWarm.\n"})
    # in a fresh interpreter: this one's threads serve other tests, which must stay root
    args = (str(db), settings.collection, str(root), str(warm), str(world_readable_dir / "wdb"))
    added, skipped = run_script(UNREADABLE_INGEST, *args)
    assert (added, skipped) == (1, [["secret.md", "permission denied"]])


def test_nested_roots_store_each_document_once(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus(
        {"top.md": "# Top\n\nThe top note.\n", "sub/a.md": "# A\n\nAlpha owls.\n",
         "sub/b.md": "# B\n\nBeta owls.\n"}
    )  # fmt: skip
    kb.ingest([root])
    chunks = kb.stats().chunks
    inner = kb.ingest([root / "sub"])
    assert (inner.files_unchanged, inner.files_added, inner.chunks_written) == (2, 0, 0)
    assert not inner.removed and kb.stats().chunks == chunks and kb.stats().documents == 3
    outer = kb.ingest([root])
    assert outer.files_unchanged == 3 and not outer.removed
    hits = kb.search("owls", mode="keyword", limit=20)
    assert sorted(p.source for p in hits) == ["sub/a.md", "sub/b.md"]
    (root / "sub" / "b.md").unlink()  # an ingest of the inner root forgets it; top.md stays
    assert [s.reason for s in kb.ingest([root / "sub"]).removed] == ["removed: no longer on disk"]
    assert kb.stats().documents == 2


def test_a_symlinked_root_is_the_same_documents(kb: KnowledgeBase, write_corpus, tmp_path) -> None:
    root = write_corpus({"a.md": "# A\n\nAlpha owls.\n"})
    link = tmp_path / "link"
    link.symlink_to(root)
    kb.ingest([root])
    again = kb.ingest([link])
    assert again.files_unchanged == 1 and not again.removed and kb.stats().chunks == 1


def test_a_renamed_file_is_moved_not_duplicated(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus()
    kb.ingest([root])
    chunks = kb.stats().chunks
    (root / "gardening.md").rename(root / "garden-notes.md")
    report = kb.ingest([root])
    assert (report.files_added, report.files_unchanged) == (1, 2)
    assert [(Path(s.path).name, s.reason) for s in report.removed] == [
        ("gardening.md", "removed: no longer on disk")
    ]
    assert kb.stats().chunks == chunks and kb.stats().documents == 3
    hits = kb.search("tomatoes basil", mode="keyword", limit=20)
    assert {p.source for p in hits} == {"garden-notes.md"}


def test_exclude_added_on_a_re_ingest_removes_the_files(kb: KnowledgeBase, write_corpus) -> None:
    root = write_corpus()
    kb.ingest([root])
    report = kb.ingest([root], exclude=["install.md"])
    assert [(Path(s.path).name, s.reason[:20]) for s in report.removed] == [
        ("install.md", "removed: now exclude")
    ]
    assert report.files_unchanged == 2
    assert all(p.source != "install.md" for p in kb.search("pip install linux", limit=20))
    assert kb.ingest([root]).files_added == 1  # dropping the exclude brings it back


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


def test_embedding_progress_moves_within_a_batch(kb: KnowledgeBase, tmp_path: Path) -> None:
    """A bar fed by these events moves while a batch embeds, not only when it is committed."""
    root = write_files(
        tmp_path / "many",
        {f"n{i:03}.md": f"# Note {i}\n\nThe keeper logs entry {i} at dawn.\n" for i in range(90)},
    )
    seen: list[IngestProgress] = []
    kb.ingest([root], progress=seen.append)
    embedding = [p.chunks_done for p in seen if p.phase == "embedding"]
    assert embedding[0] == 0 and embedding[-1] == 90
    assert embedding == sorted(embedding)
    assert len({n for n in embedding if 0 < n < 90}) >= 2  # 32, 64 before the 90
