"""Cross-validated answer figures: choose among answerer variants on one half of the questions,
report the chosen one on the other half, both ways. With --max-words, a variant whose answers
average more words than that on the training half is not eligible.

    python benchmarks/cv_answers.py [--max-words 70] base=/tmp/base.jsonl other=/tmp/other.jsonl ...

Each file is `eval_answers.py --out` for one variant (a code version or `--set` knobs) over the
same questions. The halves: alternate questions of each corpus, in file order (A: 1st, 3rd, ...;
B: 2nd, 4th, ...). On each training half the variant with the most facts in the answer wins (a tie
goes to the variant named first: the baseline), and its figures on the other half are reported.
A figure on the questions a variant was chosen on is not a result; this prints none.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any


def halves(rows: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    seen: dict[str, int] = defaultdict(int)
    a: set[str] = set()
    b: set[str] = set()
    for row in rows:
        (a if seen[row["corpus"]] % 2 == 0 else b).add(f"{row['corpus']}\t{row['q']}")
        seen[row["corpus"]] += 1
    return a, b


def figures(rows: list[dict[str, Any]]) -> dict[str, float]:
    n = len(rows) or 1
    return {
        "n": len(rows),
        "fact": sum(r["hit"] for r in rows) / n,
        "ceiling": sum(r["ceiling"] for r in rows) / n,
        "words": sum(r["words"] for r in rows) / n,
        "quotes": sum(r["quotes"] for r in rows) / n,
    }


def main() -> None:
    arguments = sys.argv[1:]
    max_words = float("inf")
    if arguments[:1] == ["--max-words"]:
        max_words, arguments = float(arguments[1]), arguments[2:]
    variants: dict[str, list[dict[str, Any]]] = {}
    for argument in arguments:
        name, _, path = argument.partition("=")
        lines = Path(path).read_text().splitlines()
        variants[name] = [json.loads(line) for line in lines if line.strip()]
    if not variants:
        raise SystemExit(__doc__)
    first = next(iter(variants.values()))
    a, b = halves(first)
    held_out: list[dict[str, Any]] = []
    for label, train, test in (("A->B", a, b), ("B->A", b, a)):
        scores = {}
        for name, rows in variants.items():
            trained = [r for r in rows if f"{r['corpus']}\t{r['q']}" in train]
            if figures(trained)["words"] <= max_words:
                scores[name] = sum(r["hit"] for r in trained)
        if not scores:
            raise SystemExit(f"{label}: no variant averages {max_words} words or fewer")
        best = max(scores, key=lambda name: scores[name])  # first wins a tie
        tested = [r for r in variants[best] if f"{r['corpus']}\t{r['q']}" in test]
        held_out.extend(tested)
        f = figures(tested)
        print(
            f"{label}: chose {best!r} on {len(train)} questions; on the other {f['n']}: "
            f"fact {f['fact']:.2f} (ceiling {f['ceiling']:.2f}), {f['words']:.1f} words, "
            f"{f['quotes']:.2f} quotes"
        )
    f = figures(held_out)
    print(
        f"cross-validated (each question judged by a choice made on the other half): "
        f"fact {f['fact']:.2f} of {f['n']}, {f['words']:.1f} words, {f['quotes']:.2f} quotes"
    )


if __name__ == "__main__":
    main()
