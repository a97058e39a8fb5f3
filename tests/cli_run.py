"""The real `atlas-tui` command in a subprocess, for the tests that drive it end to end."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

CLI = (sys.executable, "-m", "atlas_tui.cli")
TIMEOUT_S = 180  # a verb that loads the model, on a busy machine


def run_cli(
    *args: str, env: Mapping[str, str], timeout: float, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `atlas-tui ARGS` to the end (bounded by `timeout`), its output captured as text."""
    return subprocess.run(
        [*CLI, *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, env: Mapping[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start `atlas-tui ARGS` in the background, its output piped as text."""
    return subprocess.Popen(
        [*CLI, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        cwd=cwd,
    )


def atlas(
    *args: str, env: Mapping[str, str], timeout: float = TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    """`atlas-tui ARGS` run to the end: what most CLI tests need."""
    return run_cli(*args, env=env, timeout=timeout)
