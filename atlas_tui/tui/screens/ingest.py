"""Pick a folder (or file) to ingest: a path input with a directory tree to browse."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Footer, Input, Static


class IngestScreen(ModalScreen[str | None]):
    """Returns the chosen path, or None when cancelled."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="ingest.cancel")
    ]

    def __init__(self, start: Path | None = None) -> None:
        super().__init__()
        self.start = start or Path.cwd()

    def compose(self) -> ComposeResult:
        with Vertical(id="ingest-box", classes="dialog"):
            yield Static(
                Text("Ingest a folder or file: type a path and press Enter, or pick one below."),
                classes="dialog-text",
            )
            yield Input(value=str(self.start), id="ingest-path")
            yield DirectoryTree(self.start, id="ingest-tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one(Input).value = str(event.path)

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one(Input).value = str(event.path)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if not event.value.strip() or not path.exists():
            self.notify(f"No such file or folder: {path}", severity="error", markup=False)
            return
        self.dismiss(str(path))
