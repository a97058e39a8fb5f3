"""Search latency per mode on a real index, and vector search at scale with the automatic index.

    python benchmarks/bench_search.py --db /work/bench-db --collection bench \
        --questions /work/shared/eval/python-docs-dev-questions.jsonl
    python benchmarks/bench_search.py --synthetic 1000000      # the index at 1M rows
    python benchmarks/bench_search.py --quick                  # 100k synthetic rows only

Latency is measured warm (model loaded, one query per mode first), through `KnowledgeBase.search`.
The synthetic part writes N clustered 384-d unit vectors with the chunk schema, builds the vector
index the store builds automatically, and compares it with exact search: p50 and recall@10.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import SEARCH_MODES, Settings
from atlas_tui.knowledge import retrieval
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.store import Store, chunk_schema


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def load_questions(path: str | Path) -> list[str]:
    return [json.loads(line)["q"] for line in Path(path).read_text().splitlines() if line.strip()]


def time_modes(
    kb: KnowledgeBase, questions: list[str], repeats: int
) -> dict[str, tuple[float, float, int]]:
    """Warm search latency per mode: (p50 ms, p95 ms, queries), one untimed query first."""
    figures = {}
    for mode in SEARCH_MODES:
        kb.search(questions[0], mode=mode)
        samples = []
        for _ in range(repeats):
            for question in questions:
                started = time.perf_counter()
                kb.search(question, mode=mode)
                samples.append((time.perf_counter() - started) * 1000)
        figures[mode] = (*percentiles(samples), len(samples))
    return figures


def bench_modes(db: str, collection: str, questions: list[str], repeats: int) -> None:
    kb = KnowledgeBase(Settings(db_path=db, collection=collection))
    kb.warm()
    stats = kb.stats()
    print(f"index {db}: {stats.chunks} chunks, {stats.embedded_chunks} embedded")
    for mode, (p50, p95, n) in time_modes(kb, questions, repeats).items():
        print(f"  {mode:8} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   ({n} queries)")
    encode = []
    for question in questions:
        started = time.perf_counter()
        kb.embedder.encode_query(question)
        encode.append((time.perf_counter() - started) * 1000)
    p50, p95 = percentiles(encode)
    print(f"  (query encoding alone: p50 {p50:.1f} ms, p95 {p95:.1f} ms)")


def synthetic_vectors(n: int, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors shaped like sentence embeddings: a low intrinsic dimension, clustered.

    (Isotropic Gaussian noise in 384 dimensions would make every point almost equidistant, so
    nearest neighbours would mean nothing and no index could find them.)
    """
    latent_dim = 32
    basis = np.random.default_rng(42).normal(size=(latent_dim, dim)).astype(np.float32)
    centres = np.random.default_rng(7).normal(size=(max(16, n // 2000), latent_dim))
    latent = centres[rng.integers(0, len(centres), n)] + 0.5 * rng.normal(size=(n, latent_dim))
    vectors = latent.astype(np.float32) @ basis + 0.5 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def bench_synthetic(n: int, queries: int) -> None:
    dim, rng = 384, np.random.default_rng(0)
    store = Store(tempfile.mkdtemp(prefix="atlas-synth-"), "synth")
    store.open_for_writing("synthetic", dim)
    started = time.perf_counter()
    step = 100_000
    for offset in range(0, n, step):
        count = min(step, n - offset)
        ids = [f"c{offset + i}" for i in range(count)]
        blank = pa.array([""] * count)
        columns = {
            f.name: blank if f.type == pa.string() else pa.nulls(count, f.type)
            for f in chunk_schema(dim)
        }
        columns["id"] = columns["file_id"] = pa.array(ids)
        columns["vector"] = pa.FixedSizeListArray.from_arrays(
            pa.array(synthetic_vectors(count, dim, rng).reshape(-1)), dim
        )
        store.chunks.add(pa.table(columns, schema=chunk_schema(dim)))
    print(f"synthetic: {n} rows written in {time.perf_counter() - started:.0f} s")
    probes = synthetic_vectors(queries, dim, rng)

    def run(exact: bool) -> tuple[list[list[str]], list[float]]:
        results, times = [], []
        for vector in probes:
            t0 = time.perf_counter()
            if exact:
                rows = (
                    store.chunks.search(vector).distance_type("cosine").bypass_vector_index()
                    .select(["id"]).limit(10).to_list()
                )  # fmt: skip
                ids = [r["id"] for r in rows]
            else:
                ids = [r["id"] for r, _ in retrieval.vector_candidates(store, vector, 10, None)]
            times.append((time.perf_counter() - t0) * 1000)
            results.append(ids)
        return results, times

    exact, exact_ms = run(exact=True)
    print(
        f"  exact     p50 {percentiles(exact_ms)[0]:7.1f} ms   p95 {percentiles(exact_ms)[1]:7.1f}"
    )
    started = time.perf_counter()
    store.optimize(vector_index_min_rows=0)  # what ingest does (above the threshold)
    print(f"  index built in {time.perf_counter() - started:.0f} s")
    indexed, indexed_ms = run(exact=False)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, indexed, strict=True)])
    p50, p95 = percentiles(indexed_ms)
    print(f"  indexed   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   recall@10 {recall:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", default="")
    parser.add_argument("--collection", default="bench")
    parser.add_argument(
        "--questions",
        default=str(
            Path(__file__).resolve().parents[2] / "shared/eval/python-docs-dev-questions.jsonl"
        ),
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--synthetic", type=int, default=1_000_000, help="rows (0: skip)")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="100k synthetic rows, 1 repeat")
    args = parser.parse_args()
    if args.quick:
        args.synthetic, args.repeats, args.queries = min(args.synthetic, 100_000), 1, 20
    if args.db:
        bench_modes(args.db, args.collection, load_questions(args.questions), args.repeats)
    if args.synthetic:
        bench_synthetic(args.synthetic, args.queries)


if __name__ == "__main__":
    main()
