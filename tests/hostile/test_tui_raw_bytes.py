"""The real TUI in tmux over a session whose every stored field is hostile: the raw bytes the app
writes to the terminal (tmux pipe-pane) hold no escape sequence but Textual's own drawing.

Textual draws with CSI sequences (cursor, colours, modes) and OSC 22 (the pointer's shape);
everything else an ESC could start (OSC: clipboard, title; DCS; two-byte escapes) or a C1, bidi or
invisible character must never appear.
"""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path

from atlas_tui.sessions import SessionStore
from tests.hostile.cli_corpus import unsafe
from tests.hostile.test_cli_hostile import hostile_turn
from tests.test_e2e_tmux import COMMAND, EXIT_LINE, Terminal, pytestmark, terminal  # noqa: F401

# What Textual draws with: CSI sequences, and OSC 22 for the mouse pointer's shape.
TEXTUAL = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\]22;[a-z-]*(?:\x07|\x1b\\)")


def test_hostile_session_and_search_write_no_foreign_escape(
    terminal: Terminal,  # noqa: F811 - the e2e fixture, imported above
    tmp_path: Path,
) -> None:
    with SessionStore(terminal.env["ATLAS_SESSIONS_PATH"]) as store:
        session_id = hostile_turn(store)
    raw = tmp_path / "raw.bin"
    # the shell waits a moment so that the pipe is attached before the app draws anything
    terminal.start(f"sleep 1; {shlex.quote(str(COMMAND))} --resume {session_id}")
    terminal.tmux("pipe-pane", "-t", terminal.session, "-o", f"cat >> {shlex.quote(str(raw))}")
    terminal.wait_for(lambda s: "quokka answer" in s, "the hostile session reopened")

    terminal.send("C-l")  # the sessions screen: titles and match snippets from the DB
    terminal.wait_for(lambda s: "Last used" in s, "the sessions screen")
    typed = lambda s: any("▊" in line and "quokka" in line for line in s.splitlines()[:4])  # noqa: E731
    for _ in range(5):  # keys sent while the screen still mounts may land before its search box
        terminal.send("/")
        time.sleep(0.5)
        terminal.send("quokka", literal=True)
        time.sleep(2)
        if typed(terminal.screen()):
            break
    terminal.wait_for(typed, "the search text typed")
    time.sleep(1)  # let the matches and their snippets be drawn: no event to await in a foreign app
    for _ in range(3):  # Esc leaves the search box first, then the screen
        terminal.send("Escape")
        time.sleep(0.5)
        if "Last used" not in terminal.screen():
            break
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
