"""Counting the processes of a test's `atlas-tui serve` (Linux /proc): its app processes, and every
process left in its process group."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def _stat(pid: str) -> tuple[int, int, str] | None:
    """(parent pid, process group, state) of a process, or None once it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (command name) "
    return int(fields[1]), int(fields[2]), fields[0]


def _live() -> dict[int, tuple[int, int]]:
    """Every live process (zombies excluded): pid -> (parent pid, process group)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (stat := _stat(entry.name)) is not None and stat[2] != "Z":
            found[int(entry.name)] = stat[:2]
    return found


def app_pids(server_pid: int) -> list[int]:
    """The app processes a server started (its children running atlas_tui.cli)."""
    apps = []
    for pid, (parent, _group) in _live().items():
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if parent == server_pid and b"atlas_tui.cli" in command:
            apps.append(pid)
    return sorted(apps)


def group_pids(group: int) -> list[int]:
    """The live processes of a process group (a server started in a session of its own)."""
    return sorted(pid for pid, (_parent, pgid) in _live().items() if pgid == group)


def alive(pid: int) -> bool:
    stat = _stat(str(pid))
    return stat is not None and stat[2] != "Z"


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> float:
    """Poll `condition` until it holds; the seconds that took (fails the test past `timeout_s`)."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"{what}: not within {timeout_s:g} s")
        time.sleep(0.1)
    return time.monotonic() - started
