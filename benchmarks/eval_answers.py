"""Answer quality of the offline extractive answerer: is the fact in the answer?

    python benchmarks/eval_answers.py --questions ../shared/eval/answers-dev.jsonl \
        --db python=/work/bench-db --db demo=/tmp/demo-index [--collection python=NAME] \
        [--mode hybrid] [--show] [--json]

Questions are JSON lines `{"q": "...", "any": ["phrase", ...], "corpus": "NAME"}`; each corpus
needs an index, `--db NAME=PATH` (read only: nothing is ingested). A question scores when one of
its phrases (case-insensitive) is in the answer; the ceiling counts the questions where one is in
the retrieved passages. Words and quotes are counted in the answer's body, without the labelled
opening line and the [n] markers: a quote is one cited excerpt (a `> ` block ending with [n]).
Questions whose corpus has no --db are skipped (and counted as such).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import DEFAULT_COLLECTION, load_settings
from atlas_tui.generation import extractive
from atlas_tui.knowledge import retrieval
from atlas_tui.query import AtlasQuery, Delta, Done, Failed, Retrieved
from benchmarks.eval_retrieval import parse_fusion

_MARKER = re.compile(r"\[\d+\]")
_QUOTE_END = re.compile(r"\[\d+\]\s*$", re.MULTILINE)


def body_of(answer: str) -> str:
    """The answer without its labelled opening line (the first paragraph, in italics)."""
    first, _, rest = answer.partition("\n\n")
    return rest if first.startswith("_") and first.endswith("_") else answer


def count_words(answer: str) -> int:
    text = _MARKER.sub(" ", body_of(answer))
    return len(re.findall(r"[^\s>`|*_-]+", text))


def count_quotes(answer: str) -> int:
    return len(_QUOTE_END.findall(body_of(answer)))


def contains(text: str, phrases: list[str]) -> bool:
    lowered = text.lower()
    return any(p.lower() in lowered for p in phrases)


def pairs(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise SystemExit(f"--{what} takes NAME=VALUE, got {value!r}")
        out[name] = path
    return out


def answer_one(client: AtlasQuery, question: str) -> dict[str, Any]:
    passages: tuple[Any, ...] = ()
    started = time.perf_counter()
    retrieved_at = first_quote_at = None
    answer = ""
    for event in client.events(question):
        if isinstance(event, Retrieved):
            passages, retrieved_at = event.documents, time.perf_counter()
        elif isinstance(event, Delta) and event.citations and first_quote_at is None:
            first_quote_at = time.perf_counter()
        elif isinstance(event, Done):
            answer = event.answer
        elif isinstance(event, Failed):
            raise SystemExit(f"{question!r} failed: {event.error.describe()}")
    ended = time.perf_counter()
    after = first_quote_at or ended
    return {
        "answer": answer,
        "passages": "\n".join(p.text for p in passages),
        "retrieval_ms": ((retrieved_at or started) - started) * 1000,
        "answer_ms": (after - (retrieved_at or started)) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--questions", required=True)
    parser.add_argument("--db", action="append", default=[], metavar="CORPUS=PATH")
    parser.add_argument("--collection", action="append", default=[], metavar="CORPUS=NAME")
    parser.add_argument("--mode", default="hybrid")
    parser.add_argument("--show", action="store_true", help="print each answer that misses")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one of the offline answerer's constants (extractive.py), to compare",
    )
    parser.add_argument("--out", default="", help="write each question's result (JSON lines)")
    parser.add_argument("--fusion", default="", help="hybrid knobs, e.g. one_per_section=0")
    args = parser.parse_args()
    retrieval.DEFAULT_FUSION = parse_fusion(args.fusion)
    for name, value in pairs(args.set, "set").items():
        if not hasattr(extractive, name):
            raise SystemExit(f"--set: extractive.py has no constant {name}")
        setattr(extractive, name, type(getattr(extractive, name))(json.loads(value)))

    rows = [json.loads(line) for line in Path(args.questions).read_text().splitlines() if line]
    dbs, collections = pairs(args.db, "db"), pairs(args.collection, "collection")
    clients: dict[str, AtlasQuery] = {}
    for corpus, db in dbs.items():
        settings = load_settings(
            db_path=db,
            collection=collections.get(corpus, DEFAULT_COLLECTION),
            provider="extractive",
            search_mode=args.mode,
        )
        clients[corpus] = AtlasQuery(settings)
        clients[corpus].warm()

    results: dict[str, list[dict[str, Any]]] = defaultdict(list)
    skipped = 0
    for row in rows:
        client = clients.get(row.get("corpus", ""))
        if client is None:
            skipped += 1
            continue
        result = answer_one(client, row["q"])
        result.update(
            q=row["q"],
            hit=contains(result["answer"], row["any"]),
            ceiling=contains(result["passages"], row["any"]),
            words=count_words(result["answer"]),
            quotes=count_quotes(result["answer"]),
        )
        results[row["corpus"]].append(result)
        if args.show and not result["hit"]:
            print(f"--- MISS {row['q']}  (want {row['any']}, ceiling {result['ceiling']})")
            print(result["answer"])

    if args.out:
        with Path(args.out).open("w") as out:
            for name, items in results.items():
                for r in items:
                    keep = ("q", "hit", "ceiling", "words", "quotes", "answer")
                    out.write(json.dumps({"corpus": name, **{k: r[k] for k in keep}}) + "\n")
    summary = {name: figures(items) for name, items in results.items()}
    summary["all"] = figures([r for items in results.values() for r in items])
    if args.json:
        print(json.dumps({"skipped": skipped, **summary}, indent=2))
        return
    print(
        f"{'corpus':8} {'n':>3} {'fact':>6} {'ceiling':>8} {'words':>6} {'quotes':>7} "
        f"{'answer ms p50/max':>18}"
    )
    for name, f in summary.items():
        print(
            f"{name:8} {f['n']:>3} {f['fact_in_answer']:>6.2f} {f['ceiling']:>8.2f} "
            f"{f['words']:>6.1f} {f['quotes']:>7.2f} "
            f"{f['answer_ms_p50']:>9.0f}/{f['answer_ms_max']:.0f}"
        )
    if skipped:
        print(f"skipped {skipped} questions whose corpus has no --db")


def figures(items: list[dict[str, Any]]) -> dict[str, float]:
    n = len(items)
    if not n:
        return {
            "n": 0,
            "fact_in_answer": 0.0,
            "ceiling": 0.0,
            "words": 0.0,
            "quotes": 0.0,
            "answer_ms_p50": 0.0,
            "answer_ms_max": 0.0,
        }
    ms = sorted(r["answer_ms"] for r in items)
    return {
        "n": n,
        "fact_in_answer": sum(r["hit"] for r in items) / n,
        "ceiling": sum(r["ceiling"] for r in items) / n,
        "words": sum(r["words"] for r in items) / n,
        "quotes": sum(r["quotes"] for r in items) / n,
        "answer_ms_p50": ms[n // 2],
        "answer_ms_max": ms[-1],
    }


if __name__ == "__main__":
    main()
