"""Document structure: where the headings of Markdown and reStructuredText are.

Both parsers work line by line on the loaded text and return `Section`s: the heading path, the
span of the heading's title text (a slice of the text, without `#` marks or underlines) and the
body span.
Lines that only carry markup (reST underlines/overlines, transitions, Markdown rules) are listed in
`Section.skip` so the chunker can leave them out: every `=` of an underline is a word-piece.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# reST section adornment characters (docutils accepts any printable non-alphanumeric ASCII).
_ADORNMENT = re.compile(r"""^([!-/:-@\[-`{-~])\1*[ \t]*$""")
_MD_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_MD_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_MD_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
# reST lines a reader never sees: hyperlink targets and rendering switches
_RST_MARKUP_ONLY = re.compile(
    r"^\.\. (?:_[^:]+:|(?:highlight|currentmodule|sectionauthor|moduleauthor)::.*)[ \t]*$"
)
_MARKUP_ONLY = re.compile(r"^[ \t]*([-=*_~^#+.`'\":])(?:[ \t]*\1){2,}[ \t]*$")


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

    def heading(self, level: int, title_span: tuple[int, int], first: int, after: int) -> None:
        """A heading at `level` (0 = top) with its lines spanning [first, after)."""
        self.sections[-1].end = first
        title = " ".join(self.text[title_span[0] : title_span[1]].split())
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


def markdown_sections(text: str) -> list[Section]:
    """ATX (`## Title`) and setext (underlined) headings; fenced code blocks and YAML front
    matter are not parsed for headings."""
    offsets = _line_offsets(text)
    lines = [text[offsets[i] : offsets[i + 1]].rstrip("\n") for i in range(len(offsets) - 1)]
    builder = _Builder(text)
    fence: str | None = None
    previous_blank = True
    front_matter_end = 0
    if lines and lines[0].rstrip() == "---":
        closing = (i for i in range(1, len(lines)) if lines[i].rstrip() in ("---", "..."))
        front_matter_end = next(closing, -1) + 1
    for i, line in enumerate(lines):
        if i < front_matter_end:
            continue
        fence_match = _MD_FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
            ):
                fence = None
            previous_blank = False
            continue
        if fence_match:
            fence = fence_match.group(1)
        elif atx := _MD_ATX.match(line):
            if atx.group(2):
                span = (offsets[i] + atx.start(2), offsets[i] + atx.end(2))
                builder.heading(len(atx.group(1)) - 1, span, offsets[i], offsets[i + 1])
        elif (
            i + 1 < len(lines)
            and line.strip()
            and previous_blank
            and not line.startswith(("    ", "\t"))
            and _MD_SETEXT.match(lines[i + 1])
        ):
            span = _stripped_span(text, offsets[i], offsets[i + 1])
            level = 0 if lines[i + 1].strip().startswith("=") else 1
            builder.heading(level, span, offsets[i], offsets[min(i + 2, len(lines))])
        elif _MARKUP_ONLY.match(line) and previous_blank:
            builder.skip(offsets[i], offsets[i + 1])
        previous_blank = not line.strip()
    return builder.finish()


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
