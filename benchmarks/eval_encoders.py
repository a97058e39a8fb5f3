"""Retrieval quality of indexes built by different encoder paths, on the same questions.

    python benchmarks/eval_encoders.py --index fp32=/work/db --index int8=/work/db-auto-1 \
        [--collection bench] [--questions ../shared/eval/python-docs-dev-questions.jsonl] \
        [--facts ../shared/eval/answers-dev.jsonl --facts benchmarks/answers-extra.jsonl]

Two measures, per index and search mode (hybrid, vector), each index searched with its own
queries (the encoder its kind of vectors uses, as atlas-tui does):
- by source file (as eval_retrieval.py): hit@1, hit@5 and MRR@10 of the dev questions;
- fact retrieved: of the answer questions over the Python docs (`"corpus": "python"`), the share
  whose fact (one of its phrases, case-insensitive) is in the passages retrieved for them (6, as
  `ask` retrieves by default), and in the first one.
Nothing here was tuned on these questions: the encoder paths are the model's own weights.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval_retrieval import CANDIDATE_CHUNKS, file_rank

from atlas_tui.config import Settings
from atlas_tui.knowledge import retrieval
from atlas_tui.knowledge.base import KnowledgeBase

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"
PASSAGES = 6  # what `ask` retrieves by default (Settings.max_results)


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def by_file(kb: KnowledgeBase, questions: list[dict], mode: str) -> tuple[float, float, float]:
    ranks = []
    for question in questions:
        passages = retrieval.search(
            kb.store, question["q"], encode=kb.embedder.encode_query,
            encode_titles=kb.encode_titles, mode=mode, limit=CANDIDATE_CHUNKS,
        )  # fmt: skip
        ranks.append(file_rank([p.source for p in passages], set(question["expect"])))
    n = len(ranks)
    hit1, hit5 = sum(r == 1 for r in ranks) / n, sum(r is not None and r <= 5 for r in ranks) / n
    return hit1, hit5, sum(1 / r for r in ranks if r) / n


def facts(kb: KnowledgeBase, questions: list[dict], mode: str) -> tuple[float, float]:
    in_top = in_first = 0
    for question in questions:
        passages = kb.search(question["q"], mode=mode, limit=PASSAGES)
        texts = [p.text.lower() for p in passages]
        phrases = [p.lower() for p in question["any"]]
        in_top += any(p in t for t in texts for p in phrases)
        in_first += bool(texts) and any(p in texts[0] for p in phrases)
    return in_top / len(questions), in_first / len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--index", action="append", required=True, metavar="NAME=PATH")
    parser.add_argument("--collection", default="bench")
    default = SHARED / "python-docs-dev-questions.jsonl"
    parser.add_argument("--questions", type=Path, default=default)
    parser.add_argument("--facts", type=Path, action="append")
    args = parser.parse_args()
    fact_files = args.facts or [SHARED / "answers-dev.jsonl"]
    questions = read(args.questions)
    answers = [q for path in fact_files for q in read(path) if q.get("corpus") == "python"]
    print(f"{len(questions)} questions by file; {len(answers)} fact questions")
    print(
        "\n| index | vectors (queries) | mode | hit@1 | hit@5 | MRR@10 "
        f"| fact in top {PASSAGES} | fact in first |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for item in args.index:
        name, _, path = item.partition("=")
        kb = KnowledgeBase(Settings(db_path=path, collection=args.collection))
        kb.warm()
        # the graph that encodes a question, whatever the index holds (fp32 since 2026-12-08)
        graph_file = getattr(kb.embedder._query_encoder(), "model_file", None)
        graph = "torch" if graph_file is None else "int8" if "int8" in graph_file.name else "fp32"
        kind = f"{kb.store.vectors()} ({graph} graph)"
        for mode in ("hybrid", "vector"):
            hit1, hit5, mrr = by_file(kb, questions, mode)
            top, first = facts(kb, answers, mode)
            print(
                f"| {name} | {kind} | {mode} | {hit1:.2f} | {hit5:.2f} | {mrr:.3f} "
                f"| {top:.2f} | {first:.2f} |"
            )


if __name__ == "__main__":
    main()
