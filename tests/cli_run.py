"""The real `atlas-tui` command in a subprocess, for the tests that drive it end to end."""

from __future__ import annotations

import os
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


def isolated_env(research_index: str, tmp_path: Path) -> dict[str, str]:
    """This machine's environment without its atlas-tui and Anthropic settings: its own data
    folder and (empty) config file under `tmp_path`, over `research_index`, offline."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ANTHROPIC_", "ATLAS_")) and key != "SKIP_API_KEY_CHECK"
    }
    (tmp_path / "config.toml").write_text("")  # a config file that is named must exist
    env.update(
        ATLAS_DB_PATH=research_index,
        ATLAS_DATA_DIR=str(tmp_path / "data"),
        ATLAS_CONFIG=str(tmp_path / "config.toml"),
        HF_HUB_OFFLINE="1",
        LANCEDB_LOG="error",
    )
    return env
