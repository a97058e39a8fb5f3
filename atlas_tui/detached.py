"""Keeping an ingest going after the app quits: `atlas-tui ingest` in a process of its own.

The TUI's "quit while ingesting" dialog offers "keep it going": the app stops its own ingest
after the batch in hand (what was written stays), starts `continue_detached`, and quits. The new
process (its own session: the terminal closing does not end it) takes the index's writer lock
once the app has let go of it, then reads the named paths again (files already written are
unchanged and skipped) or, with no paths, embeds what awaits a vector; its output goes to a log
file. Nothing here imports the index: the settings become the command's flags.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from atlas_tui.config import Settings, user_data_dir


@dataclass(frozen=True)
class Detached:
    process: subprocess.Popen[bytes]
    log: Path  # where its progress and closing report go
    command: list[str]


def ingest_command(
    settings: Settings, paths: Sequence[str] = (), config_file: str | None = None
) -> list[str]:
    """`atlas-tui ingest` for these settings: the same index, model, encoder and engine."""
    command = [sys.executable, "-m", "atlas_tui.cli", "ingest", *paths]
    command += ["--db", settings.resolved_db_path, "--collection", settings.collection]
    command += ["--embedding-model", settings.embedding_model, "--encoder", settings.encoder]
    command += ["--engine", settings.ingest_engine]
    if settings.ray_address:
        command += ["--ray-address", settings.ray_address]
    if config_file:
        command += ["--config", config_file]
    return command


def continue_detached(
    settings: Settings, paths: Sequence[str] = (), config_file: str | None = None
) -> Detached:
    """Start `ingest_command` in its own session, its output in a new log file under the user
    data dir (`logs/ingest-<time>.log`)."""
    logs = user_data_dir() / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"ingest-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    command = ingest_command(settings, paths, config_file)
    with log.open("wb") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Detached(process, log, command)
