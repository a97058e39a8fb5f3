"""The real `atlas-tui` command in a subprocess: ingest, search, stats, ask, sessions, export."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas_tui.sessions import SessionStore
from tests.fake_anthropic import FakeAnthropic, Reply

TIMEOUT = 180


def atlas(*args: str, env: dict[str, str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "atlas_tui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def env(research_index: str, tmp_path: Path) -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        ATLAS_DB_PATH=research_index,
        ATLAS_SESSIONS_PATH=str(tmp_path / "sessions.sqlite3"),
        LANCEDB_LOG="error",
        HF_HUB_OFFLINE="1",
    )
    return values


def test_ingest_reports_skips_and_json(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "guide.md").write_text("# Guide\n\nInstalling the widget takes two screws.\n")
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.7\nthis is not really a pdf")
    (corpus / "empty.txt").write_text("")
    env["ATLAS_DB_PATH"] = str(tmp_path / "db")
    result = atlas("ingest", str(corpus), str(tmp_path / "missing"), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["files_added"] == 1 and report["ok"]
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert {"broken.pdf", "empty.txt", "missing"} <= set(skipped)
    assert "Traceback" not in result.stderr

    again = atlas("ingest", str(corpus), env=env)
    assert again.returncode == 0 and "1 unchanged" in again.stdout
    assert "broken.pdf" in again.stdout  # the skip report, in words

    nothing = atlas("ingest", str(tmp_path / "missing"), env=env)
    assert nothing.returncode == 1 and "Nothing could be ingested" in nothing.stdout


def test_search_and_stats(env: dict[str, str]) -> None:
    result = atlas("search", "espresso descaling", "--json", "--limit", "2", env=env)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows[0]["source"] == "notes/it's a café.md" and rows[0]["rank"] == 1
    assert {"score", "title", "heading", "text", "chunk_id", "start", "end"} <= set(rows[0])
    stats = json.loads(atlas("stats", "--json", env=env).stdout)
    assert stats["documents"] == 3 and stats["embedding_model"] == "all-MiniLM-L6-v2"


def test_ask_offline_then_sessions_and_export(env: dict[str, str], tmp_path: Path) -> None:
    result = atlas("ask", "What is the trimodal methodology in Atlas?", env=env)
    assert result.returncode == 0, result.stderr
    answer, _, sources = result.stdout.partition("Sources:")
    assert "extractive" in answer.lower() and "[1]" in answer
    assert "[1] trimodal.md" in sources

    lines = atlas("ask", "lamp wick", "--json", "--session", "last", env=env).stdout.splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["event"] == "retrieved" and events[-1]["event"] == "done"
    assert {e["event"] for e in events[1:-1]} == {"delta"}

    listing = atlas("sessions", env=env)
    assert "2 turns" in listing.stdout and "trimodal" in listing.stdout.lower()
    exported = atlas("export", "last", "--format", "md", env=env).stdout
    assert "What is the trimodal methodology in Atlas?" in exported
    assert "lamp wick" in exported and "trimodal.md" in exported


def test_ask_with_a_rejected_key_is_a_clear_error(
    env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply(status=401))
    env.update(ANTHROPIC_API_KEY="sk-bad", ANTHROPIC_BASE_URL=fake_anthropic.base_url)
    result = atlas("ask", "lighthouse", env=env)
    assert result.returncode == 1
    assert "ANTHROPIC_API_KEY" in result.stderr and "Traceback" not in result.stderr


def test_sigkill_mid_answer_keeps_question_documents_and_partial_answer(
    env: dict[str, str], fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply.text("The keeper trims ", "the wick nightly", fault="stall"))
    env.update(ANTHROPIC_API_KEY="sk-test", ANTHROPIC_BASE_URL=fake_anthropic.base_url)
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas_tui.cli", "ask", "What does a lighthouse keeper do?"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert fake_anthropic.stalled.wait(TIMEOUT), "the answer never started streaming"
        store_path = Path(env["ATLAS_SESSIONS_PATH"])
        deadline = time.monotonic() + 10  # the answer is stored at least once a second
        while time.monotonic() < deadline:
            with SessionStore(store_path) as store:
                turn = store.load_session(store.last_session_id()).turns[0]
            if turn.answer == "The keeper trims the wick nightly":
                break
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    with SessionStore(store_path) as store:
        session = store.load_session(store.last_session_id())
    turn = session.turns[0]
    assert turn.question == "What does a lighthouse keeper do?"
    assert turn.documents and turn.documents[0].source == "lighthouse.md"
    assert turn.answer == "The keeper trims the wick nightly"
    assert turn.status == "interrupted"
