"""Citation verification of the `compatible` profile: precision and recall on synthetic answers,
and the cost of checking per answer.

Passages are the paragraphs of the bundled demo corpus, six to a "question" (as retrieval gives
them). Each synthetic answer cites them with a seeded mix of the ways a local model cites:

  correct           a verbatim span of document i, quoted, cited [i]           (truly right)
  reformatted       the same span re-cased, re-wrapped, typographic quotes      (truly right)
  unquoted          a claim from document i cited [i] without a quote           (truly right)
  paraphrase        document i's words reordered / reworded, quoted, [i]        (truly right)
  misnumbered       a verbatim span of document i cited [j], j != i, quoted     (wrong)
  misnumbered-bare  a claim from document i cited [j] without a quote           (wrong)
  invented          words in no document, quoted, cited [i]                     (wrong)
  out of range      a claim cited [n] where no document n was given             (wrong)

A citation the checker keeps as [n] is "verified". Precision: the share of verified citations
that are truly right; recall: the share of truly right citations that are verified. The answer is
streamed to the checker in 2-6 character deltas (markers split across them, as tokens split them)
and the checking is timed per answer.

    python benchmarks/bench_citations.py [--answers 2000] [--seed 13]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from atlas_tui.config import demo_corpus_path
from atlas_tui.generation.citing import CitationChecker
from atlas_tui.generation.prompts import NumberedPassage
from atlas_tui.types import Passage

RIGHT = {"correct", "reformatted", "unquoted", "paraphrase"}
KINDS = [*sorted(RIGHT), "misnumbered", "misnumbered-bare", "invented", "out of range"]
INVENTED = [
    "the index is encrypted with a rotating key",
    "answers are cached for seven days",
    "the server restarts every night at midnight",
    "all files are uploaded to a remote bucket",
]
PER_QUESTION = 6


def paragraphs() -> list[str]:
    found = []
    for path in sorted(demo_corpus_path().rglob("*.md")):
        for block in path.read_text(encoding="utf-8").split("\n\n"):
            words = block.split()
            if len(words) >= 14 and not block.lstrip().startswith(("#", "|", "```", "-")):
                found.append(block.strip())
    return found


def span(rng: random.Random, text: str) -> str:
    """A verbatim run of 4-10 words of `text` (one holding no quote mark or bracket)."""
    words = text.split()
    for _ in range(50):
        size = rng.randint(4, 10)
        start = rng.randint(0, max(0, len(words) - size))
        run = " ".join(words[start : start + size])
        if not any(mark in run for mark in '"[]\u201c\u201d'):
            return run
    raise ValueError("no quotable run in this paragraph")


def claim(rng: random.Random, kind: str, docs: list[str]) -> tuple[str, int, bool]:
    """(the sentence with its marker, the number cited, whether the citation is truly right)."""
    i = rng.randrange(len(docs))
    j = rng.choice([n for n in range(len(docs)) if n != i])
    words = span(rng, docs[i])
    if kind == "correct":
        return f'The documents say "{words}" [{i + 1}].', i + 1, True
    if kind == "reformatted":
        cased = words.upper() if rng.random() < 0.5 else words.title()
        wrapped = cased.replace(" ", "\n", 1)
        return f"As written, \u201c{wrapped}\u201d [{i + 1}].", i + 1, True
    if kind == "unquoted":
        return f"This is covered in the docs [{i + 1}].", i + 1, True
    if kind == "paraphrase":
        parts = words.split()
        rng.shuffle(parts)
        return f'Roughly: "{" ".join(parts)} indeed" [{i + 1}].', i + 1, True
    if kind == "misnumbered":
        return f'They say "{words}" [{j + 1}].', j + 1, False
    if kind == "misnumbered-bare":
        return f"This is covered in the docs [{j + 1}].", j + 1, False
    if kind == "invented":
        return f'Notably, "{rng.choice(INVENTED)}" [{i + 1}].', i + 1, False
    return f"This follows from the docs [{len(docs) + rng.randint(1, 5)}].", 0, False


def deltas(rng: random.Random, text: str) -> list[str]:
    out, at = [], 0
    while at < len(text):
        step = rng.randint(2, 6)
        out.append(text[at : at + step])
        at += step
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--answers", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = paragraphs()
    outcome: Counter[tuple[str, bool]] = Counter()
    seconds: list[float] = []
    lengths: list[int] = []
    for _ in range(args.answers):
        docs = rng.sample(texts, PER_QUESTION)
        chosen = [
            NumberedPassage(n + 1, Passage(f"c{n}", text, f"d{n}.md", "/kb", "", "", 0.5), text)
            for n, text in enumerate(docs)
        ]
        kinds = [rng.choice(KINDS) for _ in range(rng.randint(3, 7))]
        sentences = [claim(rng, kind, docs) for kind in kinds]
        answer = " ".join(s for s, _, _ in sentences)
        pieces = deltas(rng, answer)
        started = time.perf_counter()
        checker = CitationChecker(chosen)
        for piece in pieces:
            checker.feed(piece)
        checker.finish()
        seconds.append(time.perf_counter() - started)
        lengths.append(len(answer))
        assert len(checker.checked) == len(kinds), (answer, checker.checked)
        for kind, result in zip(kinds, checker.checked, strict=True):
            outcome[(kind, result.citation.valid)] += 1

    tp = sum(outcome[(k, True)] for k in RIGHT)
    fp = sum(outcome[(k, True)] for k in KINDS if k not in RIGHT)
    fn = sum(outcome[(k, False)] for k in RIGHT)
    quoted_right = RIGHT - {"unquoted"}
    quoted_wrong = {"misnumbered", "invented"}
    qtp = sum(outcome[(k, True)] for k in quoted_right)
    qfp = sum(outcome[(k, True)] for k in quoted_wrong)
    qfn = sum(outcome[(k, False)] for k in quoted_right)
    print(f"{args.answers} answers, {sum(outcome.values())} citations, seed {args.seed}\n")
    print("| kind | truly right | citations | verified |")
    print("|---|---|---|---|")
    for kind in KINDS:
        total = outcome[(kind, True)] + outcome[(kind, False)]
        share = outcome[(kind, True)] / total if total else 0.0
        print(f"| {kind} | {'yes' if kind in RIGHT else 'no'} | {total} | {share:.1%} |")
    print()
    print(f"all citations:    precision {tp / (tp + fp):.3f}  recall {tp / (tp + fn):.3f}")
    print(f"quoted citations: precision {qtp / (qtp + qfp):.3f}  recall {qtp / (qtp + qfn):.3f}")
    per_answer = sorted(seconds)
    p50 = statistics.median(per_answer) * 1e6
    p95 = per_answer[round(0.95 * (len(per_answer) - 1))] * 1e6
    print(
        f"checking per answer (mean {statistics.mean(lengths):.0f} chars, streamed in 2-6 char "
        f"deltas): p50 {p50:.0f} us, p95 {p95:.0f} us"
    )


if __name__ == "__main__":
    main()
