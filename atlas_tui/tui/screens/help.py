"""F1: every key, by where it acts (the main screen, typing a question, the transcript, the
documents pane, the find bar, a preview, the sessions screen), as the config's [keys] rebound them.

The table scrolls within the box at any terminal size (PageDown, End, the mouse wheel).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Static

from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.screens.sessions import SessionsScreen

Row = tuple[str, str]  # (keys as shown, what they do)
Section = tuple[str, list[Row]]

TYPING: Section = (
    "Typing a question",
    [
        ("enter", "Send the question"),
        ("shift+enter / ctrl+j", "New line in the question"),
        ("up / down", "Recall earlier questions"),
        ("^e", "Write the question in $EDITOR"),
        ("any letter (other panes)", "Starts typing a question"),
    ],
)
# Keys that are not bindings of their own (a widget's built-in ones, the mouse), by section.
BESIDES: Mapping[str, list[Row]] = {
    "Main screen": [("tab / shift+tab", "Move focus between panes")],
    "Transcript": [("click [n]", "Highlight document n")],
    "Documents pane": [("enter / click", "Open the document's preview")],
}
ELSEWHERE: tuple[tuple[str, type], ...] = (("Preview", PreviewScreen), ("Sessions", SessionsScreen))


def key_rows(
    bindings: Iterable[Binding], keymap: Mapping[str, str], display: Callable[[Binding], str]
) -> list[Row]:
    """A row for each binding with a description: its keys (as `keymap` rebinds them, shown by
    `display`) and what it does."""
    rows = []
    for binding in bindings:
        if not binding.description:
            continue
        keys = keymap.get(binding.id, binding.key) if binding.id else binding.key
        shown = [  # each key as the footer shows it
            display(replace(binding, key=k.strip(), key_display=None)) for k in keys.split(",")
        ]
        rows.append((" / ".join(shown), binding.description))
    return rows


def other_screens(keymap: Mapping[str, str], display: Callable[[Binding], str]) -> list[Section]:
    """The keys of the screens the main screen opens."""
    return [
        (where, key_rows((b for b in screen.BINDINGS if isinstance(b, Binding)), keymap, display))
        for where, screen in ELSEWHERE
    ]


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "dismiss", "Close", id="help.close"),
        # a list's Home and End (a table's own go to its first and last column)
        Binding("home", "edge(False)", "First key", show=False, priority=True),
        Binding("end", "edge(True)", "Last key", show=False, priority=True),
    ]

    def __init__(self, sections: list[Section], note: str = "") -> None:
        """`sections`: (where, rows) in order; `note`: a paragraph above the keys (e.g. why answers
        are offline)."""
        super().__init__()
        self.sections = [(where, [*rows, *BESIDES.get(where, [])]) for where, rows in sections]
        self.rows = [row for _, rows in self.sections for row in rows]
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
        for where, rows in self.sections:
            table.add_row(Text(where, style="bold italic"), "")
            for key, description in rows:
                table.add_row(Text(key, style="bold"), Text(description))
        self.set_focus(table)

    def action_edge(self, last: bool) -> None:
        table = self.query_one(DataTable)
        if last:
            table.action_scroll_bottom()
        else:
            table.action_scroll_top()
