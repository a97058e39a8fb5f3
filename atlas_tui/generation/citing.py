"""Citations we verify ourselves, for models that cannot cite natively (the `compatible` profile).

The model is told to cite document n as [n] right after a claim, quoting the document's exact words
in double quotes just before the marker where it can: `... "the exact words" [2].` As the answer
streams, `CitationChecker.feed` finds each marker (one split across deltas is held back until it
closes) and checks it: the document [n] must be one the model was given, and a quote, where there
is one, must be found in that document once whitespace, case and typographic quotes are
normalised (an ellipsis may join pieces that appear in order). A marker that passes is kept as
[n] (so the UI links it); one that fails becomes [n?], never silently kept, and `finish()` ends
the answer with a line saying how many citations checked out and why the others did not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from atlas_tui.generation import TextDelta
from atlas_tui.generation.prompts import CHECK_LINE_PREFIX, NumberedPassage
from atlas_tui.types import Citation

# [n] or [n, m]; not an index in code such as `items[1]` (a marker follows a space or another)
_MARKER = re.compile(r"(?<![\w\[(])\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
_OPEN = re.compile(r"\[[\d,\s]{0,16}$")  # a marker the next delta may close
_QUOTE = re.compile(r"[\"“”]([^\"“”]{2,}?)[\"“”][\s.,;:!?)]*$")
_ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
_TYPOGRAPHY = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-"})
_EDGE_PUNCTUATION = " .,;:!?"


def normalise(text: str) -> str:
    """Text as compared: NFKC, case-folded, typographic quotes and dashes plain, whitespace one."""
    text = unicodedata.normalize("NFKC", text).translate(_TYPOGRAPHY).casefold()
    return " ".join(text.split())


def quote_found(quote: str, document: str) -> bool:
    """Whether `quote` (pieces joined by an ellipsis in order) is in `document`, normalised."""
    haystack = normalise(document)
    position = 0
    pieces = [normalise(p).strip(_EDGE_PUNCTUATION) for p in _ELLIPSIS.split(quote)]
    pieces = [p for p in pieces if p]
    if not pieces:
        return False
    for piece in pieces:
        found = haystack.find(piece, position)
        if found < 0:
            return False
        position = found + len(piece)
    return True


@dataclass(frozen=True, slots=True)
class Checked:
    citation: Citation
    reason: str = ""  # why it failed ("" when verified)


class CitationChecker:
    """Finds and verifies [n] markers in streamed text. Feed deltas; `finish()` at the end."""

    def __init__(self, chosen: Sequence[NumberedPassage]) -> None:
        self._documents = {numbered.number: numbered for numbered in chosen}
        self._held = ""  # a trailing "[1" waiting for the next delta
        self._since = ""  # text since the last marker (where a quote for the next one sits)
        self._last_quote = ""  # the quote of the marker just before ("[1][2]" share it)
        self.checked: list[Checked] = []

    def check(self, number: int, quote: str) -> Checked:
        numbered = self._documents.get(number)
        if numbered is None:
            return Checked(Citation(number, "", quote, valid=False), "no such document")
        chunk_id = numbered.passage.chunk_id
        if quote and not quote_found(quote, numbered.passage.text):
            reason = f"the quote is not in document {number}"
            return Checked(Citation(number, chunk_id, quote, valid=False), reason)
        return Checked(Citation(number, chunk_id, quote, valid=True))

    def feed(self, text: str) -> list[TextDelta]:
        text = self._held + text
        self._held = ""
        if opening := _OPEN.search(text):
            text, self._held = text[: opening.start()], text[opening.start() :]
        return self._scan(text)

    def _scan(self, text: str) -> list[TextDelta]:
        out: list[TextDelta] = []
        start = 0
        for match in _MARKER.finditer(text):
            before = text[start : match.start()]
            self._since += before
            if self._since.strip():
                quoted = _QUOTE.search(self._since)
                self._last_quote = quoted.group(1) if quoted else ""
            numbers = [int(n) for n in match.group(1).split(",")]
            results = [self.check(n, self._last_quote) for n in numbers]
            self.checked.extend(results)
            markers = "".join(_written(r) for r in results)
            out.append(TextDelta(before + markers, tuple(r.citation for r in results)))
            self._since = ""
            start = match.end()
        rest = text[start:]
        if rest:
            self._since += rest
            out.append(TextDelta(rest))
        return out

    def flush(self) -> list[TextDelta]:
        """What was held back (a "[1" that never closed), now as it is."""
        held, self._held = self._held, ""
        return self._scan(held) if held else []

    def finish(self) -> list[TextDelta]:
        """What was held back, then the line saying how the citations checked out."""
        return [*self.flush(), TextDelta(f"\n\n*{summary(self.checked)}*")]

    @property
    def failed(self) -> bool:
        """Whether any marker failed its check."""
        return any(not c.citation.valid for c in self.checked)


def _written(result: Checked) -> str:
    number = result.citation.number
    return f"[{number}]" if result.citation.valid else f"[{number}?]"


def summary(checked: Sequence[Checked]) -> str:
    """ "3 of 4 citations verified; [7?]: no such document." (or that there were none)."""
    if not checked:
        return f"{CHECK_LINE_PREFIX} this answer cites no document, so nothing in it was verified."
    good = sum(1 for c in checked if c.citation.valid)
    quoted = sum(1 for c in checked if c.citation.valid and c.citation.cited_text)
    noun = "citation" if len(checked) == 1 else "citations"
    line = f"{CHECK_LINE_PREFIX} {good} of {len(checked)} {noun} verified"
    if good:
        line += f" ({quoted} by quote, {good - quoted} by document number only)"
    failures = dict.fromkeys(f"[{c.citation.number}?]: {c.reason}" for c in checked if c.reason)
    return line + ("; " + "; ".join(failures) if failures else "") + "."
