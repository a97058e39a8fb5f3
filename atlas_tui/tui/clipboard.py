"""Copying to the system clipboard: a clipboard tool when one is installed, else only OSC 52.

OSC 52 asks the terminal to set the clipboard; it may never arrive (tmux without set-clipboard,
many terminals over ssh), so the app says plainly when it was the only way tried.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

TIMEOUT_S = 2.0


@dataclass(frozen=True)
class Copied:
    tool: str  # the tool that took the text; "" when none did (only OSC 52 was tried)
    problem: str = ""  # why an installed tool failed


def clipboard_tools() -> list[list[str]]:
    """The clipboard commands usable in this session, best first."""
    candidates: list[tuple[bool, list[str]]] = [
        (sys.platform == "darwin", ["pbcopy"]),
        (bool(os.environ.get("WAYLAND_DISPLAY")), ["wl-copy"]),
        (bool(os.environ.get("DISPLAY")), ["xclip", "-selection", "clipboard"]),
        (bool(os.environ.get("DISPLAY")), ["xsel", "--clipboard", "--input"]),
    ]
    return [command for usable, command in candidates if usable and shutil.which(command[0])]


def system_copy(text: str, tools: list[list[str]] | None = None) -> Copied:
    """Give `text` to the first clipboard tool that takes it (each bounded by a timeout)."""
    problems = []
    for command in clipboard_tools() if tools is None else tools:
        try:
            subprocess.run(
                command,
                input=text.encode("utf-8"),
                timeout=TIMEOUT_S,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        except subprocess.TimeoutExpired:
            problems.append(f"{command[0]} did not finish within {TIMEOUT_S:.0f} s")
        except subprocess.CalledProcessError as error:
            reason = error.stderr.decode("utf-8", "replace").strip().splitlines()
            problems.append(f"{command[0]} failed: {reason[-1] if reason else error.returncode}")
        except OSError as error:
            problems.append(f"{command[0]}: {error.strerror or error}")
        else:
            return Copied(command[0])
    return Copied("", "; ".join(problems))
