"""Hybrid ranking beyond the top hit: fusion arithmetic, the multi-chunk file bonus, the title
prior, and the search knobs, on candidate lists built so that each rule decides an order."""

from __future__ import annotations

import math

import pytest

from atlas_tui.errors import ConfigError
from atlas_tui.knowledge.retrieval import (
    DEFAULT_FUSION,
    Fusion,
    _glob_matches,
    check_knobs,
    fuse,
    sections_first,
)

K = DEFAULT_FUSION.k
BEST = 2 / (K + 1)  # first in both lists


def row(cid: str, file: str, title: str = "") -> dict[str, str]:
    return {"id": cid, "file_id": file, "title": title or file}


def ranked(*rows: dict[str, str]) -> list[tuple[dict[str, str], float]]:
    return [(r, 1.0 - i / 10) for i, r in enumerate(rows)]


def scores(result: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {r["id"]: s for r, s in result}


def test_a_chunk_in_both_lists_scores_the_sum_of_its_two_ranks() -> None:
    a, b, c = row("a", "A"), row("b", "B"), row("c", "C")
    result = fuse(ranked(a, b), ranked(c, a), Fusion(file_weight=0.0))
    top = BEST  # no file bonus, no titles
    got = scores(result)
    assert math.isclose(got["a"], (1 / (K + 1) + 1 / (K + 2)) / top)
    assert math.isclose(got["b"], (1 / (K + 2)) / top)
    assert math.isclose(got["c"], (1 / (K + 1)) / top)
    assert [r["id"] for r, _ in result] == ["a", "c", "b"]


def test_weights_scale_each_list() -> None:
    a, b = row("a", "A"), row("b", "B")
    fusion = Fusion(vector_weight=3.0, keyword_weight=1.0, file_weight=0.0)
    got = scores(fuse(ranked(a), ranked(b), fusion))
    best = 4.0 / (K + 1)
    assert math.isclose(got["a"], 3.0 / (K + 1) / best)
    assert math.isclose(got["b"], 1.0 / (K + 1) / best)


def test_a_file_matching_in_several_chunks_lifts_its_best_chunk() -> None:
    # a1 and b1 tie on rank fusion; file B also matches in b2 and b3, file A nowhere else
    a1, b1, b2, b3 = row("a1", "A"), row("b1", "B"), row("b2", "B"), row("b3", "B")
    vector, keyword = ranked(a1, b1, b2, b3), ranked(b1, a1, b3, b2)
    result = fuse(vector, keyword)
    assert result[0][0]["id"] == "b1"
    got = scores(result)
    w = DEFAULT_FUSION.file_weight
    top = BEST * (1 + w)
    b1_own = 1 / (K + 2) + 1 / (K + 1)
    others = 2 * (1 / (K + 3) + 1 / (K + 4))  # b2 and b3, each in both lists
    assert math.isclose(got["a1"], b1_own / top)
    assert math.isclose(got["b1"], (b1_own + w * min(BEST, others)) / top)
    # the bonus is the file's: every chunk of B gets it, A's chunk none
    assert math.isclose(got["b2"], (1 / (K + 3) + 1 / (K + 4) + w * min(BEST, others)) / top)
    # without the bonus, the tie is not broken in B's favour
    flat = scores(fuse(vector, keyword, Fusion(file_weight=0.0)))
    assert math.isclose(flat["a1"], flat["b1"])


def test_the_file_bonus_is_capped_at_one_best_score() -> None:
    many = [row(f"b{i}", "B") for i in range(30)]
    result = scores(fuse(ranked(*many), ranked(*many)))
    w = DEFAULT_FUSION.file_weight
    own = 2 / (K + 1)
    assert math.isclose(result["b0"], (own + w * BEST) / (BEST * (1 + w)))
    assert result["b0"] == max(result.values()) and all(0 <= s <= 1 for s in result.values())


def test_a_title_close_to_the_question_lifts_every_chunk_of_its_document() -> None:
    a, b1, b2 = row("a", "A", "Changelog"), row("b1", "B", "gzip"), row("b2", "B", "gzip")
    vector, keyword = ranked(a, b1, b2), ranked(a, b1, b2)
    titles = {"Changelog": 0.1, "gzip": 0.9}
    fusion = Fusion(file_weight=0.0)
    got = scores(fuse(vector, keyword, fusion, titles))
    tw = fusion.title_weight
    top = BEST * (1 + tw)
    assert math.isclose(got["a"], (2 / (K + 1) + tw * BEST * 0.1) / top)
    assert math.isclose(got["b1"], (2 / (K + 2) + tw * BEST * 0.9) / top)
    assert math.isclose(got["b2"], (2 / (K + 3) + tw * BEST * 0.9) / top)
    # a negative similarity is no penalty; no titles means no prior and no rescaling
    negative = scores(fuse(vector, keyword, fusion, {"Changelog": -0.5}))["a"]
    assert math.isclose(negative, 1 / (1 + tw))
    assert math.isclose(scores(fuse(vector, keyword, fusion))["a"], 1.0)
    lifted = fuse(vector, keyword, Fusion(file_weight=0.0, title_weight=0.5), titles)
    assert [r["id"] for r, _ in lifted] == ["b1", "b2", "a"]


def test_a_document_without_a_known_title_similarity_gets_no_title_bonus() -> None:
    a, b = row("a", "A", ""), row("b", "B", "gzip")
    fusion = Fusion(file_weight=0.0)
    got = scores(fuse(ranked(a, b), ranked(a, b), fusion, {"gzip": 0.5}))
    tw = fusion.title_weight
    assert math.isclose(got["a"], (2 / (K + 1)) / (BEST * (1 + tw)))
    assert math.isclose(got["b"], (2 / (K + 2) + tw * BEST * 0.5) / (BEST * (1 + tw)))


def test_scores_are_sorted_and_within_zero_and_one() -> None:
    rows = [row(f"c{i}", f"F{i % 3}", f"T{i % 2}") for i in range(12)]
    result = fuse(ranked(*rows), ranked(*reversed(rows)), DEFAULT_FUSION, {"T0": 1.0, "T1": 0.2})
    values = [s for _, s in result]
    assert values == sorted(values, reverse=True) and all(0 <= v <= 1 for v in values)
    assert len(result) == 12


@pytest.mark.parametrize(
    ("pattern", "source", "expected"),
    [
        ("[!t]*", "moon.md", True),
        ("[!t]*", "tide.md", False),
        ("*.md", "notes/a.md", True),  # "*" crosses "/" in fnmatch
        ("a.md", "notes/a.md", True),  # a bare name matches the file name
        ("notes/*", "notes/a.md", True),
        ("other/*", "notes/a.md", False),
        ("notes/a.md", "a.md", False),
        ("A.md", "a.md", False),  # case matters
        ("c.md", "a/b/c.md", True),  # the name is the last part, however deep
        ("[!/]a.md", "notes/xa.md", False),  # a glob with "/" never matches a bare name
    ],
)
def test_source_globs(pattern: str, source: str, expected: bool) -> None:
    assert _glob_matches(pattern, source) is expected


@pytest.mark.parametrize("limit", [1, 6, 500])
@pytest.mark.parametrize("min_score", [0, 0.0, 0.5, 1, -1.0])
def test_good_knobs_pass(limit: int, min_score: float) -> None:
    check_knobs(limit, min_score)


@pytest.mark.parametrize(
    ("limit", "min_score", "named"),
    [
        (0, 0.0, "result limit"),
        (-1, 0.0, "result limit"),
        (2.0, 0.0, "result limit"),
        (False, 0.0, "result limit"),
        (None, 0.0, "result limit"),
        ("3", 0.0, "result limit"),
        (3, math.nan, "minimum score"),
        (3, -math.inf, "minimum score"),
        (3, True, "minimum score"),
        (3, None, "minimum score"),
    ],
)
def test_bad_knobs_name_the_setting(limit: object, min_score: object, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        check_knobs(limit, min_score)


def test_a_sections_other_passages_come_after_every_sections_first() -> None:
    def hit(chunk: str, file: str, heading: str, score: float) -> tuple[dict, float]:
        return {"id": chunk, "file_id": file, "heading": heading}, score

    hits = [
        hit("a1", "f1", "gzip > gzip.open()", 0.9),
        hit("a2", "f1", "gzip > gzip.open()", 0.8),
        hit("b1", "f1", "gzip > Examples", 0.7),
        hit("a3", "f1", "gzip > gzip.open()", 0.6),
        hit("c1", "f2", "tarfile > tarfile.open()", 0.5),
        hit("d1", "f3", "gzip > gzip.open()", 0.4),  # the same heading in another file
    ]
    assert [row["id"] for row, _ in sections_first(hits)] == ["a1", "b1", "c1", "d1", "a2", "a3"]
    assert sections_first([]) == []
