"""The real `atlas-tui` command in a real terminal (tmux), for the tests that drive it by keys: a
detached session on its own server socket, its screen read back with capture-pane."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli_run import isolated_env

requires_tmux = pytest.mark.skipif(
    shutil.which("tmux") is None, reason="tmux is not installed (apt-get install tmux)"
)

COMMAND = Path(sys.executable).parent / "atlas-tui"
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


def terminal_env(research_index: str, tmp_path: Path) -> dict[str, str]:
    """The environment of the app in a terminal: `isolated_env`, its own sessions, no outer
    tmux."""
    env = isolated_env(research_index, tmp_path)
    env = {k: v for k, v in env.items() if not k.startswith("TMUX")}
    env.update(
        TERM="xterm-256color",
        ATLAS_SESSIONS_PATH=str(tmp_path / "sessions.sqlite3"),
        TRANSFORMERS_OFFLINE="1",
    )
    return env
