"""Pick a folder (or file) to ingest: a path box that completes names, over a tree to browse.

In the path box Tab completes the name being typed (as far as the matches agree; the matches are
listed under it), → takes the dimmed suggestion, Enter ingests, ↓ goes to the tree. In the tree
Enter ingests the highlighted folder or file and Space opens or closes a folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import DirectoryTree, Footer, Input, Static

MATCHES_SHOWN = 8


def completions(typed: str) -> tuple[str, list[str]]:
    """`typed` completed as far as every matching name agrees, and the matching names (a folder
    with a trailing /). Hidden names match only a typed dot."""
    folder, slash, start = typed.rpartition("/")
    where = Path(os.path.expanduser(folder if slash else ".") or "/")
    try:
        entries = list(where.iterdir())
    except OSError:
        return typed, []
    hidden_too = start.startswith(".")
    names = sorted(
        entry.name + ("/" if entry.is_dir() else "")
        for entry in entries
        if entry.name.startswith(start) and (hidden_too or not entry.name.startswith("."))
    )
    if not names:
        return typed, []
    # names in one folder: the characters they share is what completes (not path components)
    common = os.path.commonprefix(names)  # noqa: RUF071
    return folder + slash + common, names


class PathSuggester(Suggester):
    """The first matching name, dimmed after what is typed (→ takes it)."""

    def __init__(self) -> None:
        super().__init__(use_cache=False, case_sensitive=True)

    async def get_suggestion(self, value: str) -> str | None:
        names = completions(value)[1]
        folder, slash, _ = value.rpartition("/")
        return folder + slash + names[0] if names else None


class PathInput(Input):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete"),
        Binding("enter", "submit", "Ingest"),
        Binding("down", "browse", "Browse", show=False),
    ]

    def action_complete(self) -> None:
        completed, names = completions(self.value)
        matches = self.screen.query_one("#ingest-matches", Static)
        shown = "  ".join(names[:MATCHES_SHOWN]) + ("  …" if len(names) > MATCHES_SHOWN else "")
        matches.update(Text(shown))
        matches.display = len(names) > 1
        if completed != self.value:
            self.value = completed
            self.cursor_position = len(completed)
        elif len(names) <= 1:  # nothing left to complete: Tab moves on, as elsewhere
            self.screen.focus_next()

    def action_browse(self) -> None:
        self.screen.set_focus(self.screen.query_one(PathTree))


class PathTree(DirectoryTree):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Ingest this"),
        Binding("space", "toggle_node", "Open / close"),
    ]

    auto_expand = False  # Enter picks a folder; Space opens it


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
                Text("Ingest a folder or file: type a path (Tab completes) or pick one below."),
                classes="dialog-text",
            )
            # The folder shown is where a path starts: typing goes on from it, not over it.
            yield PathInput(
                value=str(self.start).rstrip("/") + "/",
                id="ingest-path",
                suggester=PathSuggester(),
                select_on_focus=False,
            )
            yield Static("", id="ingest-matches", classes="dialog-help")
            yield PathTree(self.start, id="ingest-tree")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#ingest-matches").display = False  # until Tab finds several
        self.set_focus(self.query_one(Input))

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.choose(str(event.path))

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.choose(str(event.path))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.choose(event.value)

    def choose(self, typed: str) -> None:
        path = Path(typed.strip()).expanduser()
        if not typed.strip() or not path.exists():
            self.notify(f"No such file or folder: {path}", severity="error", markup=False)
            return
        self.dismiss(str(path))
