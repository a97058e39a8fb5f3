"""Encoder paths against fp32: passages a second per core, and how far their vectors are from fp32.

    python benchmarks/bench_encoder.py                 # 2,000 real passages of the Python docs
    python benchmarks/bench_encoder.py --quick         # 128 passages
    python benchmarks/bench_encoder.py --paths fp32,int8,bf16,torch

The passages are what an ingest embeds: the Python docs' files chunked by atlas-tui's own chunker
(`embedding_text`: heading path and text), a seeded sample. Each path runs on ONE core (one
worker thread, one intra-op thread: an ingest runs one such worker per core), timed batch by
batch in turn (32 passages a batch, as the ingest groups them), so that load from other work
falls on every path alike. Printed per path: passages/s per core, the speed-up over fp32, the
cosine of each vector to its fp32 vector (min, 1st percentile, mean), what that does to scores
(the largest change of a question's score against any passage, and how often a question's top 10
passages are the same set as with fp32 vectors, for the dev questions), one query's latency, and
whether a passage's vector depends on its batch (the lowest cosine between a passage encoded alone
and in its batch of 32, over the first ALONE_SAMPLE passages: 1 when it does not).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from atlas_tui.knowledge import loaders
from atlas_tui.knowledge.chunking import chunk_document, load_token_counter
from atlas_tui.knowledge.embedding import Embedder
from atlas_tui.knowledge.hardware import this_cpu

DOCS = Path("/usr/share/doc/python3.11/html/_sources")
QUESTIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "eval" / "python-docs-dev-questions.jsonl"
)
BATCH = 32  # passages per encoder call, as the ingest groups them (engine.PROGRESS_EVERY)
ALONE_SAMPLE = 64  # passages encoded alone too, against their vectors from the batch


def real_passages(count: int, model_path: Path) -> list[str]:
    """`count` passages as the ingest makes them, sampled (seeded) from the whole corpus."""
    counter = load_token_counter(model_path)
    texts: list[str] = []
    for path in sorted(DOCS.rglob("*.txt")):
        try:
            doc = loaders.load_document(path, DOCS, 20_000_000)
        except loaders.LoadError:
            continue
        texts += [chunk.embedding_text(doc.title) for chunk in chunk_document(doc, counter)]
    return random.Random(0).sample(texts, min(count, len(texts)))


def timed(paths: dict[str, Embedder], texts: list[str]) -> tuple[dict[str, float], dict]:
    """Seconds per path and the vectors, batch by batch in turn (longest first, like the
    ingest's sort)."""
    seconds = dict.fromkeys(paths, 0.0)
    vectors = {name: np.zeros((len(texts), 384), np.float32) for name in paths}
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(order), BATCH):
        rows = order[start : start + BATCH]
        batch = [texts[i] for i in rows]
        for name, embedder in paths.items():
            began = time.perf_counter()
            vectors[name][rows] = embedder.encode_documents(batch, batch_size=BATCH)
            seconds[name] += time.perf_counter() - began
    return seconds, vectors


def query_latency(embedder: Embedder, questions: list[str]) -> tuple[float, float]:
    embedder.encode_query("warm up")
    times = []
    for _ in range(3):
        for question in questions:
            began = time.perf_counter()
            embedder.encode_query(question)
            times.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def alone_vs_batched(embedder: Embedder, texts: list[str], batched: np.ndarray) -> float:
    """The lowest cosine between a passage's vector encoded alone and in its batch."""
    count = min(ALONE_SAMPLE, len(texts))
    alone = np.stack([embedder.encode_documents([text])[0] for text in texts[:count]])
    return float((alone * batched[:count]).sum(axis=1).min())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 passages")
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--paths", default="fp32,int8,bf16,torch")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    args = parser.parse_args()
    names = args.paths.split(",")
    if names[0] != "fp32":
        names = ["fp32", *(n for n in names if n != "fp32")]

    cpu = this_cpu()
    paths = {name: Embedder("all-MiniLM-L6-v2", encoder=name) for name in names}
    for embedder in paths.values():
        embedder.workers = 1  # one core each
        embedder.warm_documents()
        embedder.warm()
    texts = real_passages(128 if args.quick else args.passages, paths["fp32"].model_path)
    print(
        f"CPU {cpu.name} ({platform.machine()}; {', '.join(cpu.features())}); "
        f"{len(texts)} passages; nice {os.nice(0)}; load average {os.getloadavg()[0]:.1f}"
    )
    seconds, vectors = timed(paths, texts)
    print(f"load average after {os.getloadavg()[0]:.1f}")

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line]
    queries = np.stack([paths["fp32"].encode_query(q["q"]) for q in questions])
    reference = queries @ vectors["fp32"].T
    top10 = [set(np.argsort(-row)[:10]) for row in reference]
    print(
        "\n| path | passages/s per core | speed-up | cosine to fp32: min / p1 / mean "
        "| largest score change | same top 10 | query p50 / p95 ms | alone vs in a batch |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, embedder in paths.items():
        cosine = (vectors[name] * vectors["fp32"]).sum(axis=1)
        scores = queries @ vectors[name].T
        same = np.mean(
            [set(np.argsort(-row)[:10]) == t for row, t in zip(scores, top10, strict=True)]
        )
        p50, p95 = query_latency(embedder, [q["q"] for q in questions])
        print(
            f"| {name} ({embedder.choice.reason}) | {len(texts) / seconds[name]:.1f} "
            f"| x{seconds['fp32'] / seconds[name]:.2f} "
            f"| {cosine.min():.5f} / {np.percentile(cosine, 1):.5f} / {cosine.mean():.5f} "
            f"| {np.abs(scores - reference).max():.4f} | {same:.0%} | {p50:.1f} / {p95:.1f} "
            f"| {alone_vs_batched(embedder, texts, vectors[name]):.6f} |"
        )


if __name__ == "__main__":
    main()
