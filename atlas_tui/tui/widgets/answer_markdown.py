"""Markdown whose code blocks wrap long lines, each continuation marked (WRAP_MARK), so nothing is
cut at the pane's edge: an answer's command line, a preview's code, read whole.

Textual's own code block scrolls sideways with no scrollbar and no key to do it; here each line
longer than the block is folded at its width, the folds drawn after a dim ↪.
"""

from __future__ import annotations

from typing import ClassVar

from textual.content import Content
from textual.widgets import Label, Markdown
from textual.widgets.markdown import MarkdownBlock, MarkdownFence

WRAP_MARK = "↪ "
LABEL_PADDING = 4  # the code's Label: padding 1 2


def wrapped(code: Content, width: int) -> Content:
    """`code` with every line longer than `width` cells folded, the folds marked."""
    if width <= len(WRAP_MARK) + 1:
        return code
    mark = Content.styled(WRAP_MARK, "dim")
    lines = []
    for line in code.split("\n"):
        if line.cell_length <= width:
            lines.append(line)
            continue
        first, *rest = line.fold(width)
        lines.append(first)
        for piece in Content("").join(rest).fold(width - len(WRAP_MARK)):
            lines.append(mark + piece)
    return Content("\n").join(lines)


class WrappedFence(MarkdownFence):
    """A code block that wraps instead of hiding what is past its edge."""

    DEFAULT_CSS = """
    WrappedFence { overflow: hidden hidden; }
    """

    def _width(self) -> int:
        return self.content_region.width - LABEL_PADDING

    def set_content(self, content: Content) -> None:
        self._content = content
        if self.is_mounted:
            self.query_one("#code-content", Label).update(wrapped(content, self._width()))

    def on_resize(self) -> None:
        self.set_content(self._highlighted_code)


class AnswerMarkdown(Markdown):
    BLOCKS: ClassVar[dict[str, type[MarkdownBlock]]] = {
        **Markdown.BLOCKS,
        "fence": WrappedFence,
        "code_block": WrappedFence,
    }
