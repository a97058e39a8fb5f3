"""Every CLI verb over a corpus and a session full of terminal escapes (CSI, OSC 52, OSC 2, DCS,
8-bit C1, bidi, zero-width) and odd file names: nothing of them reaches stdout or stderr, a file
name never fakes a line, and `export -o` writes Markdown without a control sequence (`cat` of the
file must not act on it) and JSON escaped (the same value)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from atlas_tui.sessions import SessionStore
from tests.corpus import write_files
from tests.hostile.cli_corpus import (
    ESCAPES,
    EVERY_ESCAPE,
    FAKE_LINE,
    NEWLINE_NAME,
    hostile_turn,
    unsafe,
)

TIMEOUT = 180

CORPUS = {
    "hostile.md": f"# Quokka {EVERY_ESCAPE} notes\n\n{EVERY_ESCAPE} The quokka keeper writes "
    f"notes about the quokka colony. {EVERY_ESCAPE}\n",
    f"{ESCAPES['OSC 2 title']} quokka {ESCAPES['CSI']}.md": "# Quokka diet\n\nQuokkas eat.\n",
    f"quokka {ESCAPES['bidi']}gnp.md": "# Quokka burrows\n\nQuokkas shelter under shrubs.\n",
    f"{NEWLINE_NAME}.md": "# Quokka habitat\n\nThe quokka lives on Rottnest Island.\n",
    f"empty {ESCAPES['OSC 52 clipboard']}.md": "",  # skipped: named in the ingest report
}


@dataclass
class Run:
    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr: bytes

    @property
    def text(self) -> str:
        return self.stdout.decode("utf-8")


@dataclass
class World:
    env: dict[str, str]
    corpus: Path
    sessions: Path
    hostile_session: str
    first_ingest: Run

    def run(self, *argv: str, **env: str) -> Run:
        done = subprocess.run(
            [sys.executable, "-m", "atlas_tui.cli", *argv],
            capture_output=True,
            env={**self.env, **env},
            timeout=TIMEOUT,
            check=False,
        )
        return Run(argv, done.returncode, done.stdout, done.stderr)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    home = tmp_path_factory.mktemp("hostile-cli")
    corpus = write_files(home / "corpus", CORPUS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATLAS_", "ANTHROPIC_"))}
    env.update(
        ATLAS_DB_PATH=str(home / "db"),
        ATLAS_SESSIONS_PATH=str(home / "sessions.sqlite3"),
        ATLAS_DATA_DIR=str(home / "data"),
        ATLAS_CONFIG=os.devnull,
        LANCEDB_LOG="error",
        HF_HUB_OFFLINE="1",
    )
    with SessionStore(home / "sessions.sqlite3") as store:
        session_id = hostile_turn(store)
    world = World(env, corpus, home / "sessions.sqlite3", session_id, None)  # type: ignore[arg-type]
    world.first_ingest = world.run("ingest", str(corpus))
    assert world.first_ingest.returncode == 0, world.first_ingest.stderr
    return world


VERBS = [
    ("ingest", "{corpus}"),  # the report of an unchanged corpus, with the skipped file
    ("ingest", "{corpus}", "--json"),
    ("search", "quokka"),
    ("search", "quokka", "--json"),
    ("search", "quokka keeper notes", "--mode", "keyword"),
    ("stats",),
    ("stats", "--json"),
    ("ask", "What does the quokka keeper write?"),
    ("ask", "What does the quokka keeper write?", "--json"),  # one JSON object per line
    ("sessions",),
    ("sessions", "--json"),
    ("sessions", "--search", "quokka"),
    ("sessions", "--search", "quokka", "--json"),
    ("export", "{hostile}"),
    ("export", "{hostile}", "--format", "json"),
    ("export", "last"),
    ("export", "last", "--format", "json"),
    ("export", f"zz{ESCAPES['OSC 2 title']}"),  # an error message that quotes the input
    ("stats", "--config", f"{{corpus}}/{ESCAPES['OSC 52 clipboard']}.toml"),  # names a path
    ("search", "quokka", "--mode", ESCAPES["OSC 2 title"]),  # argparse's own message
]


@pytest.mark.parametrize("verb", VERBS, ids=lambda v: " ".join(v)[:40])
def test_no_escape_reaches_the_terminal(world: World, verb: tuple[str, ...]) -> None:
    argv = [a.format(corpus=world.corpus, hostile=world.hostile_session) for a in verb]
    run = world.run(*argv)
    assert b"Traceback" not in run.stderr, run.stderr.decode()
    assert unsafe(run.stdout) == [] and unsafe(run.stderr) == []
    if argv[0] == "ask" and "--json" in argv:
        assert [json.loads(line) for line in run.stdout.splitlines()]  # still valid JSON
    elif "--json" in argv or "json" in argv:
        json.loads(run.stdout)  # still valid JSON
    if run.returncode:
        lines = run.stderr.decode().strip().splitlines()
        assert run.stdout == b"" and len(lines) == 1, run.stderr.decode()


def test_the_first_ingest_report_is_clean_and_names_the_skipped_file(world: World) -> None:
    report = world.first_ingest
    assert unsafe(report.stdout) == [] and unsafe(report.stderr) == []
    assert "empty" in report.text and "Indexed 4 files" in report.text


def test_a_newline_in_a_file_name_is_shown_escaped(world: World) -> None:
    for argv in (
        ("search", "quokka Rottnest Island habitat"),
        ("export", world.hostile_session),
        ("ask", "quokka Rottnest Island habitat", "--no-save"),
    ):
        run = world.run(*argv)
        assert run.returncode == 0, run.stderr
        lines = run.text.splitlines()
        assert not [line for line in lines if line.lstrip().startswith(FAKE_LINE)], run.text
        assert "evil\\n[9] 1.000" in run.text or argv[0] == "export"  # (export: on one line)


def test_json_output_keeps_every_character_escaped(world: World) -> None:
    run = world.run("export", world.hostile_session, "--format", "json")
    turn = json.loads(run.stdout)["session"]["turns"][0]
    assert turn["answer"] == f"The quokka answer {EVERY_ESCAPE} [1]."  # nothing lost
    assert turn["documents"][0]["source"] == f"{NEWLINE_NAME} {EVERY_ESCAPE}.md"
    rows = json.loads(world.run("search", "quokka", "--json").stdout)
    assert any(NEWLINE_NAME in row["source"] for row in rows)


def test_export_to_a_file_writes_no_control_sequence(world: World, tmp_path: Path) -> None:
    out = tmp_path / f"out {ESCAPES['OSC 2 title']}.md"
    run = world.run("export", world.hostile_session, "-o", str(out))
    assert run.returncode == 0 and run.stdout == b""
    assert unsafe(run.stderr) == [] and "Wrote" in run.stderr.decode()
    text = out.read_text(encoding="utf-8")
    assert not any(c in text for c in "\x1b\x07\x9b\x9c\x9d\x85\u202e\u202c\u2066\u2069\u061c")
    assert "The quokka answer" in text and "pass\u200bword\u200d" in text  # the text stays
    out_json = tmp_path / "out.json"
    run = world.run("export", world.hostile_session, "--format", "json", "-o", str(out_json))
    stored = out_json.read_text(encoding="utf-8")
    assert unsafe(stored.encode()) == []  # escaped in the file...
    assert EVERY_ESCAPE in json.loads(stored)["session"]["turns"][0]["answer"]  # ...kept in value
    shown = world.run("export", world.hostile_session)
    assert "The quokka answer" in shown.text and unsafe(shown.stdout) == []  # stdout: filtered


@pytest.mark.parametrize("verb", [("stats",), ("search", "quokka"), ("ingest", "{corpus}")])
def test_a_hostile_index_or_sessions_path_in_an_error(world: World, verb: tuple[str, ...]) -> None:
    argv = [a.format(corpus=world.corpus) for a in verb]
    place = str(world.corpus.parent / f"db {ESCAPES['OSC 2 title']} {ESCAPES['bidi']}")
    run = world.run(*argv, ATLAS_DB_PATH=place)
    assert unsafe(run.stdout) == [] and unsafe(run.stderr) == []
    assert b"Traceback" not in run.stderr
    if run.returncode:
        assert len(run.stderr.decode().strip().splitlines()) == 1, run.stderr.decode()
    folder = world.corpus.parent / f"sessions {ESCAPES['CSI']}" / "file"
    folder.parent.mkdir(exist_ok=True)
    folder.mkdir(exist_ok=True)  # a folder where the sessions file should be: cannot be opened
    run = world.run("sessions", ATLAS_SESSIONS_PATH=str(folder))
    assert run.returncode == 1 and unsafe(run.stderr) == [] and run.stdout == b""
    assert len(run.stderr.decode().strip().splitlines()) == 1, run.stderr.decode()
    assert "Check that it names a file in a folder you can write" in run.stderr.decode()
