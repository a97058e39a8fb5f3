"""Encoder speed and equivalence: stock fp32 sentence-transformers against the faster paths.

    python benchmarks/bench_encoder.py            # 1000 chunks of the Python docs
    python benchmarks/bench_encoder.py --quick    # 128 chunks, one batch size

Prints chunks/s per path and batch size (timed batch by batch in turn, so a busy machine slows every
path alike), the speed-up over stock, min/mean cosine to the stock vectors, retrieval hit@1/hit@5/
MRR@10 by source file for the eval questions over the sampled chunks, and single-query latency
p50/p95 on 1 and 2 threads. Candidates: "onnx" (the exported fp32 graph atlas-tui uses) and
"onnx-int8" (dynamic per-channel int8 of that graph; measured only, never used by atlas-tui).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from atlas_tui.knowledge.embedding import Embedder
from atlas_tui.knowledge.embedding_onnx import OnnxEncoder

DOCS = Path("/usr/share/doc/python3.11/html/_sources")
QUESTIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "eval" / "python-docs-dev-questions.jsonl"
)


def load_chunks(count: int, words: int, expected: set[str]) -> list[tuple[str, str]]:
    """~`words`-word pieces of the docs: every piece of the expected files, then a random sample."""
    pieces: list[tuple[str, str]] = []
    for path in sorted(DOCS.rglob("*.rst.txt")):
        tokens = path.read_text(encoding="utf-8", errors="replace").split()
        source = path.relative_to(DOCS).as_posix()
        pieces += [
            (source, " ".join(tokens[i : i + words]))
            for i in range(0, len(tokens), words)
            if len(tokens[i : i + words]) > 20
        ]
    random.Random(0).shuffle(pieces)
    wanted = [p for p in pieces if p[0] in expected]
    return (wanted + [p for p in pieces if p[0] not in expected])[:count]


def quantised_path(onnx: Embedder, folder: Path) -> Path:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    source = onnx._load().model_file  # type: ignore[attr-defined]
    target = folder / "int8-per-channel.onnx"
    quantize_dynamic(source, target, weight_type=QuantType.QInt8, per_channel=True)
    return target


def timed_passes(
    paths: dict[str, Embedder], texts: list[str], batch_size: int
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    seconds = dict.fromkeys(paths, 0.0)
    vectors = {name: np.zeros((len(texts), 384), np.float32) for name in paths}
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        batch = [texts[i] for i in rows]
        for name, embedder in paths.items():
            began = time.perf_counter()
            vectors[name][rows] = embedder.encode_documents(batch, batch_size=batch_size)
            seconds[name] += time.perf_counter() - began
    return seconds, vectors


def retrieval(vectors: np.ndarray, sources: list[str], queries: np.ndarray, expect: list[set[str]]):
    hit1 = hit5 = mrr = 0.0
    for query, wanted in zip(queries, expect, strict=True):
        ranked: list[str] = []
        for i in np.argsort(-(vectors @ query)):
            if sources[i] not in ranked:
                ranked.append(sources[i])
            if len(ranked) == 10:
                break
        rank = next((r for r, s in enumerate(ranked, 1) if s in wanted), None)
        hit1 += rank == 1
        hit5 += rank is not None and rank <= 5
        mrr += 1 / rank if rank else 0.0
    n = len(expect)
    return hit1 / n, hit5 / n, mrr / n


def query_latency(embedder: Embedder, questions: list[str], threads: int) -> tuple[float, float]:
    embedder.query_threads = threads
    embedder.encode_query("warm up")
    times = []
    for _ in range(3):
        for question in questions:
            began = time.perf_counter()
            embedder.encode_query(question)
            times.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 chunks, batch size 32 only")
    parser.add_argument("--chunks", type=int, default=1000)
    parser.add_argument(
        "--words", type=int, default=200, help="words per chunk (200: most fill 256 word-pieces)"
    )
    parser.add_argument("--batch-sizes", default="8,32,64")
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--no-int8", action="store_true")
    args = parser.parse_args()
    count = 128 if args.quick else args.chunks
    batch_sizes = [32] if args.quick else [int(b) for b in args.batch_sizes.split(",")]

    questions = [json.loads(line) for line in args.questions.read_text().splitlines() if line]
    expect = [set(q["expect"]) for q in questions]
    chunks = load_chunks(count, args.words, set().union(*expect))
    sources, texts = [c[0] for c in chunks], [c[1] for c in chunks]
    print(
        f"{len(texts)} chunks of ~{args.words} words from {len(set(sources))} files; "
        f"{os.cpu_count()} CPUs"
    )

    paths = {
        "stock": Embedder("all-MiniLM-L6-v2", encoder="torch"),
        "onnx": Embedder("all-MiniLM-L6-v2", encoder="onnx"),
    }
    for embedder in paths.values():
        embedder.warm()
    with tempfile.TemporaryDirectory() as scratch:
        if not args.no_int8:
            int8 = Embedder("all-MiniLM-L6-v2", encoder="onnx")
            int8._encoder = OnnxEncoder(
                int8.model_path, int8.max_tokens, quantised_path(paths["onnx"], Path(scratch))
            )  # type: ignore[arg-type]
            int8.encoder = "onnx-int8"
            paths["onnx-int8"] = int8
        tokens = paths["onnx"]._encoder._tokenizer.encode_batch(texts)  # type: ignore[union-attr]
        lengths = np.array([sum(t.attention_mask) for t in tokens])
        print(
            f"word-pieces per chunk: median {np.median(lengths):.0f}, "
            f"at the 256 cap: {(lengths >= 256).mean():.0%}"
        )

        print(
            "\n| batch | "
            + " | ".join(f"{n} chunks/s" for n in paths)
            + " | "
            + " | ".join(f"{n} speed-up" for n in paths if n != "stock")
            + " |"
        )
        full: dict[str, np.ndarray] = {}
        for batch_size in batch_sizes:
            sample = texts if batch_size == 32 else texts[: max(64, len(texts) // 4)]
            seconds, vectors = timed_passes(paths, sample, batch_size)
            if batch_size == 32:
                full = vectors
            rates = [f"{len(sample) / s:.1f}" for s in seconds.values()]
            ups = [f"x{seconds['stock'] / s:.2f}" for n, s in seconds.items() if n != "stock"]
            print(
                f"| {batch_size} ({len(sample)}) | "
                + " | ".join(rates)
                + " | "
                + " | ".join(ups)
                + " |"
            )

        print(
            "\n| path | cosine to stock min / mean | hit@1 | hit@5 | MRR@10 "
            "| query p50/p95 ms, 1 thread | 2 threads |"
        )
        for name, embedder in paths.items():
            cosine = (full[name] * full["stock"]).sum(axis=1)
            embedder.query_threads = 1
            queries = np.stack([embedder.encode_query(q["q"]) for q in questions])
            h1, h5, mrr = retrieval(full[name], sources, queries, expect)
            one = query_latency(embedder, [q["q"] for q in questions], 1)
            two = query_latency(embedder, [q["q"] for q in questions], 2)
            print(
                f"| {name} | {cosine.min():.6f} / {cosine.mean():.6f} "
                f"| {h1:.2f} | {h5:.2f} | {mrr:.3f} "
                f"| {one[0]:.1f} / {one[1]:.1f} | {two[0]:.1f} / {two[1]:.1f} |"
            )


if __name__ == "__main__":
    main()
