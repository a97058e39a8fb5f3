"""Getting text out of the app: copying (a system clipboard tool, else OSC 52 only, said so), and
saving to a path the user confirms (a failure says why): an answer, a session export, a screenshot.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual.app import App

from atlas_tui.config import user_data_dir
from atlas_tui.errors import AtlasError
from atlas_tui.tui.clipboard import system_copy
from atlas_tui.tui.screens.dialogs import PromptScreen


def documents_dir() -> Path:
    """Where files the user asks for go: ~/Documents when it exists, else the data dir."""
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() else user_data_dir()


def ask_path(
    app: App[object], question: str, default: Path, write: Callable[[Path], object], done: str
) -> None:
    """Prompt for a file path (with `default`), then `write(path)`; a failure says why. A folder
    given gets the default file name inside it."""

    def chosen(value: str | None) -> None:
        if not value:
            return
        path = Path(value).expanduser()
        try:
            if path.is_dir():
                path = path / default.name
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except OSError as error:
            reason = error.strerror or error
            app.notify(f"Cannot write {path}: {reason}", severity="error", markup=False)
            return
        except AtlasError as error:
            app.notify(error.describe(), severity="error", markup=False)
            return
        app.notify(f"{done}: {path}", markup=False)

    app.push_screen(PromptScreen(question, str(default), allow_empty=False), chosen)


def copy_text(app: App[object], text: str, what: str) -> None:
    """Copy `text` (`what` it is, for the notice): to the terminal (OSC 52) and the app's own
    clipboard at once, and to the system clipboard by a tool in a thread worker."""
    app.copy_to_clipboard(text)

    def to_system() -> None:
        copied = system_copy(text)
        if copied.tool:
            message = f"Copied {what} and its cited sources (with {copied.tool})."
            app.call_from_thread(app.notify, message, markup=False)
            return
        why = copied.problem or "no clipboard tool"
        message = f"Copied {what} (OSC 52; {why}). Missing? ctrl+p, Save answer."
        app.call_from_thread(app.notify, message, severity="warning", markup=False)

    app.run_worker(to_system, thread=True, exit_on_error=False, group="clipboard")


def save_text(app: App[object], text: str, question: str, name: str) -> None:
    """Write `text` to a file the user confirms (`name` in the documents folder by default)."""

    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")

    ask_path(app, question, documents_dir() / name, write, "Saved")
