"""How the CLI prints: text through one terminal filter (`say`), JSON that is safe on a terminal,
one-line errors, counts in words, and files written with a one-line error when they cannot be.

What the verbs print comes from documents, file names, the sessions database and servers: every
line of it passes `say` (or `print_json`), the CLI's one way to the terminal."""

from __future__ import annotations

import errno
import json
import sys
from pathlib import Path
from typing import Any

from atlas_tui.errors import AtlasError
from atlas_tui.safety import display_path, json_safe, terminal_safe
from atlas_tui.text import one_line

__all__ = ["count", "one_line", "print_error", "print_json", "say", "write_file"]


def print_json(data: Any) -> None:
    """JSON on stdout, with any control or invisible character escaped (same value decoded)."""
    print(json_safe(json.dumps(data, indent=2, ensure_ascii=False)))


def say(text: str, *, err: bool = False, end: str = "\n") -> None:
    """`text` on stdout (stderr with `err`), cleaned of escape sequences and invisible
    characters."""
    print(terminal_safe(text), file=sys.stderr if err else sys.stdout, end=end, flush=err)


def print_error(error: AtlasError) -> None:
    """The error and its hint, on one line of stderr."""
    say(f"atlas-tui: {one_line(error.describe())}", err=True)


def count(number: int, noun: str) -> str:
    """ "1 turn", "2 turns"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def write_file(path: Path, text: str) -> None:
    """Write `text` to `path`, or raise an AtlasError saying in one line why it cannot be."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        if isinstance(exc, IsADirectoryError) or path.is_dir():
            reason = "it is a folder; name a file inside it"
        elif isinstance(exc, FileNotFoundError) and not path.parent.is_dir():
            reason = f"the folder {display_path(path.parent)} does not exist"
        elif isinstance(exc, PermissionError):
            reason = "permission denied"
        elif exc.errno == errno.ENOSPC:
            reason = "the disk is full"
        else:
            reason = exc.strerror or str(exc)
        raise AtlasError(f"Cannot write {display_path(path)}: {reason}.") from exc
