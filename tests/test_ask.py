"""`atlas-tui ask` as a user runs it: a real subprocess, over a real index, against the fake API.

Ctrl+C is a real SIGINT; the sessions database is read back with the real store.
"""

from __future__ import annotations

import json
import os
import pty
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from atlas_tui.sessions import SessionStore
from tests.cli_run import isolated_env
from tests.fake_anthropic import FakeAnthropic, Reply

QUESTION = "What is the trimodal methodology in Atlas?"
TIMEOUT = 120  # seconds: a run imports torch and loads the model on a busy machine


@pytest.fixture
def env(research_index: str, tmp_path: Path) -> dict[str, str]:
    return {**isolated_env(research_index, tmp_path), "PYTHONUNBUFFERED": "1"}


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "atlas_tui.cli", "ask", *args]


def ask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args), env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def sessions(env: dict[str, str]) -> SessionStore:
    return SessionStore(Path(env["ATLAS_DATA_DIR"]) / "sessions.sqlite3")


def claude_env(
    env: dict[str, str], server: FakeAnthropic, timeout: float = 30, retries: int = 2
) -> dict[str, str]:
    Path(env["ATLAS_CONFIG"]).write_text(f"request_timeout = {timeout}\nmax_retries = {retries}\n")
    return {**env, "ANTHROPIC_API_KEY": "sk-test", "ANTHROPIC_BASE_URL": server.base_url}


def one_line_error(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- arguments and the sessions database ------------------------------------------------------


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_a_blank_question_is_a_one_line_error_and_records_nothing(env, question: str) -> None:
    result = ask(env, question)

    assert result.returncode == 2
    assert "question is empty" in one_line_error(result.stderr)
    assert result.stdout == ""
    assert not (Path(env["ATLAS_DATA_DIR"]) / "sessions.sqlite3").exists()


def test_an_answer_is_recorded_unless_no_save(env) -> None:
    saved = ask(env, QUESTION)
    assert saved.returncode == 0, saved.stderr
    unsaved = ask(env, "--no-save", "Who trims the lamp wick?")
    assert unsaved.returncode == 0, unsaved.stderr
    assert "lamp wick" in unsaved.stdout

    with sessions(env) as store:
        listed = store.list_sessions()
        assert [s.title for s in listed] == [QUESTION]
        (turn,) = store.load_session(listed[0].id).turns
    assert turn.status == "done"
    assert "bottom-up implementation" in turn.answer


def test_an_unusable_sessions_database_still_answers_unsaved_with_a_warning(
    env, tmp_path: Path
) -> None:
    broken = tmp_path / "not-a-database.sqlite3"
    broken.write_bytes(b"this is not SQLite, just bytes that look nothing like it" * 100)
    env["ATLAS_SESSIONS_PATH"] = str(broken)

    result = ask(env, QUESTION)

    assert result.returncode == 0, result.stderr
    assert "bottom-up implementation" in result.stdout
    warning = one_line_error(result.stderr)
    assert warning.startswith("atlas-tui: warning: the answer is not saved")
    assert broken.read_bytes().startswith(b"this is not SQLite")  # left as it was


# --- rendering ----------------------------------------------------------------------------------


def test_piped_output_is_the_plain_markdown(env) -> None:
    result = ask(env, QUESTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("_Offline extractive answer")
    assert "\n> " in result.stdout and "[1]" in result.stdout
    assert "\x1b" not in result.stdout


def run_in_terminal(env: dict[str, str], *args: str) -> str:
    """The bytes `ask` writes to a pseudo-terminal, decoded."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        command(*args),
        env={**env, "TERM": "xterm-256color", "COLUMNS": "100"},
        stdin=follower,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 1)
        if ready:
            try:
                data = os.read(leader, 65536)
            except OSError:  # the terminal closed: the process is gone
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    os.close(leader)
    assert process.wait(10) == 0
    return b"".join(chunks).decode("utf-8", "replace")


def test_on_a_terminal_the_answer_is_rendered_markdown(env) -> None:
    shown = run_in_terminal(env, QUESTION)

    assert "\x1b[" in shown  # styled by Rich
    assert "_Offline extractive answer" not in shown  # the italics are rendered, not shown raw
    assert "Offline extractive answer" in shown
    assert "\n> " not in shown.replace("\r\n", "\n")  # the quotes are rendered as quotes
    assert "bottom-up" in shown and "[1]" in shown


def test_json_stays_plain_json(env) -> None:
    result = ask(env, "--json", QUESTION)

    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "retrieved"
    assert events[-1]["event"] == "done" and events[-1]["extractive"] is True


# --- SKIP_API_KEY_CHECK ---------------------------------------------------------------------------


def test_skip_api_key_check_without_a_base_url_answers_offline(env) -> None:
    env["SKIP_API_KEY_CHECK"] = "true"

    result = ask(env, "--json", QUESTION)

    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.splitlines()[-1])
    assert done["event"] == "done" and done["extractive"] is True


def test_skip_api_key_check_with_a_base_url_asks_claude_without_a_key(env) -> None:
    with FakeAnthropic() as server:
        server.script(Reply.text("Through the gateway."))
        env.update(SKIP_API_KEY_CHECK="true", ANTHROPIC_BASE_URL=server.base_url)
        result = ask(env, QUESTION)
    assert result.returncode == 0, result.stderr
    assert "Through the gateway." in result.stdout
    (request,) = server.requests
    assert "x-api-key" not in {k.lower() for k in request.headers}


# --- what a failed answer says ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "said", "kept"),
    [
        (
            Reply(status=401, error_message="invalid x-api-key"),
            "atlas-tui: The API rejected the key: invalid x-api-key\n"
            "Check ANTHROPIC_API_KEY; without a key atlas-tui answers offline (extractive).",
            "",
        ),
        (
            Reply(status=529, error_message="Overloaded"),
            "atlas-tui: The API is overloaded.\nTry again in a minute.",
            "",
        ),
        (
            Reply.text("The first half ", "of an answer", fault="drop"),
            "atlas-tui: The connection dropped mid-answer.\nAsk again to retry.",
            "The first half of an answer",
        ),
    ],
    ids=["rejected-key", "overloaded", "dropped-mid-answer"],
)
def test_a_failed_answer_says_what_happened_once_and_what_to_do(env, reply, said, kept) -> None:
    """Each phrase once (no "The API is overloaded: The API is overloaded: Overloaded"), and a
    stream cut after it began is an interruption, never "could not connect", whichever exception
    class the SDK release in use wraps the cut in."""
    with FakeAnthropic() as server:
        server.script(reply)
        result = ask(claude_env(env, server, retries=0), QUESTION, "--no-save")
    assert result.returncode == 1
    assert result.stderr.strip() == said
    assert result.stdout.startswith(kept)  # what streamed is kept on screen


# --- Ctrl+C and a silent server -----------------------------------------------------------------


def interrupt_when(process: subprocess.Popen[str], ready: bool) -> float:
    """Send SIGINT once `ready`; return the seconds the process took to exit."""
    assert ready, "the scenario never reached the point to interrupt"
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("ask ignored Ctrl+C for 10 s")
    return time.monotonic() - sent


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def stored_turn(env: dict[str, str]):
    with sessions(env) as store:
        (turn,) = store.load_session("last").turns
    return turn


def test_ctrl_c_while_the_server_never_answers(env) -> None:
    with FakeAnthropic() as server:
        server.script(Reply(fault="no_response"))
        process = start(claude_env(env, server), QUESTION)
        took = interrupt_when(process, server.wait_for_requests(1, timeout=TIMEOUT))
        out, _err = process.communicate(timeout=10)

    assert took < 1.5
    assert process.returncode == 130
    assert "[cancelled]" in out
    turn = stored_turn(env)
    assert turn.status == "cancelled"


def read_until(process: subprocess.Popen[str], text: str) -> str:
    """What the process printed, read until it printed `text` (or a timeout)."""
    assert process.stdout is not None
    seen = b""
    deadline = time.monotonic() + TIMEOUT
    while text.encode() not in seen and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 1)
        if ready:
            chunk = os.read(process.stdout.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    return seen.decode()


def test_ctrl_c_during_a_stalled_stream_keeps_the_partial_text(env) -> None:
    with FakeAnthropic() as server:
        server.script(Reply.text("The partial ", "answer", fault="stall"))
        process = start(claude_env(env, server), QUESTION)
        shown = read_until(process, "The partial answer")
        took = interrupt_when(process, server.stalled.is_set() and "partial answer" in shown)
        rest, _err = process.communicate(timeout=10)
        out = shown + rest

    assert took < 1.5
    assert process.returncode == 130
    assert "The partial answer" in out
    turn = stored_turn(env)
    assert turn.status == "cancelled"
    assert turn.answer == "The partial answer"


def question_stored(process: subprocess.Popen[str], env: dict[str, str]) -> bool:
    """Wait until the question is in the sessions database: it is stored before retrieval
    starts, and retrieval (loading the model, searching) takes seconds after it."""
    path = Path(env["ATLAS_DATA_DIR"]) / "sessions.sqlite3"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if path.exists():
            # Read only, so as not to race the process creating the schema.
            try:
                with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
                    if db.execute("SELECT count(*) FROM turns").fetchone()[0]:
                        return True
            except sqlite3.OperationalError:  # not created yet, or locked for a moment
                pass
        time.sleep(0.02)
    return False


def test_ctrl_c_during_retrieval(env) -> None:
    # Retrieval (importing torch, loading the model) takes seconds, but on a loaded machine the
    # question can be seen stored late, and a SIGINT that lands after the answer is complete
    # only hits the interpreter's exit (killed by SIGINT, as any finished program would be):
    # that run did not test Ctrl+C during retrieval, so it is tried again (3 runs at most).
    for attempt in range(3):
        if attempt:
            shutil.rmtree(Path(env["ATLAS_DATA_DIR"]))
        process = start(env, QUESTION)
        took = interrupt_when(process, question_stored(process, env))
        out, err = process.communicate(timeout=10)
        if "Sources:" not in out:
            break
    else:
        pytest.fail("the answer was complete before every Ctrl+C: retrieval was never interrupted")

    assert took < 1.5
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert out.strip() == "[cancelled]"
    # The question stays, never left "streaming": cancelled, or interrupted when the Ctrl+C came
    # while the turn was being created (the store marks an unfinished turn so as it closes).
    assert stored_turn(env).status in ("cancelled", "interrupted")


def test_a_silent_server_is_given_up_after_the_timeout_not_three_times_it(env) -> None:
    with FakeAnthropic() as server:
        server.script(*[Reply(fault="no_response")] * 3)
        env = claude_env(env, server, timeout=2)
        server_env_started = time.monotonic()
        process = start(env, QUESTION)
        assert server.wait_for_requests(1, timeout=TIMEOUT)
        asked = time.monotonic()
        out, _err = process.communicate(timeout=TIMEOUT)
        waited = time.monotonic() - asked
        requests = len(server.requests)

    assert process.returncode == 0  # given up on: the offline answer, saying why
    assert out.startswith("*Claude is not answering (")
    assert "did not answer within 2 s" in out and "_Offline extractive answer" in out
    assert requests == 1
    assert 1.5 < waited < 4.5, (waited, time.monotonic() - server_env_started)
