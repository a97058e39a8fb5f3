"""A passage read as blocks: paragraphs (soft-wrapped lines kept together), list items, fenced or
indented code, doctest sessions, table rows, reST directive lines and headings; and a block's
sentences. The offline answerer's excerpts (see `excerpts`) are made of these.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^\s*(```+|~~~+)")
_HEADING = re.compile(r"^\s*#{1,6}\s")
_UNDERLINE = re.compile(r"^\s*([=\-~^\"'`#*+])\1{2,}\s*$")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+\S")
_ITEM_MARK = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_DIRECTIVE = re.compile(r"^\s*\.\.\s+[\w:-]+::")
_FIELD = re.compile(r"^\s*:[\w -]+:")
_CODE_DIRECTIVE = re.compile(r"^\s*\.\.\s+(?:code-block|code|sourcecode|doctest|testcode)::")
_TITLE_LIKE = re.compile(r"^\s*[A-Z0-9`][^.!?:;,]{0,60}[^.!?:;,\s]\s*$")
# an API object's title on a line of its own, as a reST page's tiny sections show it when merged
_API_TITLE = re.compile(
    r"^(?:(?:class|exception|async|static|classmethod|abstractmethod|awaitable|property)\s+|@)?"
    r"[A-Za-z_]\w*(?:\.\w+)+(?:\(.*\))?$|^[A-Za-z_]\w*\(.*\)$"
)
_DOCTEST = re.compile(r"^\s*>>>")
# A sentence ends at . ! or ? followed by white space, or at the end of its block.
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s)|$)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # para | item | code | row | rule | directive | heading
    lines: tuple[str, ...]
    indent: int = 0
    skip_first: bool = False  # its first sentence is a fragment (the chunk began inside it)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def _is_title(line: str) -> bool:
    return bool(_TITLE_LIKE.match(line) or (not line[:1].isspace() and _API_TITLE.match(line)))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def blocks(text: str) -> list[Block]:
    """The blocks of a passage, in order."""
    lines = text.splitlines()
    out: list[Block] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            kind = "item" if _ITEM.match(para[0]) else "para"
            if kind == "para" and len(para) == 1 and _is_title(para[0]):
                kind = "heading"  # a section title whose "#" marks the chunker removed
            out.append(Block(kind, tuple(para), _indent(para[0])))
            para.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if fence := _FENCE.match(line):
            flush()
            mark, body = fence.group(1), []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(mark):
                body.append(lines[i])
                i += 1
            out.append(Block("code", tuple(body)))
            i += 1
            continue
        if not stripped:
            flush()
        elif not para and _indented_code(line, out):
            i = _literal(lines, i - 1, _indent(line) - 1, out)
            continue
        elif _UNDERLINE.match(line):
            if len(para) == 1:  # a reST title: the line above it
                out.append(Block("heading", (para.pop(),)))
            flush()
        elif _HEADING.match(line):
            flush()
            out.append(Block("heading", (line,)))
        elif _TABLE_ROW.match(line) or (_TABLE_RULE.match(line) and "|" in line):
            flush()
            out.append(Block("rule" if _TABLE_RULE.match(line) else "row", (line,)))
        elif _DIRECTIVE.match(line):
            flush()
            out.append(Block("directive", (line,), _indent(line)))
            if _CODE_DIRECTIVE.match(line):
                i = _literal(lines, i, _indent(line), out)
                continue
        elif _FIELD.match(line) and not para:
            pass  # a directive's options (":noindex:"): not prose
        elif _DOCTEST.match(line) and not para:
            flush()
            body = []
            while i < len(lines) and lines[i].strip():
                body.append(lines[i])
                i += 1
            out.append(Block("code", tuple(body)))
            continue
        else:
            if para and _ITEM.match(line):
                flush()
            para.append(line)
            if stripped.endswith("::"):  # a reST literal block follows, indented deeper
                base = _indent(para[0])
                flush()
                i = _literal(lines, i, base, out)
                continue
        i += 1
    flush()
    return out


def _indented_code(line: str, out: list[Block]) -> bool:
    """A line indented by four or more after a blank line starts code (Markdown's indented code,
    and how a reST literal block reads once its "::" is shown as ":"), unless it continues a list
    item at the item's text column."""
    indent = _indent(line)
    if indent < 4:
        return False
    if out and out[-1].kind == "item":
        bullet = _ITEM_MARK.match(out[-1].lines[0])
        return indent > (bullet.end() if bullet else 0) + 1
    return True


def _literal(lines: list[str], i: int, base: int, out: list[Block]) -> int:
    """Adds the block indented deeper than `base` after line i (if any) as code; the next line."""
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j >= len(lines) or _indent(lines[j]) <= base:
        return i + 1
    body: list[str] = []
    while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > base):
        if _FIELD.match(lines[j]) and not body:
            j += 1
            continue
        body.append(lines[j])
        j += 1
    while body and not body[-1].strip():
        body.pop()
    out.append(Block("code", tuple(body)))
    return j


_ABBREVIATION = re.compile(r"(?:\b(?:e\.g|i\.e|etc|vs|cf|approx|Mr|Mrs|Dr|No)\.|\b[A-Z]\.)$")


def sentences_of(block: Block) -> list[str]:
    """The sentences of a block, verbatim; "e.g." and the like do not end one."""
    text = block.text
    spans: list[list[int]] = []
    for match in _SENTENCE.finditer(text):
        if spans and _ABBREVIATION.search(text[spans[-1][0] : spans[-1][1]]):
            spans[-1][1] = match.end()
        else:
            spans.append([match.start(), match.end()])
    if len(spans) > 1 and text[spans[-1][0] : spans[-1][1]].strip() == "::":
        spans[-2][1] = spans[-1][1]  # reST "text. ::": the sentence introduces the block after
        spans.pop()
    return [text[start:end].strip() for start, end in spans]
