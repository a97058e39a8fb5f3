"""Visible text of an HTML page (stdlib `html.parser`): no scripts, styles, navigation or markup.

Block elements become line breaks and headings become Markdown `#` lines, so the chunker splits an
HTML page at its headings exactly as it splits Markdown. Navigation (`<nav>`, `role="navigation"`)
and hidden elements (`hidden`, `aria-hidden="true"`) are left out with everything inside them.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_INVISIBLE = frozenset({"script", "style", "noscript", "template", "svg", "head", "iframe", "nav"})
_HIDDEN_ROLES = frozenset({"navigation", "search", "banner"})
_BLOCK_TAGS = """address article aside blockquote body dd details div dl dt fieldset figcaption
figure footer form header hr main ol p section summary table tbody thead tfoot tr ul"""
_BLOCK = frozenset(_BLOCK_TAGS.split())
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_VOID_TAGS = "area base br col embed hr img input link meta source track wbr"
_VOID = frozenset(_VOID_TAGS.split())


def _hides(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    values = {name: (value or "").strip().lower() for name, value in attrs}
    return (
        tag in _INVISIBLE
        or "hidden" in values
        or values.get("aria-hidden") == "true"
        or values.get("role", "") in _HIDDEN_ROLES
    )


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        self.open: list[tuple[str, bool]] = []  # open elements and whether each hides its content
        self.hidden = 0  # how many open elements hide their content
        self.in_title = False
        self.pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
            return
        if tag not in _VOID:
            hides = _hides(tag, attrs)
            self.open.append((tag, hides))
            self.hidden += hides
        if self.hidden:
            return
        if tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag == "pre":
            self.pre += 1
            self.parts.append("\n\n")
        elif tag in ("td", "th"):
            self.parts.append(" | ")
        elif tag in _BLOCK:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if not self.hidden:
            if tag in _HEADINGS or tag in _BLOCK:
                self.parts.append("\n\n")
            elif tag == "li":
                self.parts.append("\n")
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
                self.parts.append("\n\n")
        names = [name for name, _ in self.open]
        if tag in names:  # close it and whatever was left open inside it
            index = len(names) - 1 - names[::-1].index(tag)
            self.hidden -= sum(hides for _, hides in self.open[index:])
            del self.open[index:]

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif self.pre:
            self.parts.append(data)
        elif not self.hidden:
            text = re.sub(r"\s+", " ", data)
            at_line_start = not self.parts or self.parts[-1].endswith(("\n", "- ", "# "))
            self.parts.append(text.lstrip() if at_line_start else text)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document; title is "" without a <title>."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    # rstrip also drops the pilcrow permalinks documentation generators put after headings
    lines = [line.rstrip().removesuffix("¶").rstrip() for line in "".join(parser.parts).split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title_parts).split())
    return title, text
