"""Search over the store: vector (cosine), keyword (BM25, LanceDB's native full-text index), hybrid.

Hybrid fuses the two candidate lists by relative score fusion: each list's scores are rescaled to
its own range (its best candidate 1, its weakest 0) and the two are added, weighted. A passage far
ahead in one list keeps its lead, where rank fusion would count it as one place ahead (measured
on the Python docs: benchmarks/RESULTS-corpus.md). Then a file that matches in several chunks
lifts its best chunk a little (documents, not isolated sentences, answer questions), and a
document whose title is close to the question lifts its chunks (a title says what a whole
document is about, which a single chunk often does not), and release notes count for less unless
the question asks about releases (`release_notes`).
Every score is in [0, 1], higher is better:
- vector: the cosine similarity, clipped at 0;
- keyword: BM25 squashed by s / (s + KEYWORD_HALF) (absolute, so `min_score` means the same
  for every query);
- hybrid: the fused score (with its file and title bonuses) divided by the best possible one.
Filters (`source` glob, `where` equalities) are applied before the search (prefilter), so a filter
never empties a result that has matching rows.
"""

from __future__ import annotations

import fnmatch
import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from atlas_tui.config import SEARCH_MODES
from atlas_tui.errors import ConfigError, EmptyIndexError
from atlas_tui.knowledge.store import (
    VECTOR_EF,
    VECTOR_NPROBES,
    VECTOR_REFINE,
    Store,
    guard,
    in_list,
    sql_literal,
)
from atlas_tui.types import Passage

FILTER_FIELDS = frozenset(
    {"source", "root", "title", "heading", "kind", "chunk_index", "page", "content_hash", "file_id"}
)
RESULT_COLUMNS = [
    "id", "file_id", "source", "root", "title", "heading", "chunk_index",
    "start", "end", "line_start", "line_end", "page", "text",
]  # fmt: skip
KEYWORD_HALF = 8.0
_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="atlas-keyword")


@dataclass(frozen=True, slots=True)
class Fusion:
    """The knobs of hybrid ranking (benchmarks/eval_retrieval.py measures them)."""

    candidates: int = 60  # taken from each list before fusing (their range is what scores share)
    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    file_weight: float = 0.3  # share of a file's other matching chunks added to its best chunk
    # A document's title says what it is about: its cosine similarity to the question, in units
    # of the best fused score, lifts every chunk of a document whose title matches the question.
    # Measured with rank fusion on the Python docs eval: 0.13-0.2 plateau at hit@1 0.90 / MRR@10
    # 0.929 (0 gives 0.70 / 0.829). Kept for relative fusion: refitting it and file_weight on
    # half of 64 questions did worse on the other half than these values (RESULTS-corpus.md).
    title_weight: float = 0.15
    # Passages from a section already in the list wait until every other candidate section has
    # its first one (0: they keep their rank). A list of six then shows six sections, not a long
    # section's three chunks; which files rank first is unchanged (a file's best chunk is always
    # the first of its section).
    one_per_section: int = 1
    # Release notes (a changelog, "What's New In ...", NEWS) mention each feature once, in a line
    # or two, next to everything else that changed: for a question about how to do something they
    # compete with the page that documents it, and should come after it. Their passages' scores
    # are multiplied by this (1: no prior), except for a question about releases (`about_releases`).
    # On the Python docs any value from 0 to 0.75 gives the same ranks (RESULTS-corpus.md): half
    # is the middle of that range, not a fitted value.
    release_notes_weight: float = 0.5


DEFAULT_FUSION = Fusion()

# A document's kind, from its title or its path (never from its text, which quotes anything):
# release notes are titled "Changelog", "What's New In Python 3.11", "Node.js 21 ChangeLog",
# "Release Notes", or live in a file or folder named so (NEWS.rst, CHANGES.md, HISTORY.rst,
# whatsnew/3.11.rst, changelogs/CHANGELOG_V21.md; pip's NEWS.rst is titled by its first version).
_NOTES_TITLE = re.compile(
    r"^(what[’']?s new|changes|news|release history)\b|\b(change ?log|release notes)\b", re.I
)
_NOTES_FILE = re.compile(
    r"^(change ?log|changes|news|history|release ?notes|whats ?new)( v?\d[\w.]*)?$", re.I
)  # the file's name before its first dot, "_" and "-" read as spaces
_NOTES_FOLDER = re.compile(r"^(change ?logs?|release[-_ ]?notes|whats[-_]?new)$", re.I)
# A question naming a version or asking what is new or what changed is one that release notes
# answer ("what's new in 3.11", "what changed in pip 23"): then they are ranked as any document.
_ABOUT_RELEASES = re.compile(
    r"\b(v?\d+\.\d+|what[’']?s new|new in|change ?logs?|release notes|what changed|changed in|"
    r"changes in)\b",
    re.I,
)


def release_notes(title: str, source: str) -> bool:
    """Whether a document is release notes, by its title or its path (relative to its root)."""
    *folders, name = source.split("/")
    return bool(
        _NOTES_TITLE.search(title.strip())
        or _NOTES_FILE.match(re.sub(r"[-_]", " ", name.partition(".")[0]))
        or any(_NOTES_FOLDER.match(folder) for folder in folders)
    )


def about_releases(query: str) -> bool:
    """Whether a question asks about releases (then release notes are ranked as any document)."""
    return bool(_ABOUT_RELEASES.search(query))


def build_predicate(
    store: Store, source: str | None, where: Mapping[str, Any] | None
) -> str | None:
    """A prefilter, or None. Globs are matched here in Python and become a list of hex ids."""
    clauses: list[str] = []
    if source:
        ids = sorted(
            record.file_id
            for record in store.files().values()
            if _glob_matches(source, record.source)
        )
        if not ids:
            return "FALSE"
        clauses.append(in_list("file_id", ids))
    for name, value in (where or {}).items():
        if name not in FILTER_FIELDS:
            raise ConfigError(
                f"Cannot filter on {name!r}; use one of {', '.join(sorted(FILTER_FIELDS))}."
            )
        clauses.append(f"{name} IS NULL" if value is None else f"{name} = {sql_literal(value)}")
    return " AND ".join(f"({c})" for c in clauses) or None


def _glob_matches(pattern: str, source: str) -> bool:
    """A `--source` glob matches the path relative to its ingest root, or (a glob without "/")
    the file name; never the absolute path (`[!t]*` would then match every file under /)."""
    return fnmatch.fnmatchcase(source, pattern) or (
        "/" not in pattern and fnmatch.fnmatchcase(source.rsplit("/", 1)[-1], pattern)
    )


def check_knobs(limit: object, min_score: object) -> None:
    """Refuse search settings outside their range, naming the setting (`ConfigError`)."""
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ConfigError(f"The result limit must be a whole number of at least 1, not {limit!r}.")
    if (
        isinstance(min_score, bool)
        or not isinstance(min_score, int | float)
        or not math.isfinite(min_score)
    ):
        raise ConfigError(
            f"The minimum score must be a finite number (scores are 0 to 1), not {min_score!r}."
        )


def vector_candidates(
    store: Store, vector: np.ndarray, limit: int, predicate: str | None
) -> list[tuple[dict[str, Any], float]]:
    """Nearest chunks by cosine similarity (rows not embedded yet are never returned)."""

    def run() -> list[dict[str, Any]]:
        query = (
            store.chunks.search(vector, vector_column_name="vector")
            .distance_type("cosine")
            .select(RESULT_COLUMNS)
            .limit(limit)
            # the index's knobs (ignored by exact search, so no need to ask whether one exists)
            .nprobes(VECTOR_NPROBES)
            .ef(max(VECTOR_EF, limit * VECTOR_REFINE))  # HNSW refuses fewer than it returns
            .refine_factor(VECTOR_REFINE)
        )
        if predicate:
            query = query.where(predicate, prefilter=True)
        return query.to_arrow().to_pylist()

    with guard(store.uri, "searched"):
        rows = store.bounded(run, "searched")
    return [(row, max(0.0, min(1.0, 1.0 - float(row.pop("_distance"))))) for row in rows]


def keyword_candidates(
    store: Store, text: str, limit: int, predicate: str | None
) -> list[tuple[dict[str, Any], float]]:
    """Best chunks by BM25 over title, heading path, source path and text."""

    def run() -> list[dict[str, Any]]:
        query = (
            store.chunks.search(text, query_type="fts", fts_columns="search_text")
            .select(RESULT_COLUMNS)
            .limit(limit)
        )
        if predicate:
            query = query.where(predicate, prefilter=True)
        return query.to_arrow().to_pylist()

    with guard(store.uri, "searched"):
        rows = store.bounded(run, "searched")
    return [(row, float(row.pop("_score"))) for row in rows]


def relative(hits: Sequence[tuple[dict[str, Any], float]]) -> list[float]:
    """Each hit's score as a share of its list's range: the best 1, the weakest 0 (a list whose
    scores are all equal: 1 each, as every one of them is the best)."""
    scores = [score for _row, score in hits]
    low, high = min(scores, default=0.0), max(scores, default=0.0)
    if high <= low:
        return [1.0] * len(scores)
    return [(score - low) / (high - low) for score in scores]


def fuse(
    vector_hits: list[tuple[dict[str, Any], float]],
    keyword_hits: list[tuple[dict[str, Any], float]],
    fusion: Fusion = DEFAULT_FUSION,
    title_similarity: Mapping[str, float] | None = None,
) -> list[tuple[dict[str, Any], float]]:
    """Relative score fusion of two candidate lists (see `relative`), with a bonus for files
    matching in several chunks and one for documents whose title is close to the question
    (`title_similarity`: title -> cosine); the passages of release notes (`release_notes`) are
    then weighted by `fusion.release_notes_weight`.
    """
    rows: dict[str, dict[str, Any]] = {}
    fused: dict[str, float] = defaultdict(float)
    for hits, weight in (
        (vector_hits, fusion.vector_weight),
        (keyword_hits, fusion.keyword_weight),
    ):
        for (row, _score), share in zip(hits, relative(hits), strict=True):
            rows.setdefault(row["id"], row)
            fused[row["id"]] += weight * share
    by_file: dict[str, list[float]] = defaultdict(list)
    for cid, value in fused.items():
        by_file[rows[cid]["file_id"]].append(value)
    best = fusion.vector_weight + fusion.keyword_weight  # first in both lists
    file_bonus = {
        fid: fusion.file_weight * min(best, sum(values) - max(values))
        for fid, values in by_file.items()
    }
    titles = title_similarity or {}
    title_weight = fusion.title_weight if titles else 0.0
    top = best * (1.0 + fusion.file_weight + title_weight)
    notes = {
        row["file_id"]: fusion.release_notes_weight
        if release_notes(row["title"] or "", row["source"])
        else 1.0
        for row in rows.values()
    }
    scored = [
        (
            rows[cid],
            notes[rows[cid]["file_id"]]
            * (
                value
                + file_bonus[rows[cid]["file_id"]]
                + title_weight * best * max(0.0, titles.get(rows[cid]["title"], 0.0))
            )
            / top,
        )
        for cid, value in fused.items()
    ]
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored


def search(
    store: Store,
    query: str,
    *,
    encode: Callable[[str], np.ndarray],
    encode_titles: Callable[[Sequence[str]], np.ndarray] | None = None,
    mode: str = "hybrid",
    limit: int = 6,
    source: str | None = None,
    where: Mapping[str, Any] | None = None,
    min_score: float = 0.0,
    fusion: Fusion | None = None,
) -> list[Passage]:
    """Ranked passages for `query`; `encode` makes the query vector (unused for keyword).
    `fusion`: the hybrid knobs (None: `DEFAULT_FUSION`, as it is when called)."""
    fusion = fusion or DEFAULT_FUSION
    if about_releases(query):
        fusion = replace(fusion, release_notes_weight=1.0)
    if mode not in SEARCH_MODES:
        raise ConfigError(f"Unknown search mode {mode!r}; use one of {', '.join(SEARCH_MODES)}.")
    check_knobs(limit, min_score)
    if not query.strip():
        return []
    predicate = build_predicate(store, source, where)
    if mode == "vector":
        hits = vector_candidates(store, encode(query), limit, predicate)
    elif mode == "keyword":
        hits = [
            (row, score / (score + KEYWORD_HALF))
            for row, score in keyword_candidates(store, query, limit, predicate)
        ]
    else:
        n = max(fusion.candidates, limit)
        # BM25 runs in LanceDB (no GIL) while this thread encodes the query and searches vectors.
        keyword = _POOL.submit(keyword_candidates, store, query, n, predicate)
        query_vector = encode(query)
        vector = vector_candidates(store, query_vector, n, predicate)
        keyword_hits = keyword.result()
        similarity = None
        if encode_titles is not None and fusion.title_weight:
            titles = sorted({row["title"] for row, _ in (*vector, *keyword_hits) if row["title"]})
            if titles:
                similarity = dict(zip(titles, encode_titles(titles) @ query_vector, strict=True))
        hits = fuse(vector, keyword_hits, fusion, similarity)
    if not hits and store.count() == 0:
        raise EmptyIndexError(f"The index {store.collection!r} at {store.uri} holds no documents.")
    if fusion.one_per_section:
        hits = sections_first(hits)
    scored = [(row, round(float(score), 6)) for row, score in hits[:limit]]
    kept = [(row, score) for row, score in scored if score >= min_score]
    return [to_passage(row, score, rank) for rank, (row, score) in enumerate(kept, start=1)]


def sections_first(
    hits: list[tuple[dict[str, Any], float]],
) -> list[tuple[dict[str, Any], float]]:
    """The hits with each section's best first and its other passages after all of those, each
    part in its order (a section: one file's passages under one heading path)."""
    seen: set[tuple[str, str]] = set()
    first: list[tuple[dict[str, Any], float]] = []
    later: list[tuple[dict[str, Any], float]] = []
    for row, score in hits:
        key = (row["file_id"], row["heading"])
        (later if key in seen else first).append((row, score))
        seen.add(key)
    return first + later


def around(store: Store, passage: Passage, before: int, after: int) -> list[Passage]:
    """The chunks of `passage`'s file from `before` chunks before it to `after` after it, in file
    order, scored as `passage` (a file is found by its root and source, as its chunks carry them:
    the chunk itself may have been replaced by a newer ingest of the file)."""
    low, high = max(0, passage.chunk_index - before), passage.chunk_index + after
    predicate = (
        f"root = {sql_literal(passage.root)} AND source = {sql_literal(passage.source)} "
        f"AND chunk_index >= {int(low)} AND chunk_index <= {int(high)}"
    )
    with guard(store.uri, "searched"):
        rows = (
            store.chunks.search()
            .where(predicate)
            .select(RESULT_COLUMNS)
            .limit(high - low + 1)
            .to_arrow()
            .to_pylist()
        )
    rows.sort(key=lambda row: row["chunk_index"])
    return [to_passage(row, passage.score, 0) for row in rows]


def to_passage(row: Mapping[str, Any], score: float, rank: int) -> Passage:
    return Passage(
        chunk_id=row["id"],
        text=row["text"],
        source=row["source"],
        root=row["root"],
        title=row["title"],
        heading=row["heading"],
        score=score,
        chunk_index=int(row["chunk_index"]),
        start=int(row["start"]),
        end=int(row["end"]),
        line_start=int(row["line_start"]),
        line_end=int(row["line_end"]),
        page=row["page"],
        rank=rank,
    )
