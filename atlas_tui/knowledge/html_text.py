"""Visible text of an HTML page (stdlib `html.parser`): no scripts, styles, navigation or markup.

Block elements become line breaks and headings become Markdown `#` lines, so the chunker splits an
HTML page at its headings exactly as it splits Markdown. Boilerplate is left out with everything
inside it: navigation (`<nav>`, `role="navigation"`), footers (`<footer>`, `role="contentinfo"`),
search boxes and banners, hidden elements (`hidden`, `aria-hidden="true"`), and the parts
documentation generators mark by class (sidebars, footers, "related" and breadcrumb bars). A page
that marks its main content (`<main>`, `role="main"`) is read from there only.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

_INVISIBLE = frozenset(
    {"script", "style", "noscript", "template", "svg", "head", "iframe", "nav", "footer"}
)
_HIDDEN_ROLES = frozenset({"navigation", "search", "banner", "contentinfo"})
_BOILERPLATE_CLASSES = frozenset(
    {"footer", "sidebar", "sphinxsidebar", "related", "breadcrumb", "breadcrumbs", "skip-link"}
)
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
        or not _BOILERPLATE_CLASSES.isdisjoint(values.get("class", "").split())
    )


def _is_main(tag: str, attrs: list[tuple[str, str | None]]) -> bool:
    return tag == "main" or any(n == "role" and (v or "").lower() == "main" for n, v in attrs)


class _VisibleText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] = []
        # open elements, whether each hides its content and whether it is the main content
        self.open: list[tuple[str, bool, bool]] = []
        self.hidden = 0  # how many open elements hide their content
        self.in_title = False
        self.pre = 0
        self.main = 0  # how many open elements mark the main content
        self.main_parts: list[str] = []  # the text inside them, when the page marks any
        self.saw_main = False

    @property
    def _out(self) -> list[str]:
        return self.main_parts if self.main else self.parts

    def text(self) -> str:
        return "".join(self.main_parts if self.saw_main else self.parts)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
            return
        if tag not in _VOID:
            hides = _hides(tag, attrs)
            main = _is_main(tag, attrs)
            self.open.append((tag, hides, main))
            self.hidden += hides
            self.main += main
            self.saw_main = self.saw_main or (main and not self.hidden)
        if self.hidden:
            return
        if tag in _HEADINGS:
            self._out.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag == "br":
            self._out.append("\n")
        elif tag == "li":
            self._out.append("\n- ")
        elif tag == "pre":
            self.pre += 1
            self._out.append("\n\n")
        elif tag in ("td", "th"):
            self._out.append(" | ")
        elif tag in _BLOCK:
            self._out.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
            return
        if not self.hidden:
            if tag in _HEADINGS or tag in _BLOCK:
                self._out.append("\n\n")
            elif tag == "li":
                self._out.append("\n")
            elif tag == "pre":
                self.pre = max(0, self.pre - 1)
                self._out.append("\n\n")
        names = [name for name, _, _ in self.open]
        if tag in names:  # close it and whatever was left open inside it
            index = len(names) - 1 - names[::-1].index(tag)
            self.hidden -= sum(hides for _, hides, _ in self.open[index:])
            self.main -= sum(main for _, _, main in self.open[index:])
            del self.open[index:]

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif self.pre:
            self._out.append(data)
        elif not self.hidden:
            text = re.sub(r"\s+", " ", data)
            at_line_start = not self._out or self._out[-1].endswith(("\n", "- ", "# "))
            self._out.append(text.lstrip() if at_line_start else text)


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML document; title is "" without a <title>."""
    parser = _VisibleText()
    parser.feed(html)
    parser.close()
    # rstrip also drops the pilcrow permalinks documentation generators put after headings
    lines = [line.rstrip().removesuffix("¶").rstrip() for line in parser.text().split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
    title = " ".join("".join(parser.title_parts).split())
    return title, text
