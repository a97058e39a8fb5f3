"""Single search vs research mode: is the fact in the answer, and what did finding it cost?

    python benchmarks/eval_research.py --db python=/work/idx/pydocs --db demo=/tmp/demo-index \
        [--collection python=NAME] [--questions benchmarks/research-questions.jsonl] \
        [--model MODEL] [--rounds 5] [--json]

Needs a model that can call tools: ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL, if any), or an
endpoint on the `anthropic` profile in the config file; without one it says so in one line and
exits 0. Each question is answered twice over its corpus's index (`--db NAME=PATH`, read only):
once as `ask` does (one search) and once in research mode.

Questions are JSON lines in the shape of the shared eval set: `q`, `any` (phrases, any one of which
in the answer counts) and `corpus`; a multi-hop question adds `all`, groups of phrases of which
each group must be matched (one fact per hop). Reported per mode: fact in answer (`any`), every
fact in answer (`all`, where given), research rounds, tokens in and out, cost (where the model's
price is known) and seconds, each per question on average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from eval_answers import contains, pairs

from atlas_tui.config import load_settings
from atlas_tui.generation.research import tool_user
from atlas_tui.query import AtlasQuery, Done, Failed, QueryRun

QUESTIONS = Path(__file__).resolve().parent / "research-questions.jsonl"
MODES = ("single", "research")


def answer(run: QueryRun) -> dict[str, Any]:
    started = time.perf_counter()
    for event in run:
        if isinstance(event, Done):
            return {
                "answer": event.answer,
                "rounds": event.rounds,
                "input_tokens": event.usage.input_tokens,
                "output_tokens": event.usage.output_tokens,
                "cost_usd": event.cost_usd,
                "seconds": time.perf_counter() - started,
            }
        if isinstance(event, Failed):
            return {"answer": event.partial_text, "error": event.error.message, "rounds": 0}
    raise RuntimeError("the run ended without Done or Failed")


def score(item: dict[str, Any], question: dict[str, Any]) -> dict[str, Any]:
    text = item["answer"]
    item["fact"] = contains(text, question["any"])
    groups = question.get("all")
    item["facts"] = all(contains(text, group) for group in groups) if groups else item["fact"]
    return item


def summary(items: list[dict[str, Any]]) -> dict[str, Any]:
    def mean(name: str) -> float:
        values = [i[name] for i in items if isinstance(i.get(name), int | float)]
        return statistics.fmean(values) if values else float("nan")

    costs = [i.get("cost_usd") for i in items]
    return {
        "questions": len(items),
        "failed": sum(1 for i in items if "error" in i),
        "fact_in_answer": mean("fact"),
        "every_fact": mean("facts"),
        "rounds": mean("rounds"),
        "input_tokens": mean("input_tokens"),
        "output_tokens": mean("output_tokens"),
        "cost_usd": mean("cost_usd") if all(c is not None for c in costs) else None,
        "seconds": mean("seconds"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--questions", default=str(QUESTIONS))
    parser.add_argument("--db", action="append", default=[], metavar="CORPUS=PATH")
    parser.add_argument("--collection", action="append", default=[], metavar="CORPUS=NAME")
    parser.add_argument("--model", help="the model to answer with (default: the configured one)")
    parser.add_argument("--rounds", type=int, help="research_rounds (default: the setting)")
    parser.add_argument("--json", action="store_true", help="every answer and the summary")
    args = parser.parse_args()
    settings = load_settings(research_rounds=args.rounds)
    collections = pairs(args.collection, "collection")
    clients = {
        name: AtlasQuery(
            load_settings(
                db_path=path, collection=collections.get(name), research_rounds=args.rounds
            )
        )
        for name, path in pairs(args.db, "db").items()
    }
    probe = AtlasQuery(settings)
    if tool_user(probe.answerer, args.model) is None:
        print(
            "eval_research: skipped: no model that can call tools is configured (set "
            "ANTHROPIC_API_KEY, or an endpoint on the anthropic profile), so there is nothing to "
            f"compare ({probe.label_for(args.model)} answers as configured)."
        )
        return 0
    questions = [json.loads(line) for line in Path(args.questions).read_text().splitlines()]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    skipped = 0
    for question in questions:
        client = clients.get(question["corpus"])
        if client is None:
            skipped += 1
            continue
        for mode in MODES:
            ask = client.research_events if mode == "research" else client.events
            item = score(answer(ask(question["q"], model=args.model)), question)
            results[mode].append({"q": question["q"], **item})
    report = {mode: summary(items) for mode, items in results.items()}
    if args.json:
        print(json.dumps({"summary": report, "answers": results}, indent=2))
        return 0
    print(f"{len(questions) - skipped} questions ({skipped} skipped: no --db for their corpus)")
    print("| mode | fact in answer | every fact | rounds | tokens in | tokens out | cost | s |")
    print("|---|---|---|---|---|---|---|---|")
    for mode, row in report.items():
        cost = "unpriced" if row["cost_usd"] is None else f"${row['cost_usd']:.4f}"
        print(
            f"| {mode} | {row['fact_in_answer']:.2f} | {row['every_fact']:.2f} | "
            f"{row['rounds']:.1f} | {row['input_tokens']:.0f} | {row['output_tokens']:.0f} | "
            f"{cost} | {row['seconds']:.1f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
