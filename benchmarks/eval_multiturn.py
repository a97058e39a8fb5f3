"""Follow-ups in a conversation: is the fact in the passages retrieved at turns 2-6, compared with
the same questions asked fresh (alone)?

    python benchmarks/eval_multiturn.py --sessions benchmarks/multiturn.jsonl \
        --db python=/work/data-corpus/pydocs --db demo=/work/data-corpus/demo [--json] [--show]

Each line is a session: `{"session": ID, "corpus": NAME, "turns": [{"q", "any", "kind"}, ...]}`;
`kind` is "follow" (a true follow-up: "and in text mode?") or "change" (a new subject, often short
or saying "it"); the first turn has none. A turn scores when one of its `any` phrases
(case-insensitive) is in the passages retrieved for it (the app's `max_results`, hybrid search).

Readings compared, for turns 2-6:
- fresh: the question alone;
- joined: a question that may lean on the conversation (`query.may_lean`) searched with the
  previous question (the old rule; other questions alone);
- app: what `AtlasQuery.retrieve_turn` does: the joined reading unless its passages cover less
  of the question's terms than the question's own search, by more than `FOLLOW_UP_MARGIN`;
- support (an alternative measured for comparison, not used by the app): the joined reading when
  its best passage is closer to it (cosine) than the question's best passage is to the question.
Each rule's margin is a knob fitted on questions, so it is reported cross-validated: the
sessions split in two halves (alternate sessions of each corpus), the margin fitted on one half
(the best of a grid, ties to the first) and measured on the other, both ways.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui import query as query_module
from atlas_tui.config import DEFAULT_COLLECTION, load_settings
from atlas_tui.query import AtlasQuery, coverage, follow_up_query, may_lean
from atlas_tui.types import Turn

RULES = {
    "coverage": [0.0, 0.05, 0.1, 0.2, 0.3, 0.4],  # rank-weighted share of the question's terms
    "support": [round(-0.1 + 0.025 * i, 3) for i in range(13)],  # cosine, -0.1 .. 0.2
}


MEASURES = ("passages", "top3", "answer")


def contains(texts: list[str], phrases: list[str]) -> bool:
    text = "\n".join(texts).lower()
    return any(phrase.lower() in text for phrase in phrases)


def measure(client: AtlasQuery, question: str, passages: list[Any], phrases: list[str]) -> dict:
    """Whether the fact is in the passages, in the first three, in the offline answer."""
    quotes = client.answerer.answer_quotes(question, passages) or []  # type: ignore[attr-defined]
    return {
        "passages": contains([p.text for p in passages], phrases),
        "top3": contains([p.text for p in passages[:3]], phrases),
        "answer": contains([q.markdown() for q in quotes], phrases),
    }


def measure_session(client: AtlasQuery, session: dict[str, Any]) -> list[dict[str, Any]]:
    """Per turn after the first: its kind, whether it may lean, the fact found fresh and joined,
    and both readings' support."""
    history: list[Turn] = []
    rows: list[dict[str, Any]] = []
    for index, turn in enumerate(session["turns"]):
        question = turn["q"]
        fresh = client.retrieve(question)
        if index:
            row: dict[str, Any] = {
                "session": session["session"],
                "q": question,
                "kind": turn["kind"],
                "fresh": measure(client, question, fresh, turn["any"]),
                "leans": may_lean(question, history),
            }
            if row["leans"]:
                joined_query = follow_up_query(question, history)
                joined = client.retrieve(joined_query)
                row["joined"] = measure(client, question, joined, turn["any"])
                row["coverage"] = (coverage(question, fresh), coverage(question, joined))
                row["support"] = (best_cosine(client, question), best_cosine(client, joined_query))
            else:
                row["joined"] = row["fresh"]
            rows.append(row)
        history.append(Turn(question, "", tuple(fresh)))
    return rows


def best_cosine(client: AtlasQuery, text: str) -> float:
    found = client.retrieve(text, mode="vector", max_results=1, min_relevance_score=0.0)
    return found[0].score if found else 0.0


def app_hit(
    row: dict[str, Any], margin: float, rule: str = "coverage", what: str = "passages"
) -> bool:
    if not row["leans"]:
        return row["fresh"][what]
    alone, joined = row[rule]
    keep = joined >= alone - margin if rule == "coverage" else joined > alone + margin
    return row["joined" if keep else "fresh"][what]


def shares(
    rows: list[dict[str, Any]], margin: float, rule: str = "coverage", what: str = "passages"
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in ("follow", "change", "all"):
        chosen = [r for r in rows if kind == "all" or r["kind"] == kind]
        n = len(chosen) or 1
        out[kind] = {
            "n": len(chosen),
            "fresh": sum(r["fresh"][what] for r in chosen) / n,
            "joined": sum(r["joined"][what] for r in chosen) / n,
            "app": sum(app_hit(r, margin, rule, what) for r in chosen) / n,
        }
    return out


def fit(rows: list[dict[str, Any]], rule: str) -> float:
    """The margin meeting the goal on `rows`: topic changes no worse than asked fresh, then the
    most follow-ups (facts in the passages, the first three and the answer together; ties: the
    first in the grid). If no margin keeps topic changes as good as fresh, the one losing least.
    """
    grid = RULES[rule]
    changes = [r for r in rows if r["kind"] == "change"]
    follows = [r for r in rows if r["kind"] == "follow"]
    fresh_changes = sum(r["fresh"][what] for r in changes for what in MEASURES)

    def found(margin: float, chosen: list[dict[str, Any]]) -> int:
        return sum(app_hit(r, margin, rule, what) for r in chosen for what in MEASURES)

    def key(margin: float) -> tuple[bool, int, int, int]:
        kept = found(margin, changes)
        return (kept >= fresh_changes, found(margin, follows), kept, -grid.index(margin))

    return max(grid, key=key)


def cross_validated(
    sessions: list[dict[str, Any]], rows: list[dict[str, Any]], rule: str
) -> dict[str, Any]:
    halves: list[set[str]] = [set(), set()]
    for corpus in sorted({s["corpus"] for s in sessions}):
        ids = [s["session"] for s in sessions if s["corpus"] == corpus]
        for position, session_id in enumerate(ids):
            halves[position % 2].add(session_id)
    report: dict[str, Any] = {}
    held_out: list[dict[str, Any]] = []
    for name, (train, test) in {"A->B": (0, 1), "B->A": (1, 0)}.items():
        margin = fit([r for r in rows if r["session"] in halves[train]], rule)
        tested = [dict(r, margin=margin) for r in rows if r["session"] in halves[test]]
        held_out.extend(tested)
        report[name] = {"margin": margin}
    pooled: dict[str, dict[str, float]] = {}
    for what in MEASURES:
        pooled[what] = {}
        for kind in ("follow", "change"):
            chosen = [r for r in held_out if r["kind"] == kind]
            hits = sum(app_hit(r, r["margin"], rule, what) for r in chosen)
            pooled[what][kind] = hits / (len(chosen) or 1)
    report["held_out"] = pooled
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--sessions", required=True)
    parser.add_argument("--db", action="append", default=[], metavar="CORPUS=PATH")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show", action="store_true", help="print each turn's outcome")
    parser.add_argument("--rows", default="", help="write each turn's measures (JSON lines)")
    args = parser.parse_args()

    sessions = [json.loads(x) for x in Path(args.sessions).read_text().splitlines() if x.strip()]
    dbs = dict(value.split("=", 1) for value in args.db)
    clients: dict[str, AtlasQuery] = {}
    for corpus, db in dbs.items():
        settings = load_settings(
            db_path=db, collection=DEFAULT_COLLECTION, provider="extractive", search_mode="hybrid"
        )
        clients[corpus] = AtlasQuery(settings)
        clients[corpus].warm()
    sessions = [s for s in sessions if s["corpus"] in clients]
    rows = [row for s in sessions for row in measure_session(clients[s["corpus"]], s)]
    margin = query_module.FOLLOW_UP_MARGIN
    figures = {
        "sessions": len(sessions),
        "margin": margin,
        "turns": {what: shares(rows, margin, what=what) for what in MEASURES},
        "cross_validated": {rule: cross_validated(sessions, rows, rule) for rule in RULES},
    }
    if args.show:
        for r in rows:
            measures = "-"
            if r["leans"]:
                measures = "coverage {:.2f}/{:.2f} support {:.2f}/{:.2f}".format(
                    *r["coverage"], *r["support"]
                )
            hits = " ".join(
                f"{what}={r['fresh'][what]:d}{r['joined'][what]:d}{app_hit(r, margin, what=what):d}"
                for what in MEASURES
            )
            print(f"{r['kind']:6} {hits} {measures}  {r['q']}")
    if args.rows:
        Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in rows))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{len(sessions)} sessions, turns 2-6; app margin {margin}")
    print(f"{'fact in':10} {'turns':8} {'n':>3} {'fresh':>6} {'joined':>7} {'app':>6}")
    for what, table in figures["turns"].items():
        for kind, f in table.items():
            print(
                f"{what:10} {kind:8} {f['n']:>3} {f['fresh']:>6.2f} {f['joined']:>7.2f} "
                f"{f['app']:>6.2f}"
            )
    for rule, cv in figures["cross_validated"].items():
        margins = ", ".join(f"{name} {cv[name]['margin']}" for name in ("A->B", "B->A"))
        print(f"{rule} rule, cross-validated (margins fitted {margins}), held-out turns:")
        for what, f in cv["held_out"].items():
            print(
                f"    fact in {what:9} follow-ups {f['follow']:.2f}  "
                f"topic changes {f['change']:.2f}"
            )


if __name__ == "__main__":
    main()
