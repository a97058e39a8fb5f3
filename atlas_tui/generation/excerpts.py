"""What the offline answerer may quote: a passage cut into excerpts that make sense on their own.

A passage (Markdown, reStructuredText or plain text) is read as blocks (see `blocks`). The
excerpts are then:
- each sentence of a paragraph or list item that reads as prose (not a line of code that lost
  its indentation because the chunk began inside a code block); in an API object's section
  (titled "os.environ", "gzip.open(...)") the excerpt names that object (`Excerpt.subject`);
- a sentence that introduces what follows ("run the following:", "for example::", reST's
  "text. ::") together with the code block, list or table after it, so the quote is never a
  lead-in without its content; a short lead-in ("Here's how::") after the sentence before it;
- each table row together with the table's header row;
- a reST directive's signature together with the first sentence of its description;
- a short code block on its own; one that opens its section (its heading introduces it) with
  the sentence after it, which says what it does.
Every excerpt is verbatim: its Markdown quote only re-wraps prose, indents code and shows reST's
"::" as the single colon (or nothing) it renders as.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, replace

from atlas_tui.generation.blocks import Block, blocks, sentences_of

MAX_CODE_LINES = 10  # a longer code block is quoted up to here, then "…"
MAX_LIST_ITEMS = 4
MIN_WORDS = 4
SHORT_LEAD = 8  # a lead-in shorter than this (in words) is quoted after the sentence before it

_SIGNATURE = re.compile(
    r"^\s*\.\.\s+(?:py:)?(?:function|class|method|classmethod|staticmethod|decorator|"
    r"decoratormethod|exception|data|attribute|property|module|coroutinefunction|"
    r"coroutinemethod|awaitablefunction|abstractmethod|cmdoption|option|envvar|describe)::"
)


@dataclass(frozen=True, slots=True)
class Excerpt:
    """A quotable piece of one passage. `parts` are verbatim substrings of the passage text."""

    kind: str  # sentence | lead | row | signature | code
    prose: str  # the words scored (the sentence, the lead-in, the row with its header)
    quote: tuple[str, ...]  # Markdown lines of the quote, without "> " and without the [n]
    parts: tuple[str, ...]  # verbatim pieces, for the citations
    block: int  # index of its first block in the passage
    first: int  # sentence span within that block, for merging neighbours
    last: int
    ends_in_prose: bool = True
    section: str = ""  # the title of the section it is in, when the passage shows one

    @property
    def words(self) -> int:
        return sum(len(line.split()) for line in self.quote)

    @property
    def shown_words(self) -> int:
        """Words the answer shows for it: the quote's, and its subject's."""
        return self.words + len(self.subject.split())

    def shown(self) -> tuple[str, ...]:
        """The quote's lines, the first naming its subject ("`os.environ`: A mapping ...")."""
        subject = self.subject
        if not subject:
            return self.quote
        first = self.quote[0]
        if first.startswith("```") or not first:
            return (f"`{subject}`", *self.quote)
        return (f"`{subject}`: {first}", *self.quote[1:])

    @property
    def subject(self) -> str:
        """What the excerpt describes, when its section names an object ("os.environ",
        "gzip.open(filename, mode='rb')") or a module ("timeit — Measure execution time...":
        "timeit") and the quote does not name it already: "A mapping object ..." or "This
        module provides ..." says nothing without the name it describes."""
        if is_api_name(self.section):
            subject, name = self.section, self.section.split("(", 1)[0].split()[-1].lstrip("@")
        elif module := _MODULE_TITLE.match(self.section):
            subject = name = module.group(1)
        else:
            return ""
        named = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
        return "" if any(named.search(line) for line in self.quote) else subject


# a module's page as Sphinx titles it: "timeit — Measure execution time of small code snippets"
_MODULE_TITLE = re.compile(r"^([A-Za-z_][\w.]*) (?:—|--?-?) \S")
_API_NAME = re.compile(
    r"^(?:(?:class|exception|async|static|classmethod|abstractmethod|awaitable|property|type)"
    r"\s+|@)?[A-Za-z_][\w.]*(?:\(.*\))?$"
)


def is_api_name(title: str) -> bool:
    """A section title that is an object's name or signature, as Sphinx shows it."""
    return bool(_API_NAME.match(title)) and any(mark in title for mark in "._(")


_INDEX_ENTRY = re.compile(
    r"^\s*!?(?:single|pair|triple|see|seealso|module|keyword|statement|builtin|object|operator)"
    r":\s"
)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_OPENS_BLOCK = re.compile(r"^(?:`{3,}|~{3,})")


def _prose(text: str) -> str:
    """Prose on one line; a line that would open a code block inside the quote is escaped."""
    line = " ".join(text.split())
    return "\\" + line if _OPENS_BLOCK.match(line) else line


def _code_lines(block: Block) -> tuple[str, ...]:
    lines = textwrap.dedent(block.text).splitlines()
    if len(lines) > MAX_CODE_LINES:
        lines = [*lines[:MAX_CODE_LINES], "…"]
    fence = "```"
    while any(fence in line for line in lines):
        fence += "`"
    return (fence, *lines, fence)


def _is_lead_in(sentence: str) -> bool:
    """A sentence that introduces what follows ("run the following:"); a bare "::" is not."""
    text = sentence.rstrip()
    return text.endswith(":") and len(text.split()) >= 2


def _quotable_code(block: Block) -> bool:
    """Code worth quoting: some lines, not too many, and more than a brace or two."""
    return 0 < len(block.lines) <= MAX_CODE_LINES * 3 and len(_IDENTIFIER.findall(block.text)) >= 2


def _following(found: list[Block], start: int) -> tuple[list[Block], int]:
    """The code block, list or table right after a lead-in, and the index after it."""
    if start >= len(found):
        return [], start
    kind = found[start].kind
    if kind == "code":
        return ([found[start]], start + 1) if _quotable_code(found[start]) else ([], start)
    if kind in ("item", "row", "rule"):
        group_kinds = ("item",) if kind == "item" else ("row", "rule")
        end = start
        while end < len(found) and found[end].kind in group_kinds:
            end += 1
        return found[start:end], end
    return [], start


def excerpts(text: str, heading: str = "") -> list[Excerpt]:
    """The excerpts of a passage, in document order; `heading` is the passage's heading path
    (its last level is the section of the text before any heading inside the passage)."""
    found = blocks(text)
    out: list[Excerpt] = []
    section = heading.rpartition(" > ")[2].strip()
    for index, block in enumerate(found):
        if block.kind == "heading":
            section = block.text.strip().lstrip("#").strip()
            continue
        before = len(out)
        if block.kind == "para" and _signature_of(found, index) is not None:
            # a description's first sentence is quoted with its signature
            block = Block(block.kind, block.lines, block.indent, skip_first=True)
        if block.kind == "para" and _INDEX_ENTRY.match(block.text):
            continue  # the entries of a reST `.. index::` directive, not prose
        if block.kind in ("para", "item"):
            out.extend(_prose_excerpts(found, index, block))
        elif block.kind == "row":
            out.extend(_row_excerpt(found, index))
        elif block.kind == "directive":
            out.extend(_signature_excerpt(found, index, block))
        elif block.kind == "code" and len(block.lines) <= MAX_CODE_LINES and _quotable_code(block):
            previous = found[index - 1] if index else None
            introduced = (
                previous is not None
                and previous.kind in ("para", "item")
                and bool(sentences := sentences_of(previous))
                and _is_lead_in(sentences[-1])
            )
            if not introduced:
                out.append(_code_excerpt(found, index, block))
        if section:
            out[before:] = [replace(e, section=section) for e in out[before:]]
    return out


def _code_excerpt(found: list[Block], index: int, block: Block) -> Excerpt:
    """A code block on its own. One that opens its section (its heading introduces it, as in
    "## The ingest command" then the command) is quoted with the sentence after it, which
    says what it does."""
    opens_section = index == 0 or found[index - 1].kind == "heading"
    after = found[index + 1] if index + 1 < len(found) else None
    sentences = sentences_of(after) if after is not None and after.kind == "para" else []
    if not (opens_section and sentences and _reads_as_prose(sentences[0])):
        return Excerpt("code", block.text, _code_lines(block), (block.text,), index, 0, 0, False)
    explained = sentences[0]
    return Excerpt(
        "code",
        f"{_prose(explained)} {block.text}",  # the words first: they are what is encoded
        (*_code_lines(block), "", _prose(explained)),
        (block.text, explained),
        index,
        0,
        0,
    )


def _plain_word(token: str) -> bool:
    """A word of prose in any script ("file", "Größe", "`x`,"), not code ("f(x)", "a_b")."""
    word = token.lstrip("(\"'*`").rstrip(",.;:!?)\"'*`")
    return word.isalpha() and not any(c.isupper() for c in word[1:])


def _reads_as_prose(sentence: str) -> bool:
    """At least MIN_WORDS words, half of them plain words: not a line of code or a URL list."""
    tokens = sentence.split()
    plain = sum(1 for token in tokens if _plain_word(token))
    return len(tokens) >= MIN_WORDS and plain >= 3 and 2 * plain >= len(tokens)


def _prose_excerpts(found: list[Block], index: int, block: Block) -> Iterator[Excerpt]:
    sentences = sentences_of(block)
    bullet = (
        re.match(r"\s*((?:[-*+•]|\d+[.)])\s+)", block.lines[0]) if block.kind == "item" else None
    )
    for position, sentence in enumerate(sentences):
        if position == 0 and block.skip_first:
            continue
        last = position == len(sentences) - 1
        if last and _is_lead_in(sentence):
            following, _end = _following(found, index + 1)
            if following:
                # "Here's how:" says little alone: the sentence before it says what it shows.
                short = len(sentence.split()) < SHORT_LEAD
                context = position > 0 and short and not (position == 1 and block.skip_first)
                if context and _reads_as_prose(sentences[position - 1]):
                    before: str | None = sentences[position - 1]
                else:
                    before = None
                yield _lead_excerpt(index, position, sentence, following, before)
            continue  # a lead-in without what it introduces says nothing
        if not _reads_as_prose(sentence) or sentence.endswith("?"):
            continue  # a question, or code that lost its indentation (the chunk began in it)
        shown = _prose(sentence)
        if bullet and position == 0 and not shown.startswith(bullet.group(1).strip()):
            shown = bullet.group(1) + shown
        yield Excerpt(
            "sentence", _prose(sentence), (shown,), (sentence,), index, position, position
        )


def _shown_lead(lead: str) -> str:
    """A lead-in as reST renders it: "for example::" ends in one colon, "text. ::" in none."""
    shown = _prose(lead)
    if shown.endswith(" ::"):
        return shown[:-3]
    return shown[:-1] if shown.endswith("::") else shown


def _lead_excerpt(
    index: int, position: int, lead: str, following: list[Block], before: str | None = None
) -> Excerpt:
    shown = _shown_lead(lead) if before is None else f"{_prose(before)} {_shown_lead(lead)}"
    quote: list[str] = [shown]
    parts = [lead] if before is None else [before, lead]
    prose = [shown]
    if following[0].kind == "code":
        quote += ["", *_code_lines(following[0])]
        parts.append(following[0].text)
        prose.append(_prose(following[0].text)[:200])
    elif following[0].kind == "item":
        for item in following[:MAX_LIST_ITEMS]:
            quote.append(_prose(item.text))
            parts.append(item.text)
            prose.append(_prose(item.text))
        if len(following) > MAX_LIST_ITEMS:
            quote.append("- …")
    else:
        quote.append("")
        for row in following:
            quote.append(row.text.strip())
            parts.append(row.text)
            prose.append(_prose(row.text))
    return Excerpt(
        "lead",
        " ".join(prose),
        tuple(quote),
        tuple(parts),
        index,
        position if before is None else position - 1,
        position,
        ends_in_prose=False,
    )


def _row_excerpt(found: list[Block], index: int) -> Iterator[Excerpt]:
    start = index
    while start > 0 and found[start - 1].kind in ("row", "rule"):
        start -= 1
    table = found[start:]
    has_header = len(table) > 1 and table[1].kind == "rule"
    if has_header and index in (start, start + 1):
        return  # the header row itself
    if (
        start > 0
        and found[start - 1].kind in ("para", "item")
        and _is_lead_in(found[start - 1].text)
    ):
        return  # quoted whole with its lead-in
    row = found[index]
    if has_header:
        header, rule = table[0], table[1]
        quote = (header.text.strip(), rule.text.strip(), row.text.strip())
        prose = _prose(header.text + " " + row.text)
        parts = (header.text, row.text)
    else:
        quote = (row.text.strip(),)
        prose = _prose(row.text)
        parts = (row.text,)
    yield Excerpt("row", prose, quote, parts, index, 0, 0, ends_in_prose=False)


def _signature_of(found: list[Block], index: int) -> Block | None:
    """The reST signature directive that paragraph `index` describes, if any (other directives,
    such as `.. index::` or `.. versionadded::`, may come between)."""
    for previous in reversed(found[:index]):
        if previous.kind != "directive":
            return None
        if _SIGNATURE.match(previous.text):
            return previous
    return None


def _signature_excerpt(found: list[Block], index: int, block: Block) -> Iterator[Excerpt]:
    if not _SIGNATURE.match(block.text):
        return
    following = index + 1
    while following < len(found) and found[following].kind == "directive":
        if _SIGNATURE.match(found[following].text):
            return  # several signatures, one description: the last one is quoted with it
        following += 1
    if following >= len(found) or found[following].kind != "para":
        return
    sentences = sentences_of(found[following])
    if not sentences:
        return
    first = sentences[0]
    signature = block.text.strip()
    shown = signature.split("::", 1)[1].strip()
    quote = (f"`{shown}`", _prose(first))
    yield Excerpt(
        "signature", f"{shown} {_prose(first)}", quote, (signature, first), following, 0, 0
    )
