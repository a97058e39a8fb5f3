"""The index on disk: missing, corrupt or foreign folders, quoting, and readers seeing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import EmptyIndexError, IndexCorruptError, IndexMissingError
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.store import Store, sql_literal


def test_sql_literal_doubles_quotes() -> None:
    assert sql_literal("it's") == "'it''s'"
    assert sql_literal('say "hi"') == "'say \"hi\"'"
    assert sql_literal(3) == "3" and sql_literal(None) == "NULL" and sql_literal(True) == "TRUE"


def test_missing_index(kb: KnowledgeBase) -> None:
    assert not kb.exists()
    with pytest.raises(IndexMissingError) as caught:
        kb.search("anything")
    assert "ingest" in caught.value.hint
    with pytest.raises(IndexMissingError):
        kb.stats()


def test_empty_index(settings: Settings, embedder) -> None:
    Store(settings.resolved_db_path, settings.collection).open_for_writing(
        embedder.name, embedder.dimension
    )
    with pytest.raises(EmptyIndexError):
        KnowledgeBase(settings).search("anything", mode="keyword")


def _garble_manifests(db: Path) -> None:
    manifests = list(db.rglob("_versions/*.manifest"))
    assert manifests
    for manifest in manifests:
        manifest.write_bytes(b"\x00garbage" * 50)


def test_garbled_manifest_is_index_corrupt(kb: KnowledgeBase, settings, write_corpus) -> None:
    kb.ingest([write_corpus()])
    _garble_manifests(Path(settings.resolved_db_path))
    fresh = KnowledgeBase(settings)
    for action in (lambda: fresh.search("tomatoes"), fresh.stats):
        with pytest.raises(IndexCorruptError) as caught:
            action()
        assert "rebuild" in caught.value.hint


def test_foreign_table_is_index_corrupt(settings: Settings, embedder) -> None:
    import lancedb

    lancedb.connect(settings.resolved_db_path).create_table(
        settings.collection, data=[{"name": "not ours"}]
    )
    with pytest.raises(IndexCorruptError, match="not made by atlas-tui"):
        KnowledgeBase(settings).search("anything")


def test_index_path_that_is_a_file(tmp_path: Path, embedder) -> None:
    path = tmp_path / "index"
    path.write_text("not a database")
    with pytest.raises(IndexCorruptError):
        KnowledgeBase(Settings(db_path=str(path))).stats()


def test_reader_opened_before_a_write_sees_it(kb: KnowledgeBase, settings, write_corpus) -> None:
    kb.ingest([write_corpus({"a.md": "# Alpha\n\nAardvarks dig burrows.\n"})])
    reader = KnowledgeBase(settings)
    assert [p.source for p in reader.search("aardvarks", mode="keyword")] == ["a.md"]
    kb.ingest([write_corpus({"b.md": "# Beta\n\nBadgers dig setts.\n"}, name="second")])
    assert [p.source for p in reader.search("badgers", mode="keyword")] == ["b.md"]
    assert reader.stats().documents == 2


def test_new_unembedded_rows_after_a_vector_index(tmp_path: Path) -> None:
    """Rows waiting for vectors must not break optimisation once a vector index exists."""
    import numpy as np
    import pyarrow as pa

    from atlas_tui.knowledge.store import FileRecord, chunk_schema

    dim, rng = 8, np.random.default_rng(0)
    store = Store(str(tmp_path / "db"), "vectors")
    store.open_for_writing("synthetic", dim)

    def rows(prefix: str, n: int) -> pa.Table:
        data = [
            {"id": f"{prefix}{i}", "file_id": prefix, "source": f"{prefix}.md", "root": "/r",
             "text": f"row {i}", "search_text": f"row {i}", "chunk_index": i}
            for i in range(n)
        ]  # fmt: skip
        return pa.Table.from_pylist(data, schema=chunk_schema(dim))

    store.write_files([FileRecord("a", "/r", "a.md", "h", 0.0, 600, 1)], rows("a", 600))
    vectors = rng.normal(size=(600, dim)).astype(np.float32)
    store.set_vectors(
        [f"a{i}" for i in range(600)], vectors / np.linalg.norm(vectors, axis=1)[:, None]
    )
    store.optimize(vector_index_min_rows=100)
    assert any(str(i.index_type).upper().startswith("IVF") for i in store.chunks.list_indices())
    store.write_files([FileRecord("b", "/r", "b.md", "h", 0.0, 3, 1)], rows("b", 3))
    store.optimize(vector_index_min_rows=100)  # must not raise
    assert store.count("vector IS NULL") == 3
    store.set_vectors(["b0", "b1", "b2"], np.eye(3, dim, dtype=np.float32))
    store.optimize(vector_index_min_rows=100)
    assert store.count("vector IS NULL") == 0


def test_check_finds_orphans_and_broken_records_and_repair_drops_them(
    kb: KnowledgeBase, write_corpus
) -> None:
    from atlas_tui.knowledge import health

    kb.ingest([write_corpus()])
    store = kb.store
    records = store.files()
    victim = next(iter(records))
    store.delete_chunks_of([victim])  # a record whose chunks vanished (a kill between deletes)
    orphan = next(k for k in records if k != victim)
    assert store._files is not None
    store._files.delete(f"file_id = '{orphan}'")  # chunks left without their record
    found, done = kb.check()
    assert (found.orphans, found.broken, found.unreadable, found.fts_ok) == (
        [orphan],
        [victim],
        [],
        True,
    )
    assert not found.clean and done == []
    assert found.problems() == [
        "1 documents have chunks but no file record",
        "1 documents have missing, extra or stale chunks",
    ]
    after, done = kb.check(repair=True)
    assert after.clean and after.documents == 1 and len(done) == 2
    assert health.audit(store).clean
    report = kb.ingest([Path(records[victim].root)])
    assert (report.files_added, report.files_unchanged) == (2, 1) and not report.repaired
