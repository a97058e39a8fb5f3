"""A document's preview: the passage in the context of its file, the question's terms and the
cited text highlighted, with its source path, heading, page and score."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Footer, Static

from atlas_tui.errors import AtlasError
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.editor import EditRequested
from atlas_tui.types import Passage

_WORD = re.compile(r"\w{3,}")
_STOPWORDS_TEXT = (
    "the and for are was were what which who why how does did with from that this into about "
    "have has had can could should would will its your you our their there then than"
)
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def query_terms(question: str) -> list[str]:
    return sorted({w.lower() for w in _WORD.findall(question)} - STOPWORDS, key=len, reverse=True)


def highlighted(text: str, terms: list[str], cited: list[str], base: str = "") -> Text:
    out = Text(terminal_safe(text), style=base)
    if terms:
        out.highlight_regex(
            r"(?i)\b(" + "|".join(map(re.escape, terms)) + r")\w*", style="bold reverse"
        )
    for quote in cited:
        out.highlight_words([terminal_safe(quote)], style="underline bold", case_sensitive=True)
    return out


def passage_header(number: int, passage: Passage) -> Text:
    header = Text()
    header.append(f"[{number}] ", style="bold")
    header.append(terminal_safe(passage.path), style="bold")
    details = [f"score {passage.score:.3f}"]
    if passage.heading:
        details.insert(0, terminal_safe(passage.heading))
    if passage.page is not None:
        details.append(f"page {passage.page}")
    if passage.line_start:
        details.append(f"lines {passage.line_start}–{passage.line_end}")
    header.append("\n" + "  ·  ".join(details), style="dim")
    return header


class PreviewScreen(ModalScreen[None]):
    """The whole file around the passage; Esc or q closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "dismiss", "Close", id="preview.close"),
        Binding("e", "edit", "Open in $EDITOR", id="preview.edit"),
    ]

    def __init__(
        self,
        number: int,
        passage: Passage,
        question: str,
        cited: list[str],
        load_text: Callable[[Passage], str],
    ) -> None:
        super().__init__()
        self.number = number
        self.passage = passage
        self.terms = query_terms(question)
        self.cited = [c for c in cited if c.strip()]
        self._load_text = load_text  # slow (reads the file): run in a thread

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
        self.post_message(EditRequested(self.passage))

    def on_mount(self) -> None:
        self.query_one("#preview-body").focus()
        self._load()

    @work(thread=True, exit_on_error=False)
    def _load(self) -> None:
        try:
            whole = self._load_text(self.passage)
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
        start, end = self.passage.start, self.passage.end
        if not (0 <= start < end <= len(whole)):
            located = whole.find(self.passage.text)
            if located >= 0:
                start, end = located, located + len(self.passage.text)
        if not (0 <= start < end <= len(whole)):
            self._show_context_problem("the passage was not found in the file as it is now.")
            return
        self.query_one("#preview-before", Static).update(
            highlighted(whole[:start], self.terms, [], base="dim")
        )
        self.query_one("#preview-passage", Static).update(
            highlighted(whole[start:end], self.terms, self.cited)
        )
        self.query_one("#preview-after", Static).update(
            highlighted(whole[end:], self.terms, [], base="dim")
        )
        self.call_after_refresh(self._scroll_to_passage)

    def _scroll_to_passage(self) -> None:
        body = self.query_one("#preview-body", VerticalScroll)
        body.scroll_to_widget(self.query_one("#preview-passage"), top=True, animate=False)
