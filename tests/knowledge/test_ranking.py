"""Hybrid ranking beyond the top hit: relative score fusion, the multi-chunk file bonus, the title
prior, the release-notes prior, and the search knobs, on candidate lists built so that each rule
decides an order."""

from __future__ import annotations

import math

import pytest

from atlas_tui.errors import ConfigError
from atlas_tui.knowledge.retrieval import (
    DEFAULT_FUSION,
    Fusion,
    _glob_matches,
    about_releases,
    check_knobs,
    fuse,
    relative,
    release_notes,
    sections_first,
)

BEST = DEFAULT_FUSION.vector_weight + DEFAULT_FUSION.keyword_weight  # first in both lists


def row(cid: str, file: str, title: str = "", source: str = "") -> dict[str, str]:
    return {"id": cid, "file_id": file, "title": title or file, "source": source or f"{file}.md"}


def ranked(*rows: dict[str, str]) -> list[tuple[dict[str, str], float]]:
    """A list whose scores fall evenly: shares 1, ..., 0 of its range."""
    return [(r, 1.0 - i / 10) for i, r in enumerate(rows)]


def listed(*hits: tuple[dict[str, str], float]) -> list[tuple[dict[str, str], float]]:
    return list(hits)


def scores(result: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    return {r["id"]: s for r, s in result}


def test_each_list_counts_as_a_share_of_its_own_range() -> None:
    assert relative(listed((row("a", "A"), 0.9), (row("b", "B"), 0.5), (row("c", "C"), 0.1))) == [
        pytest.approx(1.0), pytest.approx(0.5), 0.0
    ]  # fmt: skip
    assert relative(listed((row("a", "A"), 12.0), (row("b", "B"), 12.0))) == [1.0, 1.0]
    assert relative(listed((row("a", "A"), 0.3))) == [1.0]  # the only one is the best
    assert relative([]) == []


def test_a_chunk_in_both_lists_scores_the_sum_of_its_two_shares() -> None:
    a, b, c, x, y = (row(n, n.upper()) for n in "abcxy")
    vector = listed((a, 0.9), (b, 0.5), (x, 0.1))  # shares 1, 0.5, 0
    keyword = listed((c, 12.0), (a, 9.0), (y, 0.0))  # shares 1, 0.75, 0
    result = fuse(vector, keyword, Fusion(file_weight=0.0))
    got = scores(result)
    assert math.isclose(got["a"], 1.75 / BEST)
    assert math.isclose(got["c"], 1.0 / BEST)
    assert math.isclose(got["b"], 0.5 / BEST)
    assert got["x"] == got["y"] == 0.0  # the weakest candidate of each list
    assert [r["id"] for r, _ in result][:3] == ["a", "c", "b"]


def test_a_passage_far_ahead_in_one_list_keeps_its_lead() -> None:
    """Rank fusion would put b (second in both lists) above a (first in one, far ahead of the
    rest); relative fusion keeps how far ahead a is."""
    a, b, c, x, y = (row(n, n.upper()) for n in "abcxy")
    vector = listed((a, 0.9), (b, 0.3), (x, 0.1))  # a far ahead: b has a quarter of the range
    keyword = listed((c, 10.0), (b, 4.0), (y, 1.0))
    got = scores(fuse(vector, keyword, Fusion(file_weight=0.0)))
    assert got["a"] > got["b"] and got["a"] == got["c"]


def test_weights_scale_each_list() -> None:
    a, b = row("a", "A"), row("b", "B")
    fusion = Fusion(vector_weight=3.0, keyword_weight=1.0, file_weight=0.0)
    got = scores(fuse(ranked(a), ranked(b), fusion))
    assert math.isclose(got["a"], 3.0 / 4.0)
    assert math.isclose(got["b"], 1.0 / 4.0)


def test_a_file_matching_in_several_chunks_lifts_its_best_chunk() -> None:
    # a1 and b1 tie on fusion; file B also matches in b2 and b3, file A nowhere else
    a1, b1, b2, b3 = row("a1", "A"), row("b1", "B"), row("b2", "B"), row("b3", "B")
    vector, keyword = ranked(a1, b1, b2, b3), ranked(b1, a1, b3, b2)  # shares 1, 2/3, 1/3, 0
    result = fuse(vector, keyword)
    assert result[0][0]["id"] == "b1"
    got = scores(result)
    w = DEFAULT_FUSION.file_weight
    top = BEST * (1 + w)
    b1_own = 1 + 2 / 3
    others = 2 * (1 / 3)  # b2 and b3, each a third in one list and nothing in the other
    assert math.isclose(got["a1"], b1_own / top)
    assert math.isclose(got["b1"], (b1_own + w * min(BEST, others)) / top)
    # the bonus is the file's: every chunk of B gets it, A's chunk none
    assert math.isclose(got["b2"], (1 / 3 + w * min(BEST, others)) / top)
    # without the bonus, the tie is not broken in B's favour
    flat = scores(fuse(vector, keyword, Fusion(file_weight=0.0)))
    assert math.isclose(flat["a1"], flat["b1"])


def test_the_file_bonus_is_capped_at_one_best_score() -> None:
    many = [row(f"b{i}", "B") for i in range(30)]
    result = scores(fuse(ranked(*many), ranked(*many)))
    w = DEFAULT_FUSION.file_weight
    assert math.isclose(result["b0"], (BEST + w * BEST) / (BEST * (1 + w)))
    assert result["b0"] == max(result.values()) and all(0 <= s <= 1 for s in result.values())


def test_a_title_close_to_the_question_lifts_every_chunk_of_its_document() -> None:
    a, b1, b2 = row("a", "A", "Glossary"), row("b1", "B", "gzip"), row("b2", "B", "gzip")
    vector, keyword = ranked(a, b1, b2), ranked(a, b1, b2)  # shares 1, 0.5, 0 in each
    titles = {"Glossary": 0.1, "gzip": 0.9}
    fusion = Fusion(file_weight=0.0)
    got = scores(fuse(vector, keyword, fusion, titles))
    tw = fusion.title_weight
    top = BEST * (1 + tw)
    assert math.isclose(got["a"], (2 + tw * BEST * 0.1) / top)
    assert math.isclose(got["b1"], (1 + tw * BEST * 0.9) / top)
    assert math.isclose(got["b2"], (0 + tw * BEST * 0.9) / top)
    # a negative similarity is no penalty; no titles means no prior and no rescaling
    negative = scores(fuse(vector, keyword, fusion, {"Glossary": -0.5}))["a"]
    assert math.isclose(negative, 1 / (1 + tw))
    assert math.isclose(scores(fuse(vector, keyword, fusion))["a"], 1.0)
    # passages close in both lists: the title decides
    far = row("z", "Z", "Index")
    close_v = listed((a, 0.80), (b1, 0.79), (b2, 0.78), (far, 0.10))
    close_k = listed((a, 9.0), (b1, 8.9), (b2, 8.8), (far, 1.0))
    lifted = fuse(close_v, close_k, Fusion(file_weight=0.0, title_weight=0.5), titles)
    assert [r["id"] for r, _ in lifted] == ["b1", "b2", "a", "z"]


def test_a_document_without_a_known_title_similarity_gets_no_title_bonus() -> None:
    a, b = row("a", "A", ""), row("b", "B", "gzip")
    fusion = Fusion(file_weight=0.0)
    got = scores(fuse(ranked(a, b), ranked(a, b), fusion, {"gzip": 0.5}))
    tw = fusion.title_weight
    assert math.isclose(got["a"], 2 / (BEST * (1 + tw)))
    assert math.isclose(got["b"], (0 + tw * BEST * 0.5) / (BEST * (1 + tw)))


def test_scores_are_sorted_and_within_zero_and_one() -> None:
    rows = [row(f"c{i}", f"F{i % 3}", f"T{i % 2}") for i in range(12)]
    result = fuse(ranked(*rows), ranked(*reversed(rows)), DEFAULT_FUSION, {"T0": 1.0, "T1": 0.2})
    values = [s for _, s in result]
    assert values == sorted(values, reverse=True) and all(0 <= v <= 1 for v in values)
    assert len(result) == 12


def test_release_notes_come_after_the_page_that_documents_the_feature() -> None:
    """What's New names the feature in the question's words and leads both lists; the page that
    documents it is a close second in both: it comes first, and the notes stay above the rest."""
    notes = row("n", "N", "What's New In Python 3.1", "whatsnew/3.1.rst.txt")
    page = row("p", "P", "string — Common string operations", "library/string.rst.txt")
    other = row("o", "O", "locale — Internationalization services", "library/locale.rst.txt")
    vector = listed((notes, 0.9), (page, 0.85), (other, 0.1))  # page: shares 15/16 and 10/11
    keyword = listed((notes, 12.0), (page, 11.0), (other, 1.0))
    fusion = Fusion(file_weight=0.0)
    got = fuse(vector, keyword, fusion)
    assert [r["id"] for r, _ in got] == ["p", "n", "o"]
    assert math.isclose(scores(got)["n"], fusion.release_notes_weight * 1.0)  # first in both
    assert math.isclose(scores(got)["p"], (15 / 16 + 10 / 11) / BEST)  # a page is untouched
    # the prior is what decides: weighted 1, the notes lead as their scores say
    unweighted = fuse(vector, keyword, Fusion(file_weight=0.0, release_notes_weight=1.0))
    assert [r["id"] for r, _ in unweighted] == ["n", "p", "o"]


def test_the_release_notes_prior_weighs_every_bonus_of_their_passages() -> None:
    """A changelog matching in many passages (file bonus) with a title close to the question
    (title prior) still comes after the page: the weight applies to its whole score."""
    log = [row(f"c{i}", "C", "Changelog", "CHANGELOG.md") for i in range(4)]
    page = row("p", "P", "gzip", "gzip.md")
    vector, keyword = ranked(*log, page), ranked(*log, page)
    titles = {"Changelog": 0.9, "gzip": 0.9}
    got = scores(fuse(vector, keyword, Fusion(release_notes_weight=0.0), titles))
    assert all(got[f"c{i}"] == 0.0 for i in range(4)) and got["p"] > 0.0


def test_release_notes_without_a_title_are_known_by_their_path() -> None:
    news = {"id": "n", "file_id": "N", "title": None, "source": "NEWS.rst"}
    page = row("p", "P")
    fusion = Fusion(file_weight=0.0)
    got = scores(fuse(ranked(news, page), ranked(news, page), fusion))
    assert math.isclose(got["n"], fusion.release_notes_weight)  # first in both, then weighted


@pytest.mark.parametrize(
    ("title", "source"),
    [
        ("What's New In Python 3.11", "whatsnew/3.11.rst.txt"),
        ("What’s New in Python 2.7", "2.7.rst.txt"),  # a typographic apostrophe
        ("Changelog", "whatsnew/changelog.rst.txt"),
        ("23.0.1 (2023-02-17)", "NEWS.rst"),  # pip's: titled by its first version
        ("Node.js 21 ChangeLog", "changelogs/CHANGELOG_V21.md"),
        ("Node.js 0.12", "CHANGELOG_V012.md"),
        ("Release Notes", "docs/notes.md"),
        ("v2", "docs/release-notes/v2.md"),
        ("Changes", "CHANGES.txt"),
        ("1.0", "HISTORY.rst"),
        ("", "NEWS.rst.txt"),  # a name with two extensions
        ("Version 3", "changelog-3.0.md"),
        ("2024", "changelog/2024.md"),
    ],
)
def test_release_notes_are_known_by_title_or_path(title: str, source: str) -> None:
    assert release_notes(title, source)


@pytest.mark.parametrize(
    ("title", "source"),
    [
        ("History and License", "license.rst.txt"),
        ("Design and History FAQ", "faq/design.rst.txt"),
        ("Interactive Input Editing and History Substitution", "tutorial/interactive.rst.txt"),
        ("gzip — Support for gzip files", "library/gzip.rst.txt"),
        ("Newsletter", "newsletter.md"),
        ("Our change policy", "guide/changes-policy.md"),
        ("Tracking changes with git", "guide/tracking.md"),
        ("", "docs/history-of-the-project/origins.md"),  # a folder is release notes by name only
        ("", ""),
    ],
)
def test_other_documents_are_not_release_notes(title: str, source: str) -> None:
    assert not release_notes(title, source)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("What's new in Python 3.11?", True),
        ("what changed in pip 23", True),
        ("which options are new in 3.10", True),
        ("show me the changelog", True),
        ("release notes for the last version", True),
        ("format numbers with thousands separators in f-strings", False),
        ("How do I upgrade a package that is already installed?", False),
        ("copy a nested list so that changes do not affect the original", False),
        ("deprecation warnings: how to turn them into errors", False),
    ],
)
def test_a_question_about_releases_is_told_apart(question: str, expected: bool) -> None:
    assert about_releases(question) is expected


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
