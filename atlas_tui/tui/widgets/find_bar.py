"""Find in the transcript (ctrl+f): every match highlighted, the current one scrolled into view,
"3/7" counted; Enter / F3 for the next match, shift+Enter / shift+F3 for the previous, Escape
closes, clears the highlights and gives the focus back to the transcript.

Matching is case-insensitive over what is shown: each question and the text of each rendered
Markdown block of the answers (a match does not span two blocks).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Input, Static
from textual.widgets.markdown import MarkdownBlock

MATCH_STYLE = "black on yellow"
CURRENT_STYLE = "bold black on #ff8c00"


@dataclass(frozen=True, slots=True)
class Match:
    block: Static  # a question, or a rendered Markdown block of an answer
    start: int
    end: int


def shown_content(block: Static) -> Content:
    """What a block shows, as Content (a question holds rich Text)."""
    content = block.content
    if isinstance(content, Content):
        return content
    if isinstance(content, Text):
        return Content.from_rich_text(content)
    return Content(str(content))


def set_shown(block: Static, content: Content) -> None:
    if isinstance(block, MarkdownBlock):
        block.set_content(content)  # keeps the block's own copy in step
    else:
        block.update(content)


def searchable_blocks(root: Widget) -> list[Static]:
    """The questions and Markdown blocks under `root` that hold text, in document order."""
    blocks = root.query(".question, MarkdownBlock").results(Static)
    return [b for b in blocks if shown_content(b).plain.strip()]


def find_in(blocks: Iterable[Static], needle: str) -> list[Match]:
    """Every case-insensitive occurrence of `needle` in the blocks' text."""
    if not needle:
        return []
    found: list[Match] = []
    for block in blocks:
        plain = shown_content(block).plain
        text, wanted = plain.lower(), needle.lower()
        if len(text) != len(plain) or len(wanted) != len(needle):  # lowering moved offsets
            text, wanted = plain, needle
        at = text.find(wanted)
        while at >= 0:
            found.append(Match(block, at, at + len(wanted)))
            at = text.find(wanted, at + len(wanted))
    return found


class Highlighter:
    """Stylizes matches in the blocks, and puts every block back as it was."""

    def __init__(self) -> None:
        self._originals: dict[Static, tuple[Content, Content]] = {}  # (as it was, as lit)

    def show(
        self, matches: list[Match], current: int | None, styles: list[str] | None = None
    ) -> None:
        """Draw each match in its style (`styles`, one each), else the current one in
        CURRENT_STYLE and the others in MATCH_STYLE."""
        self.clear()
        by_block: dict[Static, list[tuple[int, Match]]] = {}
        for index, match in enumerate(matches):
            by_block.setdefault(match.block, []).append((index, match))
        for block, found in by_block.items():
            original = shown_content(block)
            content = original
            for index, match in found:
                style = CURRENT_STYLE if index == current else MATCH_STYLE
                if styles is not None:
                    style = styles[index]
                content = content.stylize(style, match.start, match.end)
            set_shown(block, content)
            self._originals[block] = (original, content)

    def clear(self) -> None:
        """Put back what was lit, unless the block shows something newer (a streaming answer)."""
        for block, (original, lit) in self._originals.items():
            if block.is_attached and block.content is lit:
                set_shown(block, original)
        self._originals.clear()


class FindBar(Horizontal):
    """The find bar under the transcript."""

    DEFAULT_CSS = """
    FindBar {
        height: 1;
        padding: 0 1;
        background: $boost;
    }
    FindBar #find-label { width: auto; padding-right: 1; color: $text-muted; }
    FindBar #find-input { width: 1fr; height: 1; border: none; padding: 0; }
    FindBar #find-count { width: auto; min-width: 12; padding-left: 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close find", id="find.close"),
        Binding("f3,down", "step(1)", "Next match", id="find.next"),
        Binding("shift+f3,shift+enter,up", "step(-1)", "Previous match", id="find.previous"),
    ]

    def __init__(self, target: Widget, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.target = target
        self.matches: list[Match] = []
        self.current: int | None = None
        self._highlighter = Highlighter()

    def compose(self) -> ComposeResult:
        yield Static(Text("Find:"), id="find-label")
        yield Input(placeholder="text in the transcript", id="find-input")
        yield Static("", id="find-count")

    @property
    def count(self) -> str:
        return str(self.query_one("#find-count", Static).render())

    def open(self) -> None:
        self.display = True
        self.screen.set_focus(self.query_one(Input))
        self.search()

    def search(self) -> None:
        """Find the text again (the transcript may have changed) and show the first match."""
        needle = self.query_one(Input).value
        self.matches = find_in(searchable_blocks(self.target), needle)
        self.current = 0 if self.matches else None
        self._show()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self.search()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_step(1)

    def action_step(self, by: int) -> None:
        if not self.matches:
            self.search()
        if self.matches:
            self.current = ((self.current or 0) + by) % len(self.matches)
            if by and len(self.matches) == 1:
                self.notify("This is the only match.", timeout=2)
        self._show()

    def _show(self) -> None:
        stale = [m for m in self.matches if not m.block.is_attached]
        if stale:  # an answer was redrawn (regenerated, stepped): search what is shown now
            self.matches = find_in(searchable_blocks(self.target), self.query_one(Input).value)
            self.current = 0 if self.matches else None
        self._highlighter.show(self.matches, self.current)
        counter = self.query_one("#find-count", Static)
        if not self.query_one(Input).value:
            counter.update("")
        elif self.current is None:
            counter.update(Text("no matches"))
        else:
            counter.update(Text(f"{self.current + 1}/{len(self.matches)}"))
            block = self.matches[self.current].block
            self.target.scroll_to_widget(block, animate=False, center=True)

    def action_close(self) -> None:
        self._highlighter.clear()
        self.matches, self.current = [], None
        self.display = False
        self.screen.set_focus(self.target)
