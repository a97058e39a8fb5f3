"""F1: every binding of the main screen (as rebound by the config) and the query box's keys."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

QUERY_BOX_KEYS = (
    ("enter", "Send the question"),
    ("shift+enter / ctrl+j", "New line in the question"),
    ("up / down", "Recall earlier questions"),
    ("tab / shift+tab", "Move focus between panes"),
    ("enter / click (documents)", "Open the document's preview"),
    ("click [n] (answer)", "Highlight document n"),
    ("] / [ (transcript)", "Step through the answer's citations"),
    ("enter (transcript)", "Open the cited passage"),
    ("shift+up / down (transcript)", "Select a turn (ctrl+t then copies it)"),
    ("ctrl+left / right (panes)", "Resize the documents pane (or drag its edge)"),
    ("any letter (other panes)", "Starts typing a question"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close")
    ]

    def __init__(self, bindings: list[tuple[str, str]], note: str = "") -> None:
        """`note`: a paragraph shown above the keys (e.g. why answers are offline)."""
        super().__init__()
        self.rows = [*bindings, *QUERY_BOX_KEYS]
        self.note = note

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            if self.note:
                yield Static(Text(self.note), id="help-note")
            yield Static(Text("Keys", style="bold"), id="help-title")
            yield DataTable(id="help-table", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action")
        for key, description in self.rows:
            table.add_row(Text(key, style="bold"), Text(description))
        table.focus()
