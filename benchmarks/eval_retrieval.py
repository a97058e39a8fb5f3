"""Retrieval quality by source file: hit@1, hit@5 and MRR@10 per search mode.

    python benchmarks/eval_retrieval.py --corpus /usr/share/doc/python3.11/html/_sources \
        --questions /work/shared/eval/python-docs-dev-questions.jsonl --db /work/bench-db \
        [--modes hybrid,vector,keyword] [--collection bench] [--fusion file_weight=0.3]

Questions are JSON lines `{"q": "...", "expect": ["relative/source/path", ...]}`. A question's rank
is the position of the first result whose source is expected, counting distinct files in result
order. The corpus is ingested into --db first when that index is missing (a temporary one without
--db). `--fusion` overrides hybrid knobs (see retrieval.Fusion) to compare settings.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import SEARCH_MODES, Settings
from atlas_tui.knowledge import retrieval
from atlas_tui.knowledge.base import KnowledgeBase

CANDIDATE_CHUNKS = 40  # enough chunks to see 10 distinct files


def parse_fusion(text: str) -> retrieval.Fusion:
    names = {f.name: f.type for f in fields(retrieval.Fusion)}
    values: dict[str, float | int] = {}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        if key not in names:
            raise SystemExit(f"unknown fusion knob {key!r}; use {', '.join(names)}")
        values[key] = int(value) if names[key] == "int" else float(value)
    return replace(retrieval.DEFAULT_FUSION, **values)


def file_rank(sources: list[str], expect: set[str]) -> int | None:
    distinct = list(dict.fromkeys(sources))
    return next((i for i, s in enumerate(distinct[:10], start=1) if s in expect), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", required=True)
    parser.add_argument("--questions", required=True)
    parser.add_argument("--db", default="")
    parser.add_argument("--collection", default="bench")
    parser.add_argument("--modes", default=",".join(SEARCH_MODES))
    parser.add_argument("--fusion", default="", help="hybrid knobs, e.g. file_weight=0.5")
    parser.add_argument("--misses", action="store_true", help="list questions not ranked first")
    args = parser.parse_args()

    questions = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line]
    kb = KnowledgeBase(
        Settings(
            db_path=args.db or tempfile.mkdtemp(prefix="atlas-eval-"), collection=args.collection
        )
    )
    if not kb.exists():
        report = kb.ingest([args.corpus])
        print(f"ingested {report.files_added} files, {report.chunks_written} chunks")
    kb.warm()
    fusion = parse_fusion(args.fusion)
    stats = kb.stats()
    print(
        f"index: {stats.documents} files, {stats.chunks} chunks, {stats.embedded_chunks} embedded"
    )
    print(f"{'mode':8} {'hit@1':>6} {'hit@5':>6} {'MRR@10':>7} {'ms/q':>6}   (n={len(questions)})")
    for mode in args.modes.split(","):
        ranks: list[int | None] = []
        misses: list[str] = []
        started = time.perf_counter()
        for question in questions:
            passages = retrieval.search(
                kb.store, question["q"], encode=kb.embedder.encode_query,
                encode_titles=kb.encode_titles, mode=mode,
                limit=CANDIDATE_CHUNKS, fusion=fusion,
            )  # fmt: skip
            rank = file_rank([p.source for p in passages], set(question["expect"]))
            ranks.append(rank)
            if rank != 1:
                misses.append(
                    f"  {rank}  {question['q']}  -> {passages[0].source if passages else '-'}"
                )
        elapsed = (time.perf_counter() - started) * 1000 / len(questions)
        n = len(ranks)
        hit1 = sum(r == 1 for r in ranks) / n
        hit5 = sum(r is not None and r <= 5 for r in ranks) / n
        mrr = sum(1 / r for r in ranks if r) / n
        print(f"{mode:8} {hit1:6.2f} {hit5:6.2f} {mrr:7.3f} {elapsed:6.0f}")
        if args.misses:
            print("\n".join(misses))


if __name__ == "__main__":
    main()
