"""The real TUI in tmux over a session whose every stored field is hostile: the raw bytes the app
writes to the terminal (tmux pipe-pane) hold no escape sequence but Textual's own drawing.

Textual draws with CSI sequences (cursor, colours, modes) and OSC 22 (the pointer's shape);
everything else an ESC could start (OSC: clipboard, title; DCS; two-byte escapes) or a C1, bidi or
invisible character must never appear.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from atlas_tui.sessions import SessionStore
from tests.hostile.cli_corpus import hostile_turn, unsafe
from tests.tmux import COMMAND, EXIT_LINE, Terminal, requires_tmux

pytestmark = requires_tmux

# What Textual draws with: CSI sequences, and OSC 22 for the mouse pointer's shape.
TEXTUAL = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\]22;[a-z-]*(?:\x07|\x1b\\)")


def test_hostile_session_and_search_write_no_foreign_escape(
    terminal: Terminal, tmp_path: Path
) -> None:
    with SessionStore(terminal.env["ATLAS_SESSIONS_PATH"]) as store:
        session_id = hostile_turn(store)
    raw = tmp_path / "raw.bin"
    # the shell waits a moment so that the pipe is attached before the app draws anything
    terminal.start(f"sleep 1; {shlex.quote(str(COMMAND))} --resume {session_id}")
    terminal.tmux("pipe-pane", "-t", terminal.session, "-o", f"cat >> {shlex.quote(str(raw))}")
    terminal.wait_for(lambda s: "quokka answer" in s, "the hostile session reopened")

    terminal.send("C-l")  # the sessions screen: titles and match snippets from the DB
    terminal.wait_for(lambda s: "Last used" in s and "Search" in s, "the sessions screen")
    terminal.send("/")  # keys wait in the terminal until the app reads them: none is lost
    terminal.send("quokka", literal=True)
    typed = lambda s: any("▊" in line and "quokka" in line for line in s.splitlines()[:4])  # noqa: E731
    terminal.wait_for(typed, "the search text typed")
    # the box, the title and the snippet of the match: the search ran and its rows are drawn
    terminal.wait_for(lambda s: s.lower().count("quokka") >= 3, "the match and its snippet")
    terminal.send("Escape")  # leaves the search box (clearing it) ...
    terminal.wait_for(lambda s: not typed(s), "the search cleared")
    terminal.send("Escape")  # ... then the screen
    terminal.wait_for(lambda s: "Last used" not in s, "the main screen again")
    terminal.send("C-q")
    terminal.wait_for(lambda s: bool(EXIT_LINE.search(s)), "the exit", timeout=30)
    assert terminal.exit_status() == 0

    written = raw.read_bytes()
    assert b"Quokka" in written  # the hostile session was drawn, its escapes removed
    drawn = TEXTUAL.sub(b"", written)
    foreign = sorted({drawn[i : i + 2] for i in range(len(drawn)) if drawn[i] == 0x1B})
    assert foreign == [], f"escape sequences other than Textual's own: {foreign}"
    assert unsafe(drawn.replace(b"\r", b"").replace(b"\x07", b"")) == []
    assert b"Traceback" not in written
