"""Text shown on one line: whitespace folded, and cut at a word with exactly one ellipsis."""

from __future__ import annotations

import re

ELLIPSIS = "…"
_TRAILING = re.compile(r"[\s,;:]*(?:\.{2,}|…)?[\s,;:]*$")


def one_line(text: str) -> str:
    """`text` with every run of whitespace (newlines included) as one space."""
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """`text` on one line, at most `limit` characters: cut at the last word that fits and marked
    by one "…" (a cut that meets the text's own "..." or "…" never shows two)."""
    line = one_line(text)
    if len(line) <= limit:
        return line
    room = max(1, limit - len(ELLIPSIS))
    cut = line[: room + 1]
    at_space = cut.rfind(" ")
    cut = cut[:at_space] if at_space > room // 2 else line[:room]
    return _TRAILING.sub("", cut) + ELLIPSIS
