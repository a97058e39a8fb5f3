"""A document's preview: the passage in the context of its file, the question's terms and the
cited text highlighted, with its source path, heading, page and score.

Markdown files are rendered (Textual's Markdown widget, the passage's blocks marked), source files
highlighted with line numbers (rich Syntax, the passage's lines marked); other files are shown as
text. Each preview is scrolled to the passage, and e (or ctrl+e, as in the documents pane) opens
the file in $EDITOR at its line.

The file's text is untrusted: it is cleaned where it comes in (`split_around`); the passage, the
question and the cited text come cleaned from the conversation."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from rich.syntax import Syntax
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Footer, Static
from textual.widgets.markdown import MarkdownBlock

from atlas_tui.conversation import ShownPassage
from atlas_tui.errors import AtlasError
from atlas_tui.safety import Clean, terminal_safe
from atlas_tui.tui.editor import EditRequested
from atlas_tui.tui.widgets.answer_markdown import AnswerMarkdown
from atlas_tui.tui.widgets.find_bar import Highlighter, find_in, searchable_blocks
from atlas_tui.types import Passage

_WORD = re.compile(r"\w{3,}")
_STOPWORDS_TEXT = (
    "the and for are was were what which who why how does did with from that this into about "
    "have has had can could should would will its your you our their there then than"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())
EDGE = 24  # characters at each end of a passage that must stand where its offsets say


def query_terms(question: str) -> list[str]:
    return sorted({w.lower() for w in _WORD.findall(question)} - STOPWORDS, key=len, reverse=True)


def highlighted(text: Clean, terms: list[str], cited: list[Clean], base: str = "") -> Text:
    out = Text(text, style=base)
    if terms:
        out.highlight_regex(
            r"(?i)\b(" + "|".join(map(re.escape, terms)) + r")\w*", style="bold reverse"
        )
    for quote in cited:
        out.highlight_words([quote], style="underline bold", case_sensitive=True)
    return out


def passage_header(number: int, passage: ShownPassage) -> Text:
    header = Text()
    header.append(f"[{number}] ", style="bold")
    header.append(passage.path, style="bold")
    details = [f"score {passage.score:.3f}"]
    if passage.heading:
        details.insert(0, passage.heading)
    if passage.page is not None:
        details.append(f"page {passage.page}")
    if passage.passage.line_span:
        details.append(passage.passage.line_span)
    header.append("\n" + "  ·  ".join(details), style="dim")
    return header


class PreviewScreen(ModalScreen[None]):
    """The whole file around the passage; Esc or q closes it."""

    DEFAULT_CSS = """
    PreviewScreen #preview-markdown { background: transparent; margin: 0; padding: 0; }
    PreviewScreen #preview-markdown > .passage {
        background: $primary 15%;
        border-left: thick $accent;
    }
    PreviewScreen #preview-passage.code { background: transparent; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close", id="preview.close"),
        Binding("e,ctrl+e", "edit", "Open in $EDITOR", id="preview.edit"),
    ]

    def __init__(
        self,
        number: int,
        passage: ShownPassage,
        question: str,
        cited: list[Clean],
        load_text: Callable[[Passage], str],
    ) -> None:
        super().__init__()
        self.number = number
        self.passage = passage
        self.terms = query_terms(question)
        self.cited = [c for c in cited if c.strip()]
        self._load_text = load_text  # slow (reads the file): run in a thread
        self._highlighter = Highlighter()  # the cited text, in a Markdown preview

    def compose(self) -> ComposeResult:
        with Vertical(id="preview-box"):
            yield Static(passage_header(self.number, self.passage), id="preview-header")
            with VerticalScroll(id="preview-body"):
                yield Static(Text("Loading the document…", style="dim"), id="preview-before")
                yield Static(
                    highlighted(self.passage.text, self.terms, self.cited), id="preview-passage"
                )
                yield Static("", id="preview-after")
        yield Footer()

    def action_edit(self) -> None:
        self.post_message(EditRequested(self.passage.passage))

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#preview-body"))
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            whole = self._load_text(self.passage.passage)
        except AtlasError as error:
            self.app.call_from_thread(self._show_context_problem, error.describe())
            return
        except OSError as error:
            self.app.call_from_thread(self._show_context_problem, f"Cannot read the file: {error}")
            return
        self.app.call_from_thread(self._show_context, whole)

    def _show_context_problem(self, message: str) -> None:
        before = self.query_one("#preview-before", Static)
        before.update(Text(f"Only the passage is shown: {terminal_safe(message)}", style="italic"))

    def _show_context(self, whole: str) -> None:
        parts = split_around(whole, self.passage.passage)
        if parts is None:
            self._show_context_problem(
                "the file reads differently than when it was ingested"
                " (if it changed, ctrl+o ingests it again)."
            )
            return
        before, passage, after = parts
        kind = preview_kind(self.passage.source)
        if kind == "markdown":
            self.run_worker(self._show_markdown(before, passage, after), exclusive=True)
            return
        if kind == "code":
            self._show_code(before, passage, after)
            return
        self.query_one("#preview-before", Static).update(
            highlighted(before, self.terms, [], base="dim")
        )
        self.query_one("#preview-passage", Static).update(
            highlighted(passage, self.terms, self.cited)
        )
        self.query_one("#preview-after", Static).update(
            highlighted(after, self.terms, [], base="dim")
        )
        self.call_after_refresh(self._scroll_to, self.query_one("#preview-passage"))

    async def _show_markdown(self, before: Clean, passage: Clean, after: Clean) -> None:
        """The file rendered as Markdown; the passage's blocks marked, its cited text lit."""
        body = self.query_one("#preview-body", VerticalScroll)
        first, last = before.count("\n"), before.count("\n") + passage.rstrip("\n").count("\n")
        document = AnswerMarkdown(id="preview-markdown", open_links=False)
        await body.query("#preview-before, #preview-passage, #preview-after").remove()
        await body.mount(document)
        await document.update(before + passage + after)
        marked = [
            block
            for block in document.query(MarkdownBlock)
            if block.parent is document and _overlaps(block.source_range, first, last)
        ]
        for block in marked:
            block.add_class("passage")
        inside = {id(b) for block in marked for b in (block, *block.walk_children())}
        blocks = [b for b in searchable_blocks(document) if id(b) in inside]
        # the question's terms, then the cited text (drawn last, so it shows where they meet)
        terms = [m for term in self.terms for m in find_in(blocks, term)]
        cited = [m for quote in self.cited for m in find_in(blocks, quote)]
        styles = ["bold reverse"] * len(terms) + ["underline bold"] * len(cited)
        self._highlighter.show([*terms, *cited], None, styles)
        if marked:
            self.call_after_refresh(self._scroll_to, marked[0])

    def _show_code(self, before: Clean, passage: Clean, after: Clean) -> None:
        """The file as highlighted source with line numbers; the passage's lines marked."""
        code = before + passage + after
        first = before.count("\n") + 1
        last = first + passage.rstrip("\n").count("\n")
        syntax = Syntax(
            code,
            Syntax.guess_lexer(self.passage.source, code),
            line_numbers=True,
            highlight_lines=set(range(first, last + 1)),
            theme="monokai" if self.app.current_theme.dark else "default",
            word_wrap=True,  # a long line wraps; its continuation has no line number
        )
        for quote in self.cited:
            at = passage.find(quote)
            if at >= 0:
                syntax.stylize_range(
                    "underline bold",
                    _line_col(code, len(before) + at),
                    _line_col(code, len(before) + at + len(quote)),
                )
        self.query_one("#preview-before", Static).update("")
        self.query_one("#preview-after", Static).update("")
        self.query_one("#preview-passage", Static).update(syntax)
        self.query_one("#preview-passage").add_class("code")
        body = self.query_one("#preview-body", VerticalScroll)
        self.call_after_refresh(body.scroll_to, 0, max(0, first - 4), animate=False)

    def _scroll_to(self, widget: Widget) -> None:
        body = self.query_one("#preview-body", VerticalScroll)
        body.scroll_to_widget(widget, top=True, animate=False)


def split_around(whole: str, passage: Passage) -> tuple[Clean, Clean, Clean] | None:
    """The file's text before the passage, the passage, and after it, each cleaned for the
    terminal (here, where the file's text comes in); None when the passage is not in it.

    The passage's offsets are those of the file as it was ingested: they are used when the
    passage is still there, else it is looked for (the file changed since, or reads differently)."""
    start, end = passage.start, passage.end
    if not _stands_at(whole, start, end, passage.text):
        located = whole.find(passage.text)
        if located < 0:
            return None
        start, end = located, located + len(passage.text)
    return terminal_safe(whole[:start]), terminal_safe(whole[start:end]), terminal_safe(whole[end:])


def _stands_at(whole: str, start: int, end: int, text: str) -> bool:
    """Does `text` stand at whole[start:end]? Its first and last EDGE characters do, spaces
    aside (a passage may leave out blank lines and markup lines within its span)."""
    if not 0 <= start < end <= len(whole):
        return False
    span, own = "".join(whole[start:end].split()), "".join(text.split())
    return span[:EDGE] == own[:EDGE] and span[-EDGE:] == own[-EDGE:]


MARKDOWN_SUFFIXES = frozenset({".md", ".markdown", ".mdown", ".mkd"})


def preview_kind(source: str) -> str:
    """How a file is previewed: "markdown", "code" (highlighted source) or "text"."""
    suffix = Path(source).suffix.lower()
    if suffix in MARKDOWN_SUFFIXES:
        return "markdown"
    if suffix in {".txt", ".rst", ".text", ".pdf", ".html", ".htm", ""}:
        return "text"
    return "code" if Syntax.guess_lexer(source) not in ("default", "text") else "text"


def _overlaps(span: tuple[int, int], first: int, last: int) -> bool:
    """Does a block's line span [start, end) overlap the lines first..last (0-based)?"""
    start, end = span
    return start <= last and end > first


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """A character offset as rich Syntax's (1-based line, 0-based column)."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1)
