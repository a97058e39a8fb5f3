"""Document structure: where the headings of Markdown (and HTML's text) and plain reST are.

Both return `Section`s: the heading path (titles as plain text), the span of the heading's title
text (a slice of the text, without `#` marks or underlines) and the body span. Markdown is read
by markdown-it (CommonMark); reST line by line here only when docutils could not read it (see
`rst_text.py`, which finds the sections of a reST document itself).
What a reader never sees (reST underlines/overlines, transitions, targets; Markdown rules, front
matter, HTML comments, link reference definitions) is listed in `Section.skip` so the chunker can
leave it out: every `=` of an underline is a word-piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

# reST section adornment characters (docutils accepts any printable non-alphanumeric ASCII).
_ADORNMENT = re.compile(r"""^([!-/:-@\[-`{-~])\1*[ \t]*$""")
# reST lines a reader never sees: hyperlink targets and rendering switches
_RST_MARKUP_ONLY = re.compile(
    r"^\.\. (?:_[^:]+:|(?:highlight|currentmodule|sectionauthor|moduleauthor)::.*)[ \t]*$"
)


@dataclass(slots=True)
class Section:
    """A heading and the text under it, up to the next heading of any level."""

    path: list[str]  # heading titles from the top level down ([] for text before any heading)
    title_span: tuple[int, int] | None  # the title's characters in the text (None: no heading)
    start: int  # body span (after the heading's lines) in the text
    end: int
    skip: list[tuple[int, int]] = field(default_factory=list)  # markup-only lines inside the body


def _line_offsets(text: str) -> list[int]:
    """Offsets where each line starts, plus len(text) as a sentinel."""
    offsets = [0]
    offsets.extend(m.end() for m in re.finditer("\n", text))
    if offsets[-1] != len(text):
        offsets.append(len(text))
    return offsets


def _stripped_span(text: str, start: int, end: int) -> tuple[int, int]:
    segment = text[start:end]
    lead = len(segment) - len(segment.lstrip())
    trail = len(segment) - len(segment.rstrip())
    return start + lead, max(start + lead, end - trail)


class _Builder:
    """Collects sections while a parser walks the lines."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.stack: list[str] = []
        self.sections: list[Section] = [Section([], None, 0, 0)]

    def heading(
        self, level: int, title_span: tuple[int, int], first: int, after: int, title: str = ""
    ) -> None:
        """A heading at `level` (0 = top) with its lines spanning [first, after); its title is
        `title`, or the text of `title_span`."""
        self.sections[-1].end = first
        title = title or " ".join(self.text[title_span[0] : title_span[1]].split())
        self.stack = [*self.stack[: min(level, len(self.stack))], title]
        self.sections.append(Section(list(self.stack), title_span, after, after))

    def skip(self, start: int, end: int) -> None:
        self.sections[-1].skip.append((start, end))

    def finish(self) -> list[Section]:
        self.sections[-1].end = len(self.text)
        first = self.sections[0]
        if not first.path and not self.text[first.start : first.end].strip():
            self.sections.pop(0)
        return self.sections


def _markdown_parser() -> Any:
    global _MARKDOWN
    if _MARKDOWN is None:
        from markdown_it import MarkdownIt
        from mdit_py_plugins.front_matter import front_matter_plugin

        _MARKDOWN = MarkdownIt("commonmark").use(front_matter_plugin).enable("table")
    return _MARKDOWN


_MARKDOWN: Any = None


def plain_inline(children: list[Any]) -> str:
    """What a reader sees of a Markdown inline run: text, code and link words, not the marks."""
    parts: list[str] = []
    for child in children:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(plain_inline(child.children or []))
    return " ".join("".join(parts).split())


def _is_comment(token: Any) -> bool:
    content = token.content.strip()
    return content.startswith("<!--") and content.endswith("-->")


def markdown_sections(text: str) -> list[Section]:
    """Headings (ATX and setext) as markdown-it (CommonMark) reads them; their titles as plain
    text. What a reader never sees is left out of the sections' text (`Section.skip`): YAML front
    matter, HTML comments, thematic breaks and link reference definitions (the lines the parser
    consumed without making a block of them)."""
    offsets = _line_offsets(text)
    line_count = len(offsets) - 1
    tokens = _markdown_parser().parse(text)
    covered = bytearray(line_count)
    # (first line, after line, title span and title of a heading, or None: a span to skip)
    found: list[tuple[int, int, tuple[tuple[int, int], str, int] | None]] = []
    for index, token in enumerate(tokens):
        if token.map is None or token.level != 0:
            continue
        first, after = token.map
        covered[first:after] = b"\x01" * (after - first)
        if token.type == "heading_open":
            inline = tokens[index + 1]
            title = plain_inline(inline.children or [])
            if title:
                heading = (_title_span(text, offsets, inline), title, int(token.tag[1:]) - 1)
                found.append((first, after, heading))
        elif token.type in ("front_matter", "hr") or (
            token.type == "html_block" and _is_comment(token)
        ):
            found.append((first, after, None))
    found.extend(  # link reference definitions: consumed by the parser, no block of their own
        (line, line + 1, None)
        for line in range(line_count)
        if not covered[line] and text[offsets[line] : offsets[line + 1]].strip()
    )
    builder = _Builder(text)
    for first, after, heading in sorted(found, key=lambda item: item[0]):
        start, end = offsets[first], offsets[min(after, line_count)]
        if heading is None:
            builder.skip(start, end)
        else:
            span, title, level = heading
            builder.heading(level, span, start, end, title)
    return builder.finish()


def _title_span(text: str, offsets: list[int], inline: Any) -> tuple[int, int]:
    """Where a heading's title text is in the text (its first line)."""
    line = inline.map[0]
    start, end = offsets[line], offsets[line + 1]
    found = text.find(inline.content.split("\n", 1)[0], start, end)
    if found < 0:
        return _stripped_span(text, start, end)
    return _stripped_span(text, found, found + len(inline.content.split("\n", 1)[0]))


def _is_adornment(line: str, min_length: int = 3) -> bool:
    return bool(_ADORNMENT.match(line)) and len(line.rstrip()) >= min_length


def rst_sections(text: str) -> list[Section]:
    """reST titles: a text line underlined (and optionally overlined) by one repeated character.

    Levels follow the order in which each style (character, overlined or not) first appears, as
    docutils does. Transitions (a lone adornment line between blank lines) are markup to skip.
    """
    offsets = _line_offsets(text)
    lines = [text[offsets[i] : offsets[i + 1]].rstrip("\n") for i in range(len(offsets) - 1)]
    builder = _Builder(text)
    styles: list[tuple[str, bool]] = []
    i = 0
    count = len(lines)
    while i < count:
        line = lines[i]
        before_blank = i == 0 or not lines[i - 1].strip()
        style: tuple[str, bool] | None = None
        title_index = -1
        if (
            before_blank
            and _is_adornment(line)
            and i + 2 < count
            and lines[i + 1].strip()
            and lines[i + 2].rstrip() == line.rstrip()
        ):
            style, title_index, last = (line.strip()[0], True), i + 1, i + 2
        elif (
            before_blank
            and line.strip()
            and not line[0].isspace()
            and i + 1 < count
            and _is_adornment(lines[i + 1], max(3, min(len(line.rstrip()), 4)))
            and not _is_adornment(line)
        ):
            style, title_index, last = (lines[i + 1].strip()[0], False), i, i + 1
        if style is not None:
            if style not in styles:
                styles.append(style)
            span = _stripped_span(text, offsets[title_index], offsets[title_index + 1])
            builder.heading(styles.index(style), span, offsets[i], offsets[last + 1])
            i = last + 1
            continue
        if (_is_adornment(line, 4) and before_blank) or _RST_MARKUP_ONLY.match(line):
            builder.skip(offsets[i], offsets[i + 1])
        i += 1
    return builder.finish()


def sections_for(kind: str, text: str) -> list[Section]:
    """The sections of a document of `kind`; one heading-less section for unstructured kinds."""
    if kind in ("markdown", "html"):
        return markdown_sections(text)
    if kind == "rst":
        return rst_sections(text)
    return [Section([], None, 0, len(text))] if text.strip() else []


def first_heading(kind: str, text: str) -> str:
    """The first heading's title, or "" when the document has none."""
    for section in sections_for(kind, text):
        if section.path:
            return section.path[-1]
    return ""
