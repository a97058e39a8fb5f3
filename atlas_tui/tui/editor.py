"""Open a passage's file in the user's editor ($VISUAL, else $EDITOR) at the passage's line.

The app is suspended while the editor runs (it owns the terminal); a missing editor, file or
terminal gives a one-line notice instead (toasts pass the app's terminal filter).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

from textual.app import App, SuspendNotSupported
from textual.message import Message

from atlas_tui.types import Passage

# Editors that take `FILE:LINE` after a flag rather than `+LINE FILE`.
_COLON_EDITORS = {"code": ["-g"], "codium": ["-g"], "subl": [], "zed": []}


class EditRequested(Message):
    """Open this passage in the editor (from the preview or the documents pane)."""

    def __init__(self, passage: Passage) -> None:
        super().__init__()
        self.passage = passage


def editor_command(path: str, line: int, environ: dict[str, str] | None = None) -> list[str]:
    """The command that opens `path` at `line` (1-based; 0 for the top); [] with no editor."""
    env = os.environ if environ is None else environ
    editor = (env.get("VISUAL") or env.get("EDITOR") or "").strip()
    try:
        words = shlex.split(editor)
    except ValueError:
        words = editor.split()
    if not words:
        return []
    name = Path(words[0]).name
    if name in _COLON_EDITORS:
        return [*words, *_COLON_EDITORS[name], f"{path}:{line}" if line else path]
    return [*words, *([f"+{line}"] if line else []), path]


def open_in_editor(app: App[object], passage: Passage) -> None:
    """Run the editor on the passage's file, the app suspended meanwhile; notices on failure."""
    path = passage.path
    if not Path(path).is_file():
        app.notify(
            f"The file is not there any more: {path}",
            severity="warning",
            markup=False,
        )
        return
    command = editor_command(path, passage.line_start)
    if not command:
        app.notify(
            "No editor is set: set $VISUAL or $EDITOR (e.g. export EDITOR=vim).",
            severity="warning",
            markup=False,
        )
        return
    try:
        try:
            with app.suspend():
                result = subprocess.run(command, check=False)
        except SuspendNotSupported:
            if not app.is_headless:
                app.notify("This terminal cannot hand over to an editor.", severity="warning")
                return
            # no terminal to hand over (tests): run it detached from one
            result = subprocess.run(
                command,
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )
    except (OSError, subprocess.SubprocessError) as error:
        app.notify(
            f"Cannot run the editor {command[0]!r}: {error}",
            severity="error",
            markup=False,
        )
        return
    if result.returncode != 0:
        app.notify(
            f"The editor {command[0]!r} exited with status {result.returncode}.",
            severity="warning",
            markup=False,
        )
