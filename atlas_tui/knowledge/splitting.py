"""Cutting text into counted pieces: paragraphs, then sentences (code: lines), then words,
pre-tokens and, for a giant "word" only, characters. Used by `chunking.py`.

Counts come from the `TokenCounter`. When it is `additive` (word-pieces of whitespace-joined texts
add up, as with a BERT tokenizer) a long span is encoded once and any word-aligned sub-span is
counted from the token offsets, instead of encoding every candidate again.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from atlas_tui.knowledge.sections import Section
from atlas_tui.knowledge.tokens import (
    IRREGULAR_SPACE,
    LONG_WORD,
    MAX_WORD_CHARS,
    TokenCounter,
    count_all,
)

_PARAGRAPH_GAP = re.compile(r"\n[ \t]*\n\s*")
_SENTENCE_END = re.compile(r"(?<=[.!?;:])[\"')\]]*\s+")
_WORD_START = re.compile(r"(?<=\s)\S")
_PRETOKEN_START = re.compile(r"\w+|[^\w\s]")
_LINE_START = re.compile(r"(?<=\n)[ \t]*\S")
# where a sentence starts: after . ! or ? (and a closing quote or bracket), not before a lowercase
# word ("e.g. the"); a clause after ; or : is not a place to start reading
_SENTENCE_START = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?![a-z])")
# a line that starts a block of its own in prose: code (indented), a list item, a table row
_BLOCK_LINE = re.compile(r"(?<=\n)(?:[ \t]{4,}|[ \t]*(?:[-*+|][ \t]|\d+[.)][ \t]|>>>))[ \t]*(?=\S)")


@dataclass(slots=True)
class Unit:
    """An atomic piece of text (a stripped slice of the document) and its word-piece count."""

    start: int
    end: int
    tokens: int


def strip_span(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class Splitter:
    """Counted pieces of one document's text."""

    def __init__(self, text: str, counter: TokenCounter, *, code: bool) -> None:
        self.text = text
        self.counter = counter
        self.code = code
        # counts of whitespace-joined pieces add up: count each paragraph once, check only joins
        self._offsets_of: tuple[tuple[int, int], list[int]] = ((-1, -1), [])
        self.additive = bool(getattr(counter, "additive", False)) and not IRREGULAR_SPACE.search(
            text
        )

    def paragraphs(self, section: Section) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        position = section.start
        for skip_start, skip_end in [*section.skip, (section.end, section.end)]:
            if skip_start < position:
                continue
            cursor = position
            for gap in _PARAGRAPH_GAP.finditer(self.text, position, skip_start):
                spans.append(strip_span(self.text, cursor, gap.start()))
                cursor = gap.end()
            spans.append(strip_span(self.text, cursor, skip_start))
            position = skip_end
        return [(a, b) for a, b in spans if b > a]

    def _cuts(self, start: int, end: int, level: int) -> list[int]:
        """Positions inside (start, end) where a piece may begin, at one level of preference:
        sentence starts (code: line starts), word starts, pre-token starts, any character."""
        positions: Iterable[int]
        if level == 0 and not self.code:
            positions = (m.end() for m in _SENTENCE_END.finditer(self.text, start, end))
        elif level < 2:
            pattern = (_LINE_START, _WORD_START)[level]
            positions = (m.start() for m in pattern.finditer(self.text, start, end))
        elif level == 2:  # pre-tokens, and a word too long for WordPiece where it is read apart
            positions = sorted(
                {m.start() for m in _PRETOKEN_START.finditer(self.text, start, end)}
                | {
                    p
                    for m in LONG_WORD.finditer(self.text, start, end)
                    for p in range(m.start(), m.end(), MAX_WORD_CHARS)
                }
            )
        else:
            positions = range(start + 1, end)
        return [p for p in positions if start < p < end]

    def fit(
        self, start: int, end: int, budget: int, level: int = 0, tokens: int | None = None
    ) -> list[Unit]:
        """Cut [start, end) into units of at most `budget` tokens, at the coarsest level.

        Sentences (code: lines) become units of their own; below that, runs of words (then
        pre-tokens, then characters) are grouped into pieces small enough to pack with overlap.
        """
        if tokens is None:  # (callers that counted the span already pass its count)
            tokens = self.counter(self.text[start:end])
        if tokens <= budget or end - start <= 1:
            return [Unit(start, end, tokens)]
        bounds = [start, *self._cuts(start, end, level), end]
        if len(bounds) == 2:  # nothing to cut at this level (a token-less run): the next one
            return self.fit(start, end, budget, level + 1, tokens)
        spans = [strip_span(self.text, a, b) for a, b in pairwise(bounds)]
        if level == 0:
            counts = count_all(self.counter, [self.text[a:b] for a, b in spans])
            units: list[Unit] = []
            for (a, b), count in zip(spans, counts, strict=True):
                if b > a:
                    units.extend(
                        [Unit(a, b, count)] if count <= budget else self.fit(a, b, budget, 1, count)
                    )
            return units
        return self._group_pieces(bounds, budget, level)

    def _group_pieces(self, bounds: list[int], budget: int, level: int) -> list[Unit]:
        """Greedy runs bounds[i]..bounds[j] of at most a quarter budget (binary search for j)."""
        limit = max(8, budget // 4)
        count = self._counts_between(bounds[0], bounds[-1], level)
        units: list[Unit] = []
        i = 0
        while i < len(bounds) - 1:
            # a word or pre-token holds at least one word-piece, so at most `limit` of them fit
            lo = i + 1
            hi = len(bounds) - 1 if level >= 3 else min(len(bounds) - 1, i + limit)
            best: tuple[int, Unit] | None = None
            while lo <= hi:
                mid = (lo + hi) // 2
                a, b = strip_span(self.text, bounds[i], bounds[mid])
                tokens = count(a, b)
                if tokens <= limit or (mid == i + 1 and tokens <= budget):
                    best, lo = (mid, Unit(a, b, tokens)), mid + 1
                else:
                    hi = mid - 1
            if best is None:
                a, b = strip_span(self.text, bounds[i], bounds[i + 1])
                units.extend(self.fit(a, b, budget, level + 1, count(a, b)) if b > a else [])
                i += 1
            else:
                if best[1].end > best[1].start:
                    units.append(best[1])
                i = best[0]
        return units

    def units(self, section: Section, budget: int) -> list[Unit]:
        spans = self.paragraphs(section)
        counts = count_all(self.counter, [self.text[a:b] for a, b in spans])
        units: list[Unit] = []
        for (a, b), count in zip(spans, counts, strict=True):
            units.extend(
                [Unit(a, b, count)] if count <= budget else self.fit(a, b, budget, 0, count)
            )
        return units

    def tail(self, unit: Unit, limit: int) -> Unit | None:
        """The longest tail of `unit` within `limit` tokens that starts where a reader would:
        at a sentence or a line that starts a block (code: at a line); None if none fits."""
        window = max(unit.start, unit.end - 8 * limit)
        if self.code:
            starts = [m.end() - 1 for m in _LINE_START.finditer(self.text, window + 1, unit.end)]
        else:
            sentences = (m.end() for m in _SENTENCE_START.finditer(self.text, window, unit.end))
            lines = (m.end() for m in _BLOCK_LINE.finditer(self.text, window, unit.end))
            starts = sorted({p for p in (*sentences, *lines) if window < p < unit.end})
        if not starts:
            return None
        count_from = self._counts_from(window, unit.end)
        # counts fall as the start moves right: the first start that fits (binary search)
        index = bisect.bisect_left(
            range(len(starts)), True, key=lambda i: count_from(starts[i]) <= limit
        )
        if index == len(starts):
            return None
        return Unit(starts[index], unit.end, count_from(starts[index]))

    def _counts_between(self, start: int, end: int, level: int) -> Callable[[int, int], int]:
        """`f(a, b)` = tokens of text[a:b] for a, b cut at `level` (one encode if additive)."""
        token_starts = getattr(self.counter, "token_starts", None)
        if self.additive and token_starts is not None and level < 3:
            if self._offsets_of[0] != (start, end):  # levels 1 and 2 of one span share one encode
                self._offsets_of = (
                    (start, end),
                    [start + o for o in token_starts(self.text[start:end])],
                )
            offsets = self._offsets_of[1]
            return lambda a, b: bisect.bisect_left(offsets, b) - bisect.bisect_left(offsets, a)
        return lambda a, b: self.counter(self.text[a:b])

    def _counts_from(self, window: int, end: int) -> Callable[[int], int]:
        """`f(p)` = tokens of text[p:end] for word-aligned p >= window (one encode if additive)."""
        token_starts = getattr(self.counter, "token_starts", None)
        if self.additive and token_starts is not None:
            offsets = [window + o for o in token_starts(self.text[window:end])]
            return lambda p: len(offsets) - bisect.bisect_left(offsets, p)
        return lambda p: self.counter(self.text[p:end])
