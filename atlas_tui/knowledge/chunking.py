"""Structure-aware chunking sized to the embedding model's real window.

The guarantee: for every chunk, ``counter(chunk.embedding_text(doc.title)) + 2 <= max_tokens`` (the
2 is [CLS]/[SEP]), so nothing a chunk holds is invisible to its embedding. With an `additive`
counter (the word-piece one) chunk sizes are exact sums of counted pieces; any chunk whose size is
not exact (pieces joined without whitespace, or another counter) is counted again and re-cut.

How a document is cut:
1. Markdown/HTML and reST split at headings (see `sections.py`); the heading path ("Guide > Install
   > Linux") goes into `Chunk.heading` and is the context the encoder reads before the text.
2. A section that fits is one chunk, up to the hard limit. A longer one is packed from paragraphs
   (code: blank-line blocks) into evenly sized chunks of about `target_tokens` (default 80% of the
   window, ~205 of 256: prose of 120-150 words, with room for the overlap); see `splitting.py` for
   how an oversized paragraph is cut (sentences, then words, never inside a word unless a single
   "word" alone is over the limit). A sliver left at the end joins the chunk before it.
3. Neighbouring chunks of one section overlap by about `overlap_tokens` (trailing paragraphs, or
   the sentences (code: lines) of the last one: a passage starts where a reader would, at a
   paragraph, a sentence or a line that starts a block, never inside a sentence).
4. Tiny sections (each under a quarter of the window) that follow one another are merged under
   their common parent (or the text before the first heading with what follows) while the result
   still fits; a section that is not tiny keeps its own heading (an API page's one-line functions
   share a passage, a documented function has its own). A heading with no text of its own
   followed by its first child is carried by the child's path.

What holds for spans: ``chunk.text == doc.text[start:end]`` exactly, unless markup-only lines
(reST underlines, transitions, hyperlink targets, `.. highlight::`), the heading lines of merged
sections or (outside code) several blank lines in a row fall inside: those are left out and the
remaining parts joined by one blank line (a merged section's title text is kept). A reST document
arrives with its sections found by docutils (`LoadedDocument.sections`, see `rst_text.py`).
`line_start`/`line_end` are the 1-based lines of `start` and
`end - 1`; `page` is the PDF page where the chunk starts.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from atlas_tui.knowledge.records import Chunk, LoadedDocument
from atlas_tui.knowledge.sections import Section, sections_for
from atlas_tui.knowledge.splitting import Splitter, Unit
from atlas_tui.knowledge.tokens import TokenCounter, count_all, load_token_counter

__all__ = ["TokenCounter", "chunk_document", "load_token_counter"]

SPECIAL_TOKENS = 2  # [CLS] and [SEP]
DEFAULT_TARGET_FRACTION = 0.8  # aim at ~205 of 256: room for the overlap and even splits


@dataclass(slots=True)
class _Group:
    """Sections packed together, with the heading their chunks carry."""

    heading: str
    units: list[Unit]


class _Chunker:
    def __init__(
        self, doc: LoadedDocument, counter: TokenCounter, max_tokens: int, overlap: int, target: int
    ) -> None:
        self.doc = doc
        self.text = doc.text
        self.counter = counter
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.target = target
        self.split = Splitter(doc.text, counter, code=doc.kind == "code")
        self._context_counts: dict[str, int] = {}
        self._page_starts = [offset for _, offset in doc.page_offsets]

    # --- headings and budgets -------------------------------------------------------------------

    def _count_context(self, context: str) -> int:
        if context not in self._context_counts:
            self._context_counts[context] = self.counter(context) if context else 0
        return self._context_counts[context]

    def _budget(self, context: str) -> int:
        return self.max_tokens - SPECIAL_TOKENS - self._count_context(context)

    def _heading(self, path: Sequence[str]) -> str:
        """The heading path, shortened (from the front) so it never eats more than 1/4 window."""
        cap = self.max_tokens // 4
        parts = list(path)
        while len(parts) > 1 and self._count_context(" > ".join(parts)) > cap:
            parts.pop(0)
        heading = " > ".join(parts)
        if heading and self._count_context(heading) > cap:
            heading = _truncate(heading, cap, self.counter)
        return heading

    # --- grouping sections ----------------------------------------------------------------------

    def _groups(self, sections: list[Section]) -> list[_Group]:
        """One group per section, except runs of tiny sections merged when the result fits."""
        tiny = self.max_tokens // 4
        parsed = [
            (s, self.split.units(s, self._budget(self._heading(s.path) or self.doc.title)))
            for s in sections
        ]
        # a heading with no text of its own, followed by its first child, lives on in the path
        parsed = [
            (section, units)
            for (section, units), following in zip(parsed, [*sections[1:], None], strict=False)
            if units or following is None or following.path[: len(section.path)] != section.path
        ]
        groups: list[_Group] = []
        members: list[tuple[Section, list[Unit]]] = []
        for section, units in parsed:
            small = sum(u.tokens for u in units) < tiny  # a section of its own size keeps its title
            if members and small and sum(u.tokens for m in members for u in m[1]) < tiny:
                prefix = _common_prefix([*(m[0].path for m in members), section.path])
                if prefix or not members[0][0].path:
                    heading = self._heading(prefix)
                    merged = self._merged([*members, (section, units)], prefix)
                    if sum(u.tokens for u in merged) <= self._budget(heading or self.doc.title):
                        members.append((section, units))
                        continue
            if members:
                groups.append(self._group(members))
            members = [(section, units)]
        if members:
            groups.append(self._group(members))
        return groups

    def _merged(self, members: list[tuple[Section, list[Unit]]], prefix: list[str]) -> list[Unit]:
        """The members' units; a member whose title is not in the heading keeps it in the text."""
        units: list[Unit] = []
        for section, section_units in members:
            if len(section.path) > len(prefix) and section.title_span is not None:
                a, b = section.title_span
                units.append(Unit(a, b, self._count_context(self.text[a:b])))
            units.extend(section_units)
        return units

    def _group(self, members: list[tuple[Section, list[Unit]]]) -> _Group:
        if len(members) == 1:
            return _Group(self._heading(members[0][0].path), members[0][1])
        prefix = _common_prefix([m[0].path for m in members])
        return _Group(self._heading(prefix), self._merged(members, prefix))

    # --- packing --------------------------------------------------------------------------------

    def _overlap_units(self, previous: list[Unit], limit: int) -> list[Unit]:
        taken: list[Unit] = []
        total = 0
        for unit in reversed(previous):
            if total + unit.tokens <= limit:
                taken.insert(0, unit)
                total += unit.tokens
                continue
            if limit - total >= max(4, limit // 4):
                tail = self.split.tail(unit, limit - total)
                if tail is not None:
                    taken.insert(0, tail)
            break
        return taken

    def _pack(self, units: list[Unit], budget: int) -> list[list[Unit]]:
        total = sum(u.tokens for u in units)
        if total <= budget:
            return [units] if units else []
        overlap = min(self.overlap, budget // 4)
        goal = max(min(self.target - (self.max_tokens - budget), budget) - overlap, 1)
        per = math.ceil(total / math.ceil(total / goal))
        chunks: list[list[Unit]] = []
        current: list[Unit] = []
        size = fresh = 0
        added: list[Unit] = []  # the units `current` holds beyond its overlap
        for unit in units:
            over_goal = fresh and abs(per - fresh) < abs(fresh + unit.tokens - per)
            if current and (size + unit.tokens > budget or over_goal):
                chunks.append(current)
                current = self._overlap_units(current, min(overlap, budget - unit.tokens))
                size, fresh, added = sum(u.tokens for u in current), 0, []
            current.append(unit)
            added.append(unit)
            size += unit.tokens
            fresh += unit.tokens
        if (
            chunks
            and fresh < self.max_tokens // 8
            and sum(u.tokens for u in chunks[-1]) + fresh <= budget
        ):
            chunks[-1].extend(added)  # a sliver at the end joins its neighbour
        elif fresh:
            chunks.append(current)
        return chunks

    # --- output ---------------------------------------------------------------------------------

    def _text(self, units: list[Unit]) -> str:
        parts: list[str] = []
        run_start = units[0].start
        for previous, unit in pairwise(units):
            gap = self.text[previous.end : unit.start]
            blank_run = not self.split.code and gap.count("\n") > 2
            if unit.start < previous.end or gap.strip() or blank_run:
                parts.append(self.text[run_start : previous.end])
                run_start = unit.start
        parts.append(self.text[run_start : units[-1].end])
        return "\n\n".join(parts)

    def _page(self, start: int) -> int | None:
        """The PDF page where the text at `start` is (None for other documents)."""
        if not self._page_starts:
            return None
        index = max(bisect.bisect_right(self._page_starts, start) - 1, 0)
        return self.doc.page_offsets[index][0]

    def chunks(self) -> list[Chunk]:
        newlines = [m.start() for m in re.finditer("\n", self.text)]
        result: list[Chunk] = []
        unsure: list[int] = []  # chunks whose count is not known exactly
        sections = self.doc.sections
        if sections is None:
            sections = tuple(sections_for(self.doc.kind, self.text))
        for group in self._groups(list(sections)):
            heading = group.heading
            if not heading and self._count_context(self.doc.title) > self.max_tokens // 4:
                heading = _truncate(self.doc.title, self.max_tokens // 4, self.counter)
            budget = self._budget(heading or self.doc.title)
            for units in self._pack(group.units, budget):
                start, end = units[0].start, max(u.end for u in units)
                joined = any(b.start <= a.end for a, b in pairwise(units))
                if not self.split.additive or joined or sum(u.tokens for u in units) > budget:
                    unsure.append(len(result))
                result.append(
                    Chunk(
                        text=self._text(units),
                        heading=heading,
                        chunk_index=len(result),
                        start=start,
                        end=end,
                        line_start=bisect.bisect_right(newlines, start - 1) + 1,
                        line_end=bisect.bisect_right(newlines, end - 2) + 1,
                        page=self._page(start),
                    )
                )
        return self._verified(result, unsure, newlines)

    def _verified(
        self, chunks: list[Chunk], unsure: list[int], newlines: list[int], depth: int = 0
    ) -> list[Chunk]:
        """Count the chunks whose size is not known exactly with the counter itself, and re-cut
        (ever finer, re-checking) any chunk that breaks the guarantee."""
        limit = self.max_tokens - SPECIAL_TOKENS
        counts = count_all(self.counter, [chunks[i].embedding_text(self.doc.title) for i in unsure])
        over = {i: count for i, count in zip(unsure, counts, strict=True) if count > limit}
        if not over:
            return chunks
        fixed: list[Chunk] = []
        recheck: list[int] = []
        for i, chunk in enumerate(chunks):
            if i not in over:
                fixed.append(chunk)
                continue
            budget = max(1, self._budget(chunk.heading or self.doc.title) - (over[i] - limit))
            for unit in self.split.fit(chunk.start, chunk.end, max(1, budget >> depth), level=1):
                recheck.append(len(fixed))
                fixed.append(
                    _replace_span(chunk, self.text, unit, newlines, self._page(unit.start))
                )
        fixed = [_reindex(chunk, i) for i, chunk in enumerate(fixed)]
        return self._verified(fixed, recheck, newlines, depth + 1)


def _replace_span(
    chunk: Chunk, text: str, unit: Unit, newlines: list[int], page: int | None
) -> Chunk:
    """A piece of `chunk` (re-cut to fit): its own span, lines and starting page."""
    return Chunk(
        text=text[unit.start : unit.end],
        heading=chunk.heading,
        chunk_index=chunk.chunk_index,
        start=unit.start,
        end=unit.end,
        line_start=bisect.bisect_right(newlines, unit.start - 1) + 1,
        line_end=bisect.bisect_right(newlines, unit.end - 2) + 1,
        page=page,
    )


def _reindex(chunk: Chunk, index: int) -> Chunk:
    if chunk.chunk_index == index:
        return chunk
    return Chunk(
        chunk.text,
        chunk.heading,
        index,
        chunk.start,
        chunk.end,
        chunk.line_start,
        chunk.line_end,
        chunk.page,
    )


def _common_prefix(paths: Sequence[Sequence[str]]) -> list[str]:
    prefix: list[str] = []
    for parts in zip(*paths, strict=False):
        if any(part != parts[0] for part in parts):
            break
        prefix.append(parts[0])
    return prefix


def _truncate(text: str, cap: int, counter: TokenCounter) -> str:
    """The longest word-aligned prefix of `text` within `cap` tokens (characters if one word)."""
    words = text.split()
    lo, hi = 0, len(words)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if counter(" ".join(words[:mid])) <= cap:
            lo = mid
        else:
            hi = mid - 1
    if lo:
        return " ".join(words[:lo])
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if counter(text[:mid]) <= cap:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo]


def chunk_document(
    doc: LoadedDocument,
    counter: TokenCounter,
    max_tokens: int = 256,
    overlap_tokens: int = 32,
    *,
    target_tokens: int | None = None,
) -> list[Chunk]:
    """Cut a loaded document into chunks that each fit the encoder's window (see module doc).

    `target_tokens` (default 80% of `max_tokens`) is the size long sections are evenly packed to;
    a section that fits whole stays whole, up to the hard limit.
    """
    if max_tokens < 16:
        raise ValueError(f"max_tokens must be at least 16, got {max_tokens}")
    target = target_tokens or round(max_tokens * DEFAULT_TARGET_FRACTION)
    overlap = max(0, min(overlap_tokens, max_tokens // 4))
    return _Chunker(doc, counter, max_tokens, overlap, target).chunks()
