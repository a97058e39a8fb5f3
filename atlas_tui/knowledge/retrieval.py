"""Search over the store: vector (cosine), keyword (BM25, LanceDB's native full-text index), hybrid.

Hybrid fuses the two ranked candidate lists with weighted reciprocal-rank fusion, then lets a file
that matches in several chunks lift its best chunk a little (documents, not isolated sentences,
answer questions), and a document whose title is close to the question lift its chunks (a title
says what a whole document is about, which a single chunk often does not).
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
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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

    candidates: int = 60  # taken from each list before fusing
    k: float = 60.0  # RRF constant
    vector_weight: float = 1.0
    keyword_weight: float = 1.0
    file_weight: float = 0.3  # share of a file's other matching chunks added to its best chunk
    # A document's title says what it is about: its cosine similarity to the question, in units
    # of the best fused score, lifts every chunk of a document whose title matches the question.
    # Measured on the Python docs eval: 0.13-0.2 plateau at hit@1 0.90 / MRR@10 0.929 (0 gives
    # 0.70 / 0.829; 0.08 and 0.4 still 0.85 / 0.90): a broad optimum, not a knife edge.
    title_weight: float = 0.15
    # Passages from a section already in the list wait until every other candidate section has
    # its first one (0: they keep their rank). A list of six then shows six sections, not a long
    # section's three chunks; which files rank first is unchanged (a file's best chunk is always
    # the first of its section).
    one_per_section: int = 1


DEFAULT_FUSION = Fusion()


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


def fuse(
    vector_hits: list[tuple[dict[str, Any], float]],
    keyword_hits: list[tuple[dict[str, Any], float]],
    fusion: Fusion = DEFAULT_FUSION,
    title_similarity: Mapping[str, float] | None = None,
) -> list[tuple[dict[str, Any], float]]:
    """Weighted RRF of two ranked lists, with a bonus for files matching in several chunks and
    one for documents whose title is close to the question (`title_similarity`: title -> cosine).
    """
    rows: dict[str, dict[str, Any]] = {}
    fused: dict[str, float] = defaultdict(float)
    for hits, weight in (
        (vector_hits, fusion.vector_weight),
        (keyword_hits, fusion.keyword_weight),
    ):
        for rank, (row, _score) in enumerate(hits, start=1):
            rows.setdefault(row["id"], row)
            fused[row["id"]] += weight / (fusion.k + rank)
    by_file: dict[str, list[float]] = defaultdict(list)
    for cid, value in fused.items():
        by_file[rows[cid]["file_id"]].append(value)
    best = (fusion.vector_weight + fusion.keyword_weight) / (fusion.k + 1)  # first in both lists
    file_bonus = {
        fid: fusion.file_weight * min(best, sum(values) - max(values))
        for fid, values in by_file.items()
    }
    titles = title_similarity or {}
    title_weight = fusion.title_weight if titles else 0.0
    top = best * (1.0 + fusion.file_weight + title_weight)
    scored = [
        (
            rows[cid],
            (
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
