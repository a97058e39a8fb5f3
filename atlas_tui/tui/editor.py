"""The user's editor ($VISUAL, else $EDITOR): a passage's file opened at the passage's line, or a
question written there (the query box's ctrl+e).

The app is suspended while the editor runs (it owns the terminal); a missing editor, file or
terminal gives a one-line notice instead (toasts pass the app's terminal filter).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
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
        app.notify(f"The file is not there any more: {path}", severity="warning", markup=False)
        return
    run_editor(app, path, passage.line_start)


def edit_text(app: App[object], text: str) -> str | None:
    """`text` as written in the editor (a temporary Markdown file, removed after); None when the
    editor could not run or did not finish well (a notice says why)."""
    with tempfile.TemporaryDirectory(prefix="atlas-question-") as folder:
        path = Path(folder) / "question.md"
        path.write_text(text, encoding="utf-8")
        if not run_editor(app, str(path)):
            return None
        return path.read_text(encoding="utf-8", errors="replace")


def run_editor(app: App[object], path: str, line: int = 0) -> bool:
    """Run the editor on `path` (at `line`), the app suspended meanwhile; False (after a
    notice) when there is none, it could not run or it failed."""
    command = editor_command(path, line)
    if not command:
        app.notify(
            "No editor is set: set $VISUAL or $EDITOR (e.g. export EDITOR=vim).",
            severity="warning",
            markup=False,
        )
        return False
    try:
        try:
            with app.suspend():
                result = subprocess.run(command, check=False)
        except SuspendNotSupported:
            if not app.is_headless:
                app.notify("This terminal cannot hand over to an editor.", severity="warning")
                return False
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
        app.notify(f"Cannot run the editor {command[0]!r}: {error}", severity="error", markup=False)
        return False
    if result.returncode != 0:
        app.notify(
            f"The editor {command[0]!r} exited with status {result.returncode}.",
            severity="warning",
            markup=False,
        )
        return False
    return True
