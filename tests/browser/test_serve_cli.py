"""`atlas-tui serve` on the command line: loopback unless told otherwise, and one-line errors."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import child_env


def serve(tmp_path: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atlas_tui.cli", "serve", *args],
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_another_host_is_refused_without_allow_remote(tmp_path: Path) -> None:
    result = serve(tmp_path, "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_allow_remote_warns_that_anyone_can_read_the_index(tmp_path: Path) -> None:
    with socket.socket() as taken:  # in use: the command warns, then stops without serving
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = serve(tmp_path, "--host", "0.0.0.0", "--allow-remote", "--port", port)
    assert "anyone who can reach port" in result.stderr
    assert "reverse proxy or SSH tunnel" in result.stderr
    assert "--public-url" in result.stderr
    assert result.returncode == 1
    assert f"cannot listen on 0.0.0.0:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--port", "0", "must be a port from 1 to 65535"),
        ("--port", "http", "must be a port from 1 to 65535"),
        ("--public-url", "atlas.example.com", "must be an http:// or https:// URL"),
        ("--max-sessions", "0", "must be a whole number from 1 to 64"),
        ("--max-sessions", "many", "must be a whole number from 1 to 64"),
    ],
)
def test_bad_values_get_a_one_line_error(tmp_path: Path, flag: str, value: str, says: str) -> None:
    result = serve(tmp_path, flag, value)
    assert result.returncode == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_session_fails_before_serving(tmp_path: Path) -> None:
    result = serve(tmp_path, "--resume", "no-such-session")
    assert result.returncode == 1
    assert "no session 'no-such-session'" in result.stderr
    assert "atlas-tui in the browser" not in result.stdout


def test_the_app_command_passes_the_tui_options_on() -> None:
    from atlas_tui.cli.main import build_parser
    from atlas_tui.cli.serve import app_command

    args = build_parser().parse_args(
        ["serve", "--db", "/data/my index", "--collection", "notes", "--mode", "keyword", "--new"]
    )
    command = app_command(args, None)
    assert command.startswith(f"exec {sys.executable} -m atlas_tui.cli ")  # no shell between
    assert "--db '/data/my index' --collection notes --mode keyword --new" in command
    resumed = app_command(build_parser().parse_args(["--db", "x", "serve"]), "abc123")
    assert resumed.endswith("--db x --resume abc123")


def test_a_token_too_short_to_keep_a_secret_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "atlas_tui.cli", "serve"],
        env={**child_env(tmp_path), "ATLAS_SERVE_TOKEN": "hunter2"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert "$ATLAS_SERVE_TOKEN must be at least 16 characters" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "hunter2" not in result.stderr
