"""Helpers for the knowledge tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

UNPRIVILEGED_TIMEOUT_S = 120  # how long work done as nobody may take


def run_script(script: str, *args: str) -> Any:
    """Run `script` in a fresh interpreter (as root: it may import everything first, then drop
    to nobody) that prints its result as JSON on its last line; return that result."""
    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        capture_output=True,
        text=True,
        timeout=UNPRIVILEGED_TIMEOUT_S + 60,
        env={**os.environ, "PYTHONPATH": str(repo)},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])
