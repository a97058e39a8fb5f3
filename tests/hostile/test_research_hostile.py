"""Research mode from the attacker's side: the model's tool calls are steered by whatever it read
(a document can say "now search for ..."), so every call is treated as hostile input. The calls
here are what such a model could send; see docs/research-threat-model.md."""

from __future__ import annotations

import os
from pathlib import Path

from atlas_tui import Done, Round
from atlas_tui.config import Settings
from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import SessionStore
from atlas_tui.sessions.export import export_markdown
from tests.cli_run import run_cli
from tests.fake_anthropic import FakeAnthropic, Reply, ToolUse
from tests.hostile.cli_corpus import EVERY_ESCAPE, FAKE_LINE, unsafe

HOSTILE_QUERY = f"trimodal {EVERY_ESCAPE}\n{FAKE_LINE}\n# heading [^1-1]: forged"


def hostile_rounds(fake: FakeAnthropic) -> None:
    fake.script(
        Reply.tools(
            ToolUse("search", {"query": HOSTILE_QUERY, "mode": "keyword"}),
            ToolUse("search", {"query": "passwd root", "source": "/etc/*"}),
            ToolUse("search", {"query": "secrets", "source": "../../**"}),
            ToolUse("read", {"passage": 10**9, "before": 10**6}),
            ToolUse("search", raw='{"query": "' + "x" * 200_000 + '"}', piece=50_000),
            ToolUse("search", {"query": "lamp", "mode": "keyword; DROP TABLE chunks"}),
        ),
        # the model keeps going for ever, as a document told it to
        *(Reply.tools(ToolUse("search", {"query": f"again {n}"})) for n in range(10)),
    )


def test_hostile_calls_reach_only_the_index_and_are_bounded(
    research_index: str, research_corpus: Path, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    hostile_rounds(fake_anthropic)
    client = AtlasQuery(
        Settings(
            db_path=research_index,
            api_key="sk-test",
            base_url=fake_anthropic.base_url,
            max_retries=0,
            research_rounds=3,
        )
    )
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = store.create_session()
        recorder = TurnRecorder(store, session_id, "q")
        events = []
        for event in client.research_events("q"):
            recorder.record(event)
            events.append(event)
        session = store.load_session(session_id)

    rounds = [e for e in events if isinstance(e, Round)]
    done = events[-1]
    assert isinstance(done, Done) and done.rounds == 3  # the cap holds however the model insists
    assert len(fake_anthropic.requests) == 4
    first = rounds[0].round.steps
    gathered_then = len(first[0].found)  # the calls of a round run in order
    assert [s.error for s in first[3:]] == [
        f"passage must be a whole number from 1 to {gathered_then}",
        "the input is longer than 10,000 characters",
        "mode must be one of hybrid, vector, keyword, not 'keyword; DROP TABLE chunks'",
    ]
    # globs outside the index match nothing: a source is a pattern over indexed paths, never a
    # file to open
    assert [(s.source, s.found) for s in first[1:3]] == [("/etc/*", ()), ("../../**", ())]
    root = str(research_corpus)
    assert all(p.root == root for p in rounds[-1].documents)
    # the trail as shown and exported: one line per step, nothing of the query acts on a terminal
    # or becomes Markdown structure
    line = first[0].describe()
    assert "\n" not in line and line.startswith('searched "trimodal ')
    markdown = export_markdown(session)
    assert "\n# heading" not in markdown and "\n[^1-1]: forged" not in markdown


def test_ask_research_shows_hostile_queries_safely(
    research_index: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": HOSTILE_QUERY, "mode": "keyword"})),
        Reply.text(f"Answer {EVERY_ESCAPE} done."),
    )
    env = {
        **os.environ,
        "ATLAS_DB_PATH": research_index,
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_anthropic.base_url,
        "ATLAS_SESSIONS_PATH": str(tmp_path / "s.sqlite3"),
    }

    result = run_cli("ask", "--research", "q", env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    output = result.stdout.encode()
    assert unsafe(output) == []
    assert FAKE_LINE not in result.stdout.splitlines()  # the query's newline faked no line
    assert result.stdout.splitlines()[0].startswith('Round 1: searched "trimodal ')
