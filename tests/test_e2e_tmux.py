"""End to end: the real `atlas-tui` command in a real terminal (tmux), driven by keystrokes.

A question is typed, and its answer and documents are read back from the screen; then ctrl+q
quits and the process must end cleanly. Skipped when tmux is not installed.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)

COMMAND = Path(sys.executable).parent / "atlas-tui"
QUESTION = "What is the trimodal methodology in Atlas?"
WIDTH, HEIGHT = 120, 40
EXITED = "[atlas-tui exited with status %s]"  # printed by the shell when the command ends
EXIT_LINE = re.compile(re.escape(EXITED).replace("%s", r"(\d+)"))
DEADLINE_S = 120.0  # the embedding model loads first; a busy machine makes that slow


class Terminal:
    """One detached tmux session on its own server socket."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"atlas-e2e-{uuid.uuid4().hex[:12]}"
        self.session = "atlas"
        self.env = env

    def tmux(self, *args: str) -> str:
        done = subprocess.run(
            ["tmux", "-L", self.socket, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return done.stdout

    def start(self, command: str) -> None:
        """Run `command` in a WIDTHxHEIGHT pane; when it ends, its exit status is printed there.

        The shell then stays (until the server is killed) so that the screen, with any last words
        of the command, stays readable: tmux 3.3 may lose a dead pane's last output and status.
        """
        shell = f"{command}; printf '{EXITED}\\n' \"$?\"; exec sleep 3600"
        size = ("-x", str(WIDTH), "-y", str(HEIGHT))
        self.tmux("-f", "/dev/null", "new-session", "-d", "-s", self.session, *size, shell)

    def exit_status(self) -> int | None:
        """The command's exit status once it has ended; None while it runs."""
        found = EXIT_LINE.search(self.screen())
        return int(found[1]) if found else None

    def send(self, *keys: str, literal: bool = False) -> None:
        self.tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", self.session).rstrip()

    def wait_for(
        self, condition: Callable[[str], bool], what: str, timeout: float = DEADLINE_S
    ) -> str:
        """The screen once `condition` holds for it; fails at the deadline or if the app ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.screen()
            if condition(text):
                return text
            if self.exit_status() is not None:
                text = self.screen()  # it may have ended just after the capture above
                if condition(text):
                    return text
                break
            time.sleep(0.25)  # polling a foreign process's screen: there is no event to await
        status = self.exit_status()
        ended = "timed out" if status is None else f"the command ended (status {status})"
        raise AssertionError(f"{ended} waiting for {what}; the screen showed:\n{self.screen()}")

    def kill(self) -> None:
        subprocess.run(
            ["tmux", "-L", self.socket, "kill-server"], env=self.env, capture_output=True
        )


@pytest.fixture
def terminal(research_index: str, tmp_path: Path) -> Iterator[Terminal]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "ATLAS_", "TMUX"))
    }
    (tmp_path / "config.toml").write_text("")  # a config file that is named must exist
    env.update(
        TERM="xterm-256color",
        ATLAS_DB_PATH=research_index,
        ATLAS_SESSIONS_PATH=str(tmp_path / "sessions.sqlite3"),
        ATLAS_DATA_DIR=str(tmp_path / "data"),
        ATLAS_CONFIG=str(tmp_path / "config.toml"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        LANCEDB_LOG="error",
    )
    term = Terminal(env)
    try:
        yield term
    finally:
        term.kill()


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
    time.sleep(2)  # give a wrongly bound key time to act: there is no event to await here
    terminal.send("Escape")
    screen = terminal.wait_for(
        lambda s: "Last used" not in s and "mode: " in s and "^r" in s,
        "the main screen again, drawn whole (status line and footer)",
    )
    assert "mode: hybrid" in screen  # ctrl+s did not cycle the mode behind the list
    terminal.send("C-q")
    terminal.wait_for(lambda s: bool(EXIT_LINE.search(s)), "the exit", timeout=30)
    assert terminal.exit_status() == 0
    assert stored_turns(terminal) == 1  # ctrl+r regenerated nothing behind the list
