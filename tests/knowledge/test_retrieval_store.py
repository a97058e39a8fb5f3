"""`retrieval.search` over a real LanceDB store holding hand-placed vectors (no model: the query
vector comes from a lookup), so each mode's scores can be checked exactly and quickly."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from atlas_tui.errors import ConfigError, EmptyIndexError, IndexCorruptError
from atlas_tui.knowledge.retrieval import KEYWORD_HALF, Fusion, around, build_predicate, search
from atlas_tui.knowledge.store import FileRecord, Store, chunk_schema

DIM = 4
AXES = {name: np.eye(DIM, dtype=np.float32)[i] for i, name in enumerate("wxyz")}
DOCS = [  # file, source, title, [(text, vector)]
    ("f1", "tide.md", "Tides", [("tides rise twice daily", "w"), ("moon pulls the tides", "x")]),
    ("f2", "notes/moon.md", "Moon", [("the moon is bright", "x")]),
    ("f3", "notes/sun.md", "Sun", [("the sun warms the sea", "y")]),
]


def encode(text: str) -> np.ndarray:
    """Query vectors: a named axis ("w".."z"), a mix "x+y"; any other word reads as "x"."""
    vector = sum((AXES.get(part, AXES["x"]) for part in text.split("+")), np.zeros(DIM, np.float32))
    return vector / np.linalg.norm(vector)


def build_store(path: Path, docs: list[tuple[str, str, str, list[tuple[str, str]]]]) -> Store:
    """A store holding `docs` (file id, source, title, [(text, axis of its vector)])."""
    store = Store(str(path), "kb")
    store.open_for_writing("hand-placed", DIM)
    rows, records = [], []
    for file_id, source, title, chunks in docs:
        records.append(FileRecord(file_id, "/corpus", source, f"h-{file_id}", 0.0, len(chunks), 1))
        for index, (text, axis) in enumerate(chunks):
            rows.append(
                {
                    "id": f"{file_id}-{index}", "file_id": file_id, "source": source,
                    "root": "/corpus", "title": title, "heading": f"{title} > part {index}",
                    "kind": "markdown", "chunk_index": index, "start": 10 * index,
                    "end": 10 * index + len(text), "line_start": index + 1,
                    "line_end": index + 2, "page": index + 1 if file_id == "f1" else None,
                    "mtime": 0.0,
                    "content_hash": f"h-{file_id}", "text": text,
                    "search_text": f"{title}\n{text}", "vector": encode(axis).tolist(),
                }
            )  # fmt: skip
    store.write_files(records, pa.Table.from_pylist(rows, schema=chunk_schema(DIM)))
    store.ensure_fts_index()
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    return build_store(tmp_path_factory.mktemp("retrieval") / "db", DOCS)


def test_vector_scores_are_cosine_similarities(store: Store) -> None:
    hits = search(store, "x", encode=encode, mode="vector", limit=10)
    by_id = {p.chunk_id: p.score for p in hits}
    assert by_id["f1-1"] == pytest.approx(1.0) and by_id["f2-0"] == pytest.approx(1.0)
    assert by_id["f1-0"] == pytest.approx(0.0) and by_id["f3-0"] == pytest.approx(0.0)
    mixed = {p.chunk_id: p.score for p in search(store, "x+y", encode=encode, mode="vector")}
    assert mixed["f3-0"] == round(1 / math.sqrt(2), 6)  # scores are rounded to 6 places


def test_keyword_scores_are_squashed_bm25(store: Store) -> None:
    from atlas_tui.knowledge.retrieval import keyword_candidates

    raw = {row["id"]: score for row, score in keyword_candidates(store, "tides", 10, None)}
    hits = search(store, "tides", encode=encode, mode="keyword", limit=10)
    assert {p.chunk_id for p in hits} == set(raw) == {"f1-0", "f1-1"}
    for p in hits:
        assert p.score == pytest.approx(raw[p.chunk_id] / (raw[p.chunk_id] + KEYWORD_HALF), 1e-5)
    assert [p.rank for p in hits] == [1, 2]


def test_passages_carry_every_field_of_their_row(store: Store) -> None:
    (p,) = search(store, "sun warms", encode=encode, mode="keyword", limit=1)
    assert (p.chunk_id, p.source, p.root, p.title, p.heading) == (
        "f3-0", "notes/sun.md", "/corpus", "Sun", "Sun > part 0"
    )  # fmt: skip
    assert (p.chunk_index, p.start, p.end, p.line_start, p.line_end, p.page, p.rank) == (
        0, 0, len("the sun warms the sea"), 1, 2, None, 1
    )  # fmt: skip
    assert p.text == "the sun warms the sea"
    (q,) = search(store, "moon pulls", encode=encode, mode="keyword", limit=1)
    assert (q.chunk_id, q.chunk_index, q.start, q.end, q.line_start, q.line_end, q.page) == (
        "f1-1", 1, 10, 10 + len("moon pulls the tides"), 2, 3, 2
    )  # fmt: skip


def test_hybrid_fuses_both_lists_and_uses_title_similarity(store: Store) -> None:
    plain = search(store, "x", encode=encode, mode="hybrid", limit=10, fusion=Fusion())
    assert {p.chunk_id for p in plain} == {"f1-0", "f1-1", "f2-0", "f3-0"}
    assert all(0 <= p.score <= 1 for p in plain)
    calls: list[list[str]] = []

    def titles(names):
        calls.append(list(names))
        return np.stack([AXES["y"] if n == "Sun" else AXES["w"] for n in names])

    lifted = search(store, "y", encode=encode, encode_titles=titles, mode="hybrid", limit=1)
    assert calls == [["Moon", "Sun", "Tides"]] and lifted[0].source == "notes/sun.md"
    search(store, "y", encode=encode, encode_titles=titles, fusion=Fusion(title_weight=0.0))
    assert len(calls) == 1  # no title prior asked for: titles are not encoded


def test_release_notes_come_after_the_page_unless_the_question_asks_what_changed(
    tmp_path: Path,
) -> None:
    """The changelog is the nearest passage and would lead; the page documenting the same thing
    comes first. A question asking what changed ranks the changelog as any document."""
    from atlas_tui.knowledge.retrieval import fuse, keyword_candidates, vector_candidates

    notes = build_store(
        tmp_path / "db",
        [
            ("c", "CHANGELOG.md", "Changelog", [("moon tides: moon tides explained", "x")]),
            ("p", "tide.md", "Tides", [("how the moon pulls the tides", "x+w")]),
            ("s", "sky.md", "Sky", [("the moon at night", "y")]),
        ],
    )
    asked = {"how do the moon tides work": [], "what changed in 2.0 about moon tides": []}
    for question, sources in asked.items():
        sources.extend(p.source for p in search(notes, question, encode=encode, limit=3))
    assert asked["how do the moon tides work"][:2] == ["tide.md", "CHANGELOG.md"]
    assert asked["what changed in 2.0 about moon tides"][:2] == ["CHANGELOG.md", "tide.md"]
    unweighted = Fusion(release_notes_weight=1.0)
    plain = search(notes, "how do the moon tides work", encode=encode, limit=3, fusion=unweighted)
    assert [p.source for p in plain][:2] == ["CHANGELOG.md", "tide.md"]
    # a question about releases scores them exactly as fusion with no prior does
    changed = "what changed in 2.0 about moon tides"
    as_any = fuse(
        vector_candidates(notes, encode(changed), 60, None),
        keyword_candidates(notes, changed, 60, None),
        unweighted,
    )
    got = search(notes, changed, encode=encode, limit=3)
    assert [(p.chunk_id, p.score) for p in got] == [(r["id"], round(x, 6)) for r, x in as_any]
    nearest = search(notes, "how do the moon tides work", encode=encode, mode="vector", limit=3)
    assert nearest[0].source == "CHANGELOG.md"  # only hybrid ranking has the prior


def test_hybrid_fuses_only_its_candidates_and_the_title_prior(tmp_path: Path) -> None:
    """Each list gives `candidates` passages (a longer keyword list would change every share),
    and the titles' similarity reaches the fusion (here it breaks a tie)."""
    from atlas_tui.knowledge.retrieval import fuse, keyword_candidates, vector_candidates

    three = build_store(
        tmp_path / "db",
        [
            ("a", "a.md", "Almanac", [("moon tides: moon tides tables", "x")]),
            ("t", "tide.md", "Tides", [("how the moon pulls the tides", "x+w")]),
            ("s", "sky.md", "Sky", [("the moon at night", "y")]),
        ],
    )
    fusion = Fusion(candidates=1, title_weight=0.0)
    got = search(three, "moon tides", encode=encode, limit=1, fusion=fusion)
    expected = fuse(
        vector_candidates(three, encode("moon tides"), 1, None),
        keyword_candidates(three, "moon tides", 1, None),
        fusion,
    )
    assert [(p.chunk_id, p.score) for p in got] == [
        (expected[0][0]["id"], round(expected[0][1], 6))
    ]

    def titles(names):
        return np.stack([encode("z") if name == "Tides" else encode("y") for name in names])

    # no passage is near "z" nor names it: all tie, and the one title close to it decides
    lifted = search(three, "z", encode=encode, encode_titles=titles, limit=3)
    assert lifted[0].source == "tide.md" and lifted[0].score > lifted[1].score
    assert lifted[1].score == lifted[2].score


def test_limit_and_min_score(store: Store) -> None:
    everything = search(store, "x", encode=encode, mode="vector", limit=10)
    assert len(everything) == 4
    assert len(search(store, "x", encode=encode, mode="vector", limit=3)) == 3
    (first,) = search(store, "x", encode=encode, mode="vector", limit=1)
    assert first.chunk_id in ("f1-1", "f2-0") and first.score == pytest.approx(1.0)
    kept = search(store, "x", encode=encode, mode="vector", limit=10, min_score=0.5)
    assert sorted(p.chunk_id for p in kept) == ["f1-1", "f2-0"]
    exact = search(store, "x", encode=encode, mode="vector", limit=10, min_score=1.0)
    assert len(exact) == 2  # a score equal to min_score is kept
    assert search(store, "x", encode=encode, mode="vector", min_score=1.01) == []
    hybrid = search(store, "x", encode=encode, limit=2, fusion=Fusion(candidates=1))
    assert len(hybrid) == 2  # candidates grow to the limit


def test_hybrid_fuses_exactly_the_candidate_lists(store: Store) -> None:
    from atlas_tui.knowledge.retrieval import fuse, keyword_candidates, vector_candidates

    fusion = Fusion(candidates=1, title_weight=0.0)
    (hit,) = search(store, "moon", encode=encode, limit=1, fusion=fusion)
    expected = fuse(
        vector_candidates(store, encode("moon"), 1, None),
        keyword_candidates(store, "moon", 1, None),
        fusion,
    )[0]
    assert (hit.chunk_id, hit.score) == (expected[0]["id"], round(expected[1], 6))


def test_filters(store: Store) -> None:
    hits = search(store, "x", encode=encode, mode="vector", limit=10, source="notes/*")
    assert {p.source for p in hits} == {"notes/moon.md", "notes/sun.md"}
    assert search(store, "x", encode=encode, source="nothing*") == []
    assert build_predicate(store, "nothing*", None) == "FALSE"
    assert build_predicate(store, None, None) is None
    assert build_predicate(store, "tide.md", {"page": None, "title": "it's"}) == (
        "(file_id IN ('f1')) AND (page IS NULL) AND (title = 'it''s')"
    )
    keyword = search(store, "moon", encode=encode, mode="keyword", where={"title": "Moon"})
    assert [p.chunk_id for p in keyword] == ["f2-0"]
    with pytest.raises(ConfigError) as caught:
        build_predicate(store, None, {"vector": 1})
    assert caught.value.message == (
        "Cannot filter on 'vector'; use one of chunk_index, content_hash, file_id, heading, "
        "kind, page, root, source, title."
    )
    hybrid = search(store, "moon", encode=encode, mode="hybrid", limit=10, source="tide.md")
    assert {p.source for p in hybrid} == {"tide.md"}  # both candidate lists are filtered


def test_candidate_lists_hold_at_most_their_limit(store: Store) -> None:
    from atlas_tui.knowledge.retrieval import keyword_candidates, vector_candidates

    assert len(keyword_candidates(store, "tides moon", 1, None)) == 1
    assert len(vector_candidates(store, encode("x"), 1, None)) == 1
    assert len(vector_candidates(store, encode("x"), 3, None)) == 3


def test_filters_apply_before_the_nearest_are_taken(store: Store) -> None:
    # the two nearest chunks to "x" are outside the filter: a post-filter would return nothing
    hits = search(store, "x", encode=encode, mode="vector", limit=1, source="notes/sun.md")
    assert [p.chunk_id for p in hits] == ["f3-0"]
    best = search(store, "moon", encode=encode, mode="keyword", limit=1)
    assert [p.chunk_id for p in best] == ["f2-0"]  # titled "Moon"
    hits = search(store, "moon", encode=encode, mode="keyword", limit=1, source="tide.md")
    assert [p.chunk_id for p in hits] == ["f1-1"]


def test_a_failing_keyword_search_is_a_clear_error(tmp_path: Path) -> None:
    bare = Store(str(tmp_path / "db"), "kb")
    bare.open_for_writing("hand-placed", DIM)
    row = {f.name: None for f in chunk_schema(DIM)}
    row.update(id="c", file_id="f", text="tides", search_text="tides", chunk_index=0)
    bare.write_files(
        [FileRecord("f", "/r", "a.md", "h", 0.0, 1, 1)],
        pa.Table.from_pylist([row], schema=chunk_schema(DIM)),
    )
    bare.ensure_fts_index()
    for path in (tmp_path / "db" / "kb.lance" / "_indices").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage" * 64)
    with pytest.raises(IndexCorruptError) as caught:
        search(bare, "tides", encode=encode, mode="keyword")
    assert caught.value.message.startswith(f"The index at {bare.uri} could not be searched: ")


def test_a_failing_vector_search_is_a_clear_error(store: Store) -> None:
    with pytest.raises(IndexCorruptError) as caught:
        search(store, "x", encode=lambda _q: np.ones(DIM + 1, np.float32), mode="vector")
    assert caught.value.message.startswith(f"The index at {store.uri} could not be searched: ")


def test_bad_mode_blank_query_and_empty_index(store: Store, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        search(store, "x", encode=encode, mode="fuzzy")
    assert (
        caught.value.message == "Unknown search mode 'fuzzy'; use one of hybrid, vector, keyword."
    )
    assert search(store, "  \n", encode=encode) == []
    empty = Store(str(tmp_path / "empty"), "kb")
    empty.open_for_writing("hand-placed", DIM)
    for mode in ("vector", "keyword", "hybrid"):
        with pytest.raises(EmptyIndexError, match="holds no documents"):
            search(empty, "x", encode=encode, mode=mode)


def test_an_indexed_search_returns_exact_scores(tmp_path: Path) -> None:
    """With an approximate (HNSW-SQ) index, the top hits are re-ranked on the exact vectors."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(400, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    store = Store(str(tmp_path / "db"), "kb")
    store.open_for_writing("hand-placed", 8)
    rows = [
        {
            "id": f"c{i}", "file_id": f"f{i}", "source": f"{i}.md", "root": "/r", "title": "",
            "heading": "", "kind": "text", "chunk_index": 0, "start": 0, "end": 1,
            "line_start": 1, "line_end": 1, "page": None, "mtime": 0.0, "content_hash": "h",
            "text": "t", "search_text": "t", "vector": vectors[i].tolist(),
        }
        for i in range(400)
    ]  # fmt: skip
    records = [FileRecord(f"f{i}", "/r", f"{i}.md", "h", 0.0, 1, 1) for i in range(400)]
    store.write_files(records, pa.Table.from_pylist(rows, schema=chunk_schema(8)))
    store.build_vector_index(400)
    assert any(t.upper().startswith("IVF") for t in store.index_types())
    query = rng.normal(size=8).astype(np.float32)
    query /= np.linalg.norm(query)
    exact = vectors @ query
    hits = search(store, "q", encode=lambda _q: query, mode="vector", limit=5)
    assert len(search(store, "q", encode=lambda _q: query, mode="vector")) == 6  # the default
    for p in hits:
        assert p.score == pytest.approx(max(0.0, float(exact[int(p.chunk_id[1:])])), abs=1e-5)
    assert hits[0].chunk_id == f"c{int(np.argmax(exact))}"
    # hybrid takes 60 candidates from each list: 240 re-ranked, more than the 200 HNSW default
    # (LanceDB refused that: "ef must be greater than or equal to k", on every hybrid question)
    assert len(search(store, "t", encode=lambda _q: query, mode="hybrid")) == 6
    assert len(search(store, "q", encode=lambda _q: query, mode="vector", limit=100)) == 100


def test_around_gives_the_neighbours_in_the_file_in_order(store: Store) -> None:
    """Research mode's `read`: the chunks next to a passage in its file, scored as it."""
    (anchor,) = [
        p
        for p in search(store, "moon pulls", encode=encode, mode="keyword")
        if p.chunk_id == "f1-1"
    ]
    wide = around(store, anchor, 3, 3)
    assert [p.chunk_id for p in wide] == ["f1-0", "f1-1"]  # the file has two chunks
    assert {p.score for p in wide} == {anchor.score} and {p.rank for p in wide} == {0}
    assert wide[0].text == "tides rise twice daily" and wide[0].heading == "Tides > part 0"
    assert [p.chunk_id for p in around(store, anchor, 1, 0)] == ["f1-0", "f1-1"]
    assert [p.chunk_id for p in around(store, anchor, 0, 0)] == ["f1-1"]
    assert [p.chunk_id for p in around(store, wide[0], 0, 1)] == ["f1-0", "f1-1"]


def test_around_finds_nothing_for_a_file_no_longer_indexed(store: Store) -> None:
    (anchor,) = search(store, "sun warms", encode=encode, mode="keyword", limit=1)
    elsewhere = replace(anchor, root="/another'root")  # quoted safely, matching nothing
    assert around(store, elsewhere, 1, 1) == []
