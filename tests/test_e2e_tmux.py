"""End to end: the real `atlas-tui` command in a real terminal (tmux), driven by keystrokes.

A question is typed, and its answer and documents are read back from the screen; then ctrl+q
quits and the process must end cleanly. Skipped when tmux is not installed.
"""

from __future__ import annotations

import re
import shlex
import subprocess

from tests.tmux import COMMAND, EXIT_LINE, Terminal, requires_tmux

pytestmark = requires_tmux

QUESTION = "What is the trimodal methodology in Atlas?"


def test_ask_in_a_real_terminal_and_quit(terminal: Terminal) -> None:
    assert COMMAND.exists(), f"the console script is missing: {COMMAND}"
    terminal.start(shlex.quote(str(COMMAND)))

    terminal.wait_for(lambda s: "Transcript" in s and "Documents" in s, "the first paint")
    terminal.send(QUESTION, literal=True)
    terminal.send("Enter")

    screen = terminal.wait_for(
        lambda s: "holistic" in s and "trimodal.md" in s, "the answer and its documents"
    )
    assert f"› {QUESTION}" in screen  # the question, as asked
    assert "●[1] Trimodal methodology" in screen  # document 1 is listed, marked as cited
    assert "offline extractive" in screen  # the answer is labelled as the offline kind
    assert "Traceback" not in screen

    terminal.send("C-q")
    screen = terminal.wait_for(lambda s: bool(EXIT_LINE.search(s)), "the exit", timeout=30)
    assert terminal.exit_status() == 0, screen


def stored_turns(terminal: Terminal) -> int:
    """How many turns the sessions DB holds, read by the real `atlas-tui sessions` verb."""
    done = subprocess.run(
        [str(COMMAND), "sessions"], env=terminal.env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return sum(int(n) for n in re.findall(r"(\d+) turns?", done.stdout))


def test_typing_with_the_documents_pane_focused_and_keys_behind_the_sessions_screen(
    terminal: Terminal,
) -> None:
    terminal.start(shlex.quote(str(COMMAND)))
    terminal.wait_for(lambda s: "Transcript" in s and "Documents" in s, "the first paint")
    terminal.wait_for(lambda s: "index:" in s and "warming" not in s, "the model to warm")

    terminal.send("F4")  # the documents pane has focus: typing still asks
    terminal.send(QUESTION, literal=True)
    terminal.send("Enter")
    terminal.wait_for(lambda s: "holistic" in s and "trimodal.md" in s, "the answer")

    terminal.send("C-l")
    screen = terminal.wait_for(lambda s: "Last used" in s, "the sessions screen")
    assert "^r" not in screen and "^s" not in screen  # the footer lists this screen's keys
    terminal.send("C-s")
    terminal.send("C-r")
    terminal.send("/")  # then keys this screen does act on: once they show, the two above were
    terminal.send("zzmark", literal=True)  # handled too (keys are handled in order)
    terminal.wait_for(lambda s: "zzmark" in s, "the keys after ctrl+s and ctrl+r")
    terminal.send("Escape")  # clears the search
    terminal.send("Escape")  # leaves the sessions screen
    screen = terminal.wait_for(
        lambda s: "Last used" not in s and "mode: " in s and "^r" in s,
        "the main screen again, drawn whole (status line and footer)",
    )
    assert "mode: hybrid" in screen  # ctrl+s did not cycle the mode behind the list
    terminal.send("C-q")
    terminal.wait_for(lambda s: bool(EXIT_LINE.search(s)), "the exit", timeout=30)
    assert terminal.exit_status() == 0
    assert stored_turns(terminal) == 1  # ctrl+r regenerated nothing behind the list
