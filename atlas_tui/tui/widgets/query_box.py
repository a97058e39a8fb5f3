"""The query box: Enter sends, shift+enter or ctrl+j starts a new line, up/down recall questions,
ctrl+e writes the question in $EDITOR (as in the documents pane, ctrl+e is the editor's key)."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.widgets import TextArea

from atlas_tui.tui.editor import edit_text
from atlas_tui.tui.messages import QuerySubmitted

NEWLINE_KEYS = frozenset({"shift+enter", "ctrl+j"})
# The hint in the empty box: the longest that fits whole.
PLACEHOLDERS = (
    "Ask a question about your documents…  (Enter sends, ctrl+j new line)",
    "Ask a question…  (Enter sends, ctrl+j new line)",
    "Ask a question…  (Enter sends)",
    "Ask a question…",
)


class QueryBox(TextArea):
    """A multi-line question editor with a recall history of earlier questions."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+e", "edit_in_editor", "Write in $EDITOR", id="query.editor", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = PLACEHOLDERS[0]
        self.questions: list[str] = []
        self._recall: int | None = None  # index into history while recalling
        self._draft = ""

    def on_resize(self) -> None:
        room = self.content_region.width
        self.placeholder = next((p for p in PLACEHOLDERS if len(p) <= room), PLACEHOLDERS[-1])

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.submit()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    def action_edit_in_editor(self) -> None:
        """The draft in $EDITOR; what was saved comes back here (Enter then sends it)."""
        written = edit_text(self.app, self.text)
        if written is not None:
            self._show(written.rstrip("\n"))

    def submit(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.questions or self.questions[-1] != text:
            self.questions.append(text)
        self._recall = None
        self._draft = ""
        self.clear()
        self.post_message(QuerySubmitted(text))

    # --- history recall: up on the first line, down on the last --------------------------------

    def action_cursor_up(self, select: bool = False) -> None:
        if select or self.cursor_location[0] > 0 or not self.questions:
            super().action_cursor_up(select)
            return
        if self._recall is None:
            self._draft = self.text
            self._recall = len(self.questions)
        if self._recall > 0:
            self._recall -= 1
            self._show(self.questions[self._recall])

    def action_cursor_down(self, select: bool = False) -> None:
        last_row = self.document.line_count - 1
        if select or self._recall is None or self.cursor_location[0] < last_row:
            super().action_cursor_down(select)
            return
        self._recall += 1
        if self._recall >= len(self.questions):
            self._recall = None
            self._show(self._draft)
        else:
            self._show(self.questions[self._recall])

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)
