"""The real `atlas-tui` command in a subprocess: ingest, search, stats, ask, sessions, export."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from atlas_tui.sessions import SessionStore
from tests.cli_run import atlas
from tests.fake_anthropic import FakeAnthropic, Reply
from tests.tmux import COMMAND, EXIT_LINE, Terminal, requires_tmux

TIMEOUT = 180


@pytest.fixture
def env(cli_env: dict[str, str]) -> dict[str, str]:
    return cli_env


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


def test_version_names_the_release_and_what_it_runs_on(env: dict[str, str]) -> None:
    from importlib import metadata

    result = atlas("--version", env=env, timeout=30)
    assert result.returncode == 0 and result.stderr == ""
    (line,) = result.stdout.splitlines()  # one line, however narrow the terminal
    assert line.startswith(f"atlas-tui {metadata.version('atlas-tui')} (Python 3.")
    for package in ("textual", "anthropic", "httpx2", "lancedb", "torch"):
        assert f"{package} {metadata.version(package)}" in line


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


# --- settings and arguments checked at the edge ---------------------------------------------------

# Minimal arguments of each verb; a verb not listed here runs with none (so a new verb is covered).
VERB_ARGS: dict[str, tuple[str, ...]] = {
    "": (),  # the TUI: a bad setting must stop it before it takes the terminal
    "ingest": ("ingest", "."),
    "search": ("search", "lamp"),
    "stats": ("stats",),
    "ask": ("ask", "What does a keeper do?"),
    "sessions": ("sessions",),
    "export": ("export", "last"),
}


def every_verb() -> list[tuple[str, ...]]:
    from atlas_tui.cli.main import build_parser

    parser = build_parser()
    verbs = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    return [VERB_ARGS[""], *(VERB_ARGS.get(verb, (verb,)) for verb in verbs)]


BAD_SETTINGS = [  # (how it is set, the value, words the error must contain)
    ("file", "max_results = 2.9", "max_results"),
    ("file", "max_retries = -1", "max_retries"),
    ("file", "request_timeout = 0", "request_timeout"),
    ("file", "context_token_budget = -10", "context_token_budget"),
    ("file", "min_relevance_score = nan", "min_relevance_score"),
    ("file", "history_turns = 1.5", "history_turns"),
    ("file", "skip_api_key_check = 'maybe'", "skip_api_key_check"),
    ("file", "colour = 'red'", "colour"),
    ("file", "max_results = [", "config file"),
    ("missing", "", "does not exist"),
    ("folder", "", "is a folder"),
    ("env", "ATLAS_SEARCH_MODE=fuzzy", "fuzzy"),
    ("env", "ATLAS_PROVIDER=openai", "openai"),
    ("flag", "--config=/nonexistent/atlas.toml", "does not exist"),
]


def assert_one_line_error(result: subprocess.CompletedProcess, *needles: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and result.stdout == "", result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert all(needle in lines[0] for needle in needles), lines[0]


@pytest.mark.parametrize(("how", "value", "needle"), BAD_SETTINGS, ids=lambda v: str(v)[:30])
def test_every_verb_refuses_a_bad_setting_in_one_line(
    env: dict[str, str], tmp_path: Path, how: str, value: str, needle: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(value if how == "file" else "")
    env["ATLAS_CONFIG"] = str(config)
    extra: list[str] = []
    if how == "missing":
        env["ATLAS_CONFIG"] = str(tmp_path / "missing.toml")
    elif how == "folder":
        env["ATLAS_CONFIG"] = str(tmp_path)
    elif how == "env":
        name, _, setting = value.partition("=")
        env[name] = setting
    elif how == "flag":
        extra = [value]
    for argv in every_verb():
        assert_one_line_error(atlas(*argv, *extra, env=env, timeout=60), needle)


@pytest.mark.parametrize(
    ("flag", "needle"),
    [
        ("--limit=0", "--limit: must be a whole number from 1 to 1000"),
        ("--limit=2.5", "--limit"),
        ("--limit=1001", "--limit"),
        ("--min-score=nan", "--min-score: must be a number from 0 to 1"),
        ("--min-score=-0.1", "--min-score"),
        ("--min-score=inf", "--min-score"),
        ("--mode=fuzzy", "--mode"),
    ],
)
def test_retrieval_flags_are_checked(env: dict[str, str], flag: str, needle: str) -> None:
    for verb in ("search", "ask"):
        assert_one_line_error(atlas(verb, "lamp", flag, env=env, timeout=60), needle)


def test_falsy_flags_are_used_not_ignored(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("min_relevance_score = 0.99\nmax_results = 1\n")
    env["ATLAS_CONFIG"] = str(config)
    strict = json.loads(atlas("search", "lamp wick", "--json", env=env).stdout)
    assert strict == []  # nothing scores 0.99
    loose = json.loads(atlas("search", "lamp wick", "--json", "--min-score", "0", "--limit", "3",
                             env=env).stdout)  # fmt: skip
    assert len(loose) == 3 and loose[0]["source"] == "lighthouse.md"


# --- sessions, export, resume ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def recorded_sessions(
    research_index: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str, str]:
    """A sessions file with two sessions recorded by `ask` (offline answerer), made once."""
    path = tmp_path_factory.mktemp("recorded") / "sessions.sqlite3"
    env = dict(os.environ, ATLAS_DB_PATH=research_index, ATLAS_SESSIONS_PATH=str(path))
    first = atlas("ask", "What does a lighthouse keeper do?", env=env)
    second = atlas("ask", "How is the espresso machine descaled?", env=env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    with SessionStore(path) as store:
        newest, oldest = (s.id for s in store.list_sessions())
    return path, oldest, newest


@pytest.fixture
def two_sessions(env: dict[str, str], recorded_sessions: tuple[Path, str, str]) -> tuple[str, str]:
    """A copy of the recorded sessions for this test: ids of the lighthouse and the café one."""
    path, lighthouse, cafe = recorded_sessions
    shutil.copyfile(path, env["ATLAS_SESSIONS_PATH"])
    return lighthouse, cafe


def test_sessions_search_shows_the_matching_turn(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    lighthouse, cafe = two_sessions
    hits = json.loads(atlas("sessions", "--search", "descaled", "--json", env=env).stdout)
    assert [(h["session_id"], h["position"]) for h in hits] == [(cafe, 1)]
    assert hits[0]["question"] == "How is the espresso machine descaled?"
    text = atlas("sessions", "--search", "wick", env=env).stdout
    question, snippet = text.splitlines()
    assert question.startswith(lighthouse) and "#1  What does a lighthouse keeper do?" in question
    assert "wick" in snippet.lower()
    none = atlas("sessions", "--search", "zeppelin", env=env)
    assert none.returncode == 0 and none.stdout == "No research sessions match.\n"


def test_sessions_lists_newest_first_with_counts_in_words(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    lighthouse, cafe = two_sessions
    atlas("ask", "And at dawn?", "--session", lighthouse, env=env)
    lines = atlas("sessions", env=env).stdout.splitlines()
    assert lines[0].startswith(lighthouse) and "2 turns" in lines[0]
    assert lines[1].startswith(cafe) and " 1 turn " in lines[1] and "turns" not in lines[1]


def test_export_json_to_stdout_and_to_a_file(
    env: dict[str, str], two_sessions: tuple[str, str], tmp_path: Path
) -> None:
    lighthouse, _ = two_sessions
    shown = atlas("export", lighthouse[:4], "--format", "json", env=env)
    data = json.loads(shown.stdout)
    assert data["format"] == "atlas-tui.session" and data["session"]["id"] == lighthouse
    turn = data["session"]["turns"][0]
    assert turn["question"] == "What does a lighthouse keeper do?" and turn["status"] == "done"
    assert turn["documents"][0]["source"] == "lighthouse.md"

    out = tmp_path / "out.json"
    written = atlas("export", lighthouse, "--format", "json", "-o", str(out), env=env)
    assert written.returncode == 0 and written.stdout == ""
    assert written.stderr.strip() == f"Wrote {out}"
    assert json.loads(out.read_text()) == data
    markdown = tmp_path / "out.md"
    assert atlas("export", lighthouse, "-o", str(markdown), env=env).returncode == 0
    assert markdown.read_text().startswith("# What does a lighthouse keeper do?")


def test_export_to_a_place_that_cannot_be_written_is_one_line(
    env: dict[str, str], two_sessions: tuple[str, str], tmp_path: Path
) -> None:
    lighthouse, _ = two_sessions
    cases = {
        str(tmp_path / "missing" / "out.md"): "does not exist",
        str(tmp_path): "is a folder",
        "/proc/atlas-export.md": "Cannot write /proc/atlas-export.md",
    }
    if Path("/dev/full").exists():  # every write fails with ENOSPC
        cases["/dev/full"] = "Cannot write /dev/full: the disk is full."
    for target, needle in cases.items():
        assert_one_line_error(atlas("export", lighthouse, "-o", target, env=env), needle)
    assert not (tmp_path / "missing").exists()


def test_export_of_an_unwritable_file_says_permission_denied(
    env: dict[str, str], two_sessions: tuple[str, str], tmp_path: Path
) -> None:
    lighthouse, _ = two_sessions
    target = tmp_path / "locked.md"
    target.write_text("keep me")
    target.chmod(0o444)
    if os.geteuid() == 0:  # root ignores file modes; sysfs refuses root a write to a 0444 file
        target = Path("/sys/kernel/notes")
        if not target.is_file():
            pytest.skip("needs a file root cannot write")
    result = atlas("export", lighthouse, "-o", str(target), env=env)
    assert_one_line_error(result, f"Cannot write {target}: permission denied")
    assert (tmp_path / "locked.md").read_text() == "keep me"


def test_export_of_a_turn_stored_in_the_wrong_shape_is_a_message(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    lighthouse, _ = two_sessions
    with sqlite3.connect(env["ATLAS_SESSIONS_PATH"]) as db:
        db.execute("UPDATE turns SET documents = '{\"a\": 1}', citations = '\"x\"'")
    result = atlas("export", lighthouse, env=env)
    assert "Traceback" not in result.stderr
    if result.returncode == 0:  # read tolerantly: the question is still there
        assert "What does a lighthouse keeper do?" in result.stdout
    else:
        assert_one_line_error(result, "damaged")


def test_resume_of_an_unknown_session_fails_before_the_tui_starts(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    result = atlas("--resume", "zzzz", env=env, timeout=60)
    assert_one_line_error(result, "There is no session 'zzzz'", "atlas-tui sessions")
    # one hex digit that is the start of both ids (ambiguous) or of neither (unknown): never
    # of exactly one, which would open the TUI for real
    first = {session_id[0] for session_id in two_sessions}
    ref = first.pop() if len(first) == 1 else next(c for c in "0123456789abcdef" if c not in first)
    result = atlas("--resume", ref, env=env, timeout=60)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and result.stdout == "", result.stderr
    assert_one_line_error(atlas("--new", "--resume", "x", env=env, timeout=60), "not allowed")


def test_sessions_and_export_read_while_another_process_holds_the_write_lock(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    lighthouse, _ = two_sessions
    writer = sqlite3.connect(env["ATLAS_SESSIONS_PATH"], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # as the TUI does while it stores an answer
    writer.execute("UPDATE sessions SET title = 'being written' WHERE id = ?", (lighthouse,))
    try:
        started = time.monotonic()
        listing = atlas("sessions", env=env, timeout=60)
        exported = atlas("export", lighthouse, env=env, timeout=60)
        elapsed = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert listing.returncode == 0 and "lighthouse keeper" in listing.stdout, listing.stderr
    assert exported.returncode == 0 and "lighthouse keeper" in exported.stdout, exported.stderr
    assert elapsed < 10  # no waiting on the writer (the lock wait would be 15 s)


def test_a_reader_upgrades_to_recover_a_killed_writers_turn(
    env: dict[str, str], two_sessions: tuple[str, str]
) -> None:
    lighthouse, _ = two_sessions
    with sqlite3.connect(env["ATLAS_SESSIONS_PATH"]) as db:  # as a killed process leaves it
        db.execute("UPDATE turns SET status = 'streaming', owner_pid = 999999999")
    exported = atlas("export", lighthouse, env=env)
    assert exported.returncode == 0 and "Interrupted" in exported.stdout, exported.stderr


# --- pipes, plurals, ingest filters ---------------------------------------------------------------


def test_a_closed_pipe_ends_quietly(env: dict[str, str], two_sessions: tuple[str, str]) -> None:
    for argv in (["sessions"], ["search", "lamp", "--limit", "6"], ["export", "last"]):
        reader = subprocess.Popen(
            [sys.executable, "-m", "atlas_tui.cli", *argv],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        )  # fmt: skip
        assert reader.stdout is not None and reader.stderr is not None
        reader.stdout.close()  # `| head -0`: the reader is gone before anything is written
        try:
            stderr = reader.stderr.read().decode()
            status = reader.wait(TIMEOUT)
        finally:
            reader.kill()
        assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr
        assert stderr == "" and status == 128 + signal.SIGPIPE, (argv, status, stderr)


def test_ingest_include_and_exclude(tmp_path: Path, env: dict[str, str]) -> None:
    corpus = tmp_path / "corpus"
    for name, text in {
        "guide.md": "# Guide\n\nThe widget needs two screws.\n",
        "notes.txt": "Plain notes about gears.\n",
        "drafts/draft.md": "# Draft\n\nUnfinished thoughts on levers.\n",
    }.items():
        (corpus / name).parent.mkdir(parents=True, exist_ok=True)
        (corpus / name).write_text(text)
    env["ATLAS_DB_PATH"] = str(tmp_path / "db")
    only_md = atlas("ingest", str(corpus), "--include", "*.md", "--exclude", "drafts/",
                    "--json", env=env)  # fmt: skip
    assert only_md.returncode == 0, only_md.stderr
    assert json.loads(only_md.stdout)["files_added"] == 1
    sources = {r["source"] for r in json.loads(atlas("search", "widget gears levers", "--json",
                                                     env=env).stdout)}  # fmt: skip
    assert sources == {"guide.md"}
    everything = json.loads(atlas("ingest", str(corpus), "--json", env=env).stdout)
    assert (everything["files_added"], everything["files_unchanged"]) == (2, 1)


@requires_tmux
def test_resume_and_new_in_a_real_terminal(
    env: dict[str, str], two_sessions: tuple[str, str], tmp_path: Path
) -> None:
    lighthouse, _ = two_sessions  # not the last session: --resume must open the one named
    env.update(TERM="xterm-256color", ATLAS_CONFIG=os.devnull, ATLAS_DATA_DIR=str(tmp_path))
    env = {k: v for k, v in env.items() if not k.startswith("TMUX")}
    for flags, shown, hidden in (
        (f"--resume {lighthouse[:5]}", "What does a lighthouse keeper do?", "espresso"),
        ("--new", "Transcript", "lighthouse keeper"),
    ):
        terminal = Terminal(env)
        try:
            terminal.start(f"{shlex.quote(str(COMMAND))} {flags}")
            screen = terminal.wait_for(lambda s, want=shown: want in s, f"{flags}: {shown}")
            terminal.wait_for(lambda s: "Documents" in s, "the first paint")
            screen = terminal.screen()
            assert hidden not in screen and "Traceback" not in screen, screen
            terminal.send("C-q")
            terminal.wait_for(lambda s: bool(EXIT_LINE.search(s)), "the exit", timeout=30)
            assert terminal.exit_status() == 0
        finally:
            terminal.kill()
