"""The documents pane: the passages retrieved for a question, numbered as the answer cites them."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from atlas_tui.safety import terminal_safe
from atlas_tui.types import Passage


def document_prompt(number: int, passage: Passage, cited: bool) -> Text:
    mark = "●" if cited else " "
    prompt = Text()
    prompt.append(f"{mark}[{number}] ", style="bold underline" if cited else "bold")
    prompt.append(terminal_safe(passage.title or passage.source))
    prompt.append(f"  {passage.score:.2f}", style="dim")
    where = terminal_safe(passage.source)
    if passage.heading:
        where += " › " + terminal_safe(passage.heading)
    if passage.page is not None:
        where += f" (p. {passage.page})"
    prompt.append("\n    " + where, style="dim")
    return prompt


class DocumentsPane(OptionList):
    """Select (Enter, click) a document to open its preview."""

    BORDER_TITLE = "Documents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "select", "Preview", show=False),
        Binding("e", "app.edit_passage", "Open in $EDITOR", id="documents.edit"),
    ]

    class PreviewRequested(Message):
        def __init__(self, turn_id: int, number: int) -> None:
            super().__init__()
            self.turn_id = turn_id
            self.number = number

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.turn_id: int | None = None
        self.documents: tuple[Passage, ...] = ()
        self.cited: set[int] = set()

    def show(self, turn_id: int, documents: tuple[Passage, ...], cited: set[int]) -> None:
        self.turn_id, self.documents, self.cited = turn_id, documents, set(cited)
        self.clear_options()
        self.add_options(
            Option(document_prompt(i, p, i in cited), id=f"doc-{i}")
            for i, p in enumerate(documents, 1)
        )
        self.border_subtitle = f"{len(documents)} found" if documents else "none found"
        if documents:
            self.highlighted = 0

    def select_number(self, number: int) -> bool:
        """Highlight document `number` (1-based); False when there is no such document."""
        if not 1 <= number <= len(self.documents):
            return False
        self.highlighted = number - 1
        return True

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.turn_id is not None:
            self.post_message(self.PreviewRequested(self.turn_id, event.option_index + 1))
