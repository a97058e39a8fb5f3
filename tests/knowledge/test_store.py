"""The index on disk: missing, corrupt or foreign folders, quoting, and readers seeing writes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    assert after.clean and after.documents == 1
    assert done == [
        "dropped the chunks of 1 documents without a record",
        "dropped 1 damaged documents (ingest re-adds them)",
    ]
    assert health.audit(store).clean
    report = kb.ingest([Path(records[victim].root)])
    assert (report.files_added, report.files_unchanged) == (2, 1) and not report.repaired


def test_a_damaged_full_text_index_is_found_by_check_and_rebuilt_by_repair(
    kb: KnowledgeBase, settings: Settings, write_corpus
) -> None:
    kb.ingest([write_corpus()])
    for path in (Path(settings.db_path) / "test_kb.lance" / "_indices").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage" * 64)
    fresh = KnowledgeBase(settings)
    with pytest.raises(IndexCorruptError):
        fresh.search("tomatoes", mode="keyword")
    found, done = fresh.check()
    assert (found.orphans, found.broken, found.unreadable, found.fts_ok) == ([], [], [], False)
    assert found.problems() == ["the full-text index is damaged (keyword and hybrid search fail)"]
    assert done == []
    after, done = fresh.check(repair=True)
    assert after.clean and after.documents == 3 and done == ["rebuilt the full-text index"]
    assert fresh.search("tomatoes", mode="keyword")[0].source == "gardening.md"


def test_rows_without_a_full_text_index_yet_are_not_called_damaged(tmp_path: Path) -> None:
    """An ingest stopped before it built the full-text index left rows without one: keyword
    search is not ready there, but nothing is damaged."""
    import pyarrow as pa

    from atlas_tui.knowledge import health
    from atlas_tui.knowledge.store import FileRecord, chunk_schema

    store = Store(str(tmp_path / "db"), "plain")
    store.open_for_writing("synthetic", 8)
    assert health.check(store).clean  # empty
    row = {"id": "a0", "file_id": "a", "source": "a.md", "root": "/r", "text": "row",
           "search_text": "row", "chunk_index": 0, "content_hash": "h"}  # fmt: skip
    store.write_files(
        [FileRecord("a", "/r", "a.md", "h", 0.0, 1, 1)],
        pa.Table.from_pylist([row], schema=chunk_schema(8)),
    )
    assert not any("FTS" in kind for kind in store.index_types())
    found = health.check(store)
    assert found.clean and found.problems() == [] and found.chunks == 1


class _DamagedRows:
    """The chunks table as LanceDB serves it when the data pages of some rows are damaged:
    reading those rows whole fails, as a read of a damaged data file does. `victim`: the
    document whose text pages are damaged (its narrow columns, ids and hashes, still read);
    None: every page of every row."""

    def __init__(self, table: Any, victim: str | None) -> None:
        self.table, self.victim = table, victim

    def __getattr__(self, name: str) -> Any:
        return getattr(self.table, name)

    def search(self, *args: Any, **kwargs: Any) -> _DamagedQuery:
        return _DamagedQuery(self.table.search(*args, **kwargs), self.victim)


class _DamagedQuery:
    def __init__(self, query: Any, victim: str | None) -> None:
        self.query, self.victim = query, victim

    def _check(self, rows: Any) -> Any:
        damaged = self.victim is None or (
            "text" in rows.schema.names and self.victim in rows.column("file_id").to_pylist()
        )
        if damaged and rows.num_rows:
            raise RuntimeError(
                "Invalid input, Tail read position 770747 is outside file of size 10"
            )
        return rows

    def to_arrow(self) -> Any:
        return self._check(self.query.to_arrow())

    def to_batches(self, *args: Any) -> Iterator[Any]:
        for batch in self.query.to_batches(*args):
            yield self._check(batch)

    def __getattr__(self, name: str) -> Callable[..., _DamagedQuery]:
        step = getattr(self.query, name)
        return lambda *args, **kwargs: _DamagedQuery(step(*args, **kwargs), self.victim)


def test_a_document_whose_rows_cannot_be_read_is_named_by_check_and_dropped_by_repair(
    kb: KnowledgeBase, write_corpus
) -> None:
    root = write_corpus()
    kb.ingest([root])
    store = kb.store
    victim = next(k for k, r in store.files().items() if r.source == "gardening.md")
    real = store.chunks
    store._chunks = _DamagedRows(real, victim)
    found, done = kb.check()
    assert (found.orphans, found.broken, found.unreadable, found.fts_ok) == ([], [], [victim], True)
    assert found.problems() == ["1 documents have unreadable chunk data"] and done == []
    after, done = kb.check(repair=True)
    assert done == ["dropped 1 damaged documents (ingest re-adds them)"]
    assert after.clean and after.documents == 2 and victim not in store.files()
    store._chunks = real  # the damaged data file is gone with its rows
    assert kb.ingest([root]).files_added == 1
    assert kb.search("tomatoes", mode="keyword")[0].source == "gardening.md"


def test_check_of_an_index_whose_rows_cannot_be_read_at_all_says_where_and_what_failed(
    kb: KnowledgeBase, write_corpus
) -> None:
    kb.ingest([write_corpus()])
    store = kb.store
    store._chunks = _DamagedRows(store.chunks, None)
    with pytest.raises(IndexCorruptError) as raised:
        kb.check(repair=True)
    assert raised.value.message == (
        f"The index at {store.uri} could not be read: "
        "Invalid input, Tail read position 770747 is outside file of size 10"
    )


def test_a_repair_waits_for_an_ingest_into_the_same_index_and_says_so(
    kb: KnowledgeBase, write_corpus
) -> None:
    import threading

    from atlas_tui.knowledge.writer_lock import writer_lock

    kb.ingest([write_corpus()])
    store = kb.store
    victim = next(iter(store.files()))
    store.delete_chunks_of([victim])  # something to repair
    waiting, results = threading.Event(), []
    repair = threading.Thread(
        target=lambda: results.append(kb.check(on_wait=waiting.set, repair=True))
    )
    with writer_lock(store.uri, store.collection):  # an ingest writing this index
        repair.start()
        assert waiting.wait(timeout=20), "the repair never said it waits"
        assert results == []  # nothing repaired while the ingest holds the index
    repair.join(timeout=60)
    found, done = results[0]
    assert found.clean and done == ["dropped 1 damaged documents (ingest re-adds them)"]


def test_a_passage_is_read_with_its_neighbours_in_file_order(
    kb: KnowledgeBase, write_corpus
) -> None:
    """Research mode's `read`: the chunks before and after a passage, as the file has them."""
    words = "lighthouse keepers trimmed wicks and logged passing ships before dawn"

    def section(title: str, word: str) -> str:
        body = " ".join(f"{word} {w}" for w in words.split(" ") * 4)
        return f"## {title}\n\n{body}.\n"

    text = "# Log\n\n" + "\n".join(
        section(t, w) for t, w in [("North", "alpha"), ("East", "bravo"), ("South", "charlie")]
    )
    kb.ingest([write_corpus({"log.md": text})])
    middle = kb.search("bravo", mode="keyword", limit=1)[0]
    assert middle.heading == "Log > East"
    read = kb.around(middle, 1, 1)
    assert [p.heading for p in read] == ["Log > North", "Log > East", "Log > South"]
    assert [p.chunk_index for p in read] == [
        middle.chunk_index - 1,
        *range(middle.chunk_index, middle.chunk_index + 2),
    ]
    assert {p.score for p in read} == {middle.score}
    assert [p.heading for p in kb.around(middle, 0, 1)] == ["Log > East", "Log > South"]
