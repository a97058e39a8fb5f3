"""Research mode through the public query client, over a real index (real model, real LanceDB),
with Claude played by the fake Messages API; its sessions and exports; and the CLI's
`ask --research` in a subprocess."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from atlas_tui import Delta, Done, Failed, Retrieved, Round, create_query_client
from atlas_tui.config import Settings
from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.endpoints import Endpoint
from atlas_tui.errors import CancelledError_
from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import SessionStore
from atlas_tui.sessions.export import export_json, export_markdown, session_from_json
from tests.cli_run import run_cli
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply, ToolUse

QUESTION = "What does the trimodal methodology combine, and what does a lighthouse keeper do?"
NO_TOOLS = "*Research mode needs a model that can call tools, which "


def two_searches(fake: FakeAnthropic) -> None:
    """Round 1 finds the trimodal passage, round 2 the lighthouse one; the answer cites both."""
    fake.script(
        Reply.tools(ToolUse("search", {"query": "trimodal methodology", "mode": "keyword"})),
        Reply.tools(ToolUse("search", {"query": "lighthouse keeper", "mode": "keyword"})),
        Reply(
            blocks=[
                Block(["It combines three modes of work"], [Cite(0, "three modes of work")]),
                Block([", and the keeper trims the wick"], [Cite(1, "trims the lamp wick")]),
                Block(["."]),
            ]
        ),
    )


def test_research_streams_like_query_streaming_and_reports_each_round(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    two_searches(fake_anthropic)
    calls: list[tuple[str, str]] = []
    rounds: list[Round] = []

    answer = claude_client.research(
        QUESTION, lambda delta, full: calls.append((delta, full)), on_round=rounds.append
    )

    full = ""
    for delta, seen in calls:  # the callback shape of query_streaming
        full += delta
        assert seen == full
    assert (
        answer == full == "It combines three modes of work [1], and the keeper trims the wick [2]."
    )
    assert [[s.describe() for s in r.round.steps] for r in rounds] == [
        ['searched "trimodal methodology" (keyword) -> 1 passage, 1 new'],
        ['searched "lighthouse keeper" (keyword) -> 1 passage, 1 new'],
    ]
    assert [p.source for p in rounds[-1].documents] == ["trimodal.md", "lighthouse.md"]
    assert rounds[1].usage.input_tokens == 84


def test_research_events_end_with_done_counting_rounds_and_cost(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    two_searches(fake_anthropic)

    events = list(claude_client.research_events(QUESTION))

    assert [isinstance(e, Round) for e in events[:3]] == [True, True, False]
    assert all(isinstance(e, Delta) for e in events[2:-1])
    done = events[-1]
    assert isinstance(done, Done)
    assert done.rounds == 2 and done.answerer == "Claude claude-sonnet-5-5"
    assert [(c.number, c.valid) for c in done.citations] == [(1, True), (2, True)]
    assert done.usage.input_tokens == 126 and done.cost_usd == pytest.approx(
        (126 * 2 + 21 * 10) / 1e6
    )
    rounds = [e for e in events if isinstance(e, Round)]
    assert done.timings.retrieval_ms == pytest.approx(sum(r.round.tool_ms for r in rounds))
    assert done.citations[1].chunk_id == rounds[1].documents[1].chunk_id


def test_the_users_knobs_bound_every_search(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": "trimodal methodology lighthouse café"})),
        Reply.text("Only notes."),
    )

    events = list(
        claude_client.research_events(QUESTION, source="notes/*", mode="vector", max_results=1)
    )

    (found,) = [e for e in events if isinstance(e, Round)]
    (step,) = found.round.steps
    assert (step.mode, step.source, len(step.found)) == ("vector", "notes/*", 1)
    assert found.documents[0].source == "notes/it's a café.md"


def test_the_older_hybrid_knob_sets_the_searches_mode_and_the_result_count_holds_everywhere(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": "trimodal methodology lighthouse keeper"})),
        Reply.tools(ToolUse("search", {"query": "lighthouse keeper", "mode": "keyword"})),
        Reply.text("Enough."),
    )

    events = list(claude_client.research_events(QUESTION, use_hybrid_search=False, max_results=1))

    first, second = [e.round.steps[0] for e in events if isinstance(e, Round)]
    assert (first.mode, len(first.found)) == ("vector", 1)  # as `retrieve` reads the knob
    assert (second.mode, len(second.found)) == ("keyword", 1)  # the model's mode, the user's cap
    assert claude_client.retrieve("trimodal methodology lighthouse keeper", mode="vector")[1:]


def test_a_search_without_a_mode_takes_the_configured_one_unless_the_hybrid_knob_says(
    research_index: str, fake_anthropic: FakeAnthropic
) -> None:
    client = AtlasQuery(
        Settings(
            db_path=research_index,
            api_key="sk-test",
            base_url=fake_anthropic.base_url,
            max_retries=0,
            search_mode="keyword",
        )
    )
    search = ToolUse("search", {"query": "lighthouse keeper"})
    fake_anthropic.script(
        Reply.tools(search), Reply.text("A."), Reply.tools(search), Reply.text("B.")
    )

    plain = [e for e in client.research_events(QUESTION) if isinstance(e, Round)]
    hybrid = [
        e for e in client.research_events(QUESTION, use_hybrid_search=True) if isinstance(e, Round)
    ]

    assert plain[0].round.steps[0].mode == "keyword"  # the configured default
    assert hybrid[0].round.steps[0].mode == "hybrid"  # as `retrieve` reads the older knob


def test_a_read_widens_a_passage_through_the_real_index(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": "espresso descaling", "mode": "keyword"})),
        Reply.tools(ToolUse("read", {"passage": 1})),
        Reply.text("Monthly."),
    )

    events = list(claude_client.research_events("How often is the café machine descaled?"))

    read = [e for e in events if isinstance(e, Round)][1]
    # the file is one chunk: nothing before or after it, and the model is told so
    assert (
        read.round.steps[0].describe() == "read around [1] (1 before, 1 after) -> 1 passage, 0 new"
    )
    text = fake_anthropic.requests[2].body["messages"][-1]["content"][0]["content"][0]["text"]
    assert text == (
        "Around [1] in its file, in order: [1]; nothing new; the file begins with [1]; "
        "the file ends with [1]."
    )


def test_offline_research_says_so_in_one_line_and_answers_as_today(research_index: str) -> None:
    offline = create_query_client(db_path=research_index)

    events = list(offline.research_events(QUESTION))

    assert isinstance(events[0], Retrieved)
    done = events[-1]
    assert isinstance(done, Done) and done.extractive and done.rounds == 0
    line = NO_TOOLS + "the offline extractive answerer cannot; this answer comes from one search.*"
    assert done.answer.startswith(line + "\n\n")
    assert done.answer[len(line) + 2 :] == offline.query(QUESTION)
    assert "".join(e.text for e in events if isinstance(e, Delta)) == done.answer


def test_a_compatible_endpoint_says_so_in_one_line(
    research_index: str, fake_anthropic: FakeAnthropic
) -> None:
    local = Endpoint("local", fake_anthropic.base_url, ("qwen3",), "compatible", label="Local")
    client = AtlasQuery(Settings(db_path=research_index, endpoints=(local,), max_retries=0))
    fake_anthropic.script(Reply.text("From one search."))

    answer = client.research(QUESTION, lambda _delta, _full: None)

    assert answer.startswith(
        NO_TOOLS + "local qwen3 via Local (on the compatible profile) cannot; this answer comes "
        "from one search.*\n\nFrom one search."
    )
    (request,) = fake_anthropic.requests
    assert "tools" not in request.body


def test_an_endpoint_on_the_anthropic_profile_researches(
    research_index: str, fake_anthropic: FakeAnthropic
) -> None:
    gateway = Endpoint("gw", fake_anthropic.base_url, ("big-model",), "anthropic", label="Gateway")
    client = AtlasQuery(Settings(db_path=research_index, endpoints=(gateway,), max_retries=0))
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": "lighthouse", "mode": "keyword"})),
        Reply.text("Keepers trim the wick."),
    )

    done = list(client.research_events(QUESTION))[-1]

    assert isinstance(done, Done) and done.rounds == 1
    assert done.answerer == "local big-model via Gateway" and done.model == "big-model"
    assert done.cost_usd is None  # no price for this model: tokens only
    assert [r.body["model"] for r in fake_anthropic.requests] == ["big-model", "big-model"]
    assert "tools" in fake_anthropic.requests[0].body


def test_a_server_refusing_the_first_request_is_answered_from_one_search(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        fake_anthropic,
        "reject",
        lambda body: "unknown content block type" if "tools" in body else None,
    )
    fake_anthropic.script(Reply.text('The methodology combines "three modes of work" [1].'))

    events = list(claude_client.research_events(QUESTION))

    assert isinstance(events[0], Retrieved)  # one search, as events() makes it
    done = events[-1]
    assert isinstance(done, Done)
    assert done.answer.startswith(NO_TOOLS + "Claude claude-sonnet-5-5 (on the compatible")
    assert "tools" not in fake_anthropic.requests[-1].body


def test_cancel_between_rounds_keeps_the_rounds_in_the_session(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    two_searches(fake_anthropic)
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = store.create_session()
        recorder = TurnRecorder(store, session_id, QUESTION)
        run = claude_client.research_events(QUESTION)
        for event in run:
            recorder.record(event)
            if isinstance(event, Round):
                run.cancel()  # Esc, between the rounds
        (turn,) = store.load_session(session_id).turns

    assert len(fake_anthropic.requests) == 1
    assert isinstance(event, Failed) and isinstance(event.error, CancelledError_)
    assert turn.status == "cancelled"
    assert [r.number for r in turn.rounds] == [1]
    assert [d.source for d in turn.documents] == ["trimodal.md"]


def test_a_session_keeps_the_trail_and_exports_it(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    two_searches(fake_anthropic)
    with SessionStore(tmp_path / "s.sqlite3") as store:
        session_id = store.create_session()
        store.set_session_options(session_id, research=True)
        recorder = TurnRecorder(store, session_id, QUESTION)
        for event in claude_client.research_events(QUESTION):
            recorder.record(event)
        session = store.load_session(session_id)
        history = store.history(session_id, 4)

    assert session.research is True
    (turn,) = session.turns
    assert turn.status == "done"
    assert [s.query for r in turn.rounds for s in r.steps] == [
        "trimodal methodology",
        "lighthouse keeper",
    ]
    assert [d.source for d in turn.documents] == ["trimodal.md", "lighthouse.md"]
    assert history[0].passages == turn.documents  # a follow-up sees what research found

    markdown = export_markdown(session)
    assert "Research trail (2 rounds):" in markdown
    assert '- Round 1: searched "trimodal methodology" (keyword) -\\> 1 passage, 1 new' in markdown
    assert "  - \\[2\\] **Lighthouses** `" in markdown
    assert "[^1-2]" in markdown  # the answer's [2] is the lighthouse footnote
    assert session_from_json(export_json(session)) == session


# --- the CLI -------------------------------------------------------------------------------------


def cli_env(research_index: str, base_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "ATLAS_DB_PATH": research_index,
        "ANTHROPIC_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": base_url,
        "ATLAS_SESSIONS_PATH": str(tmp_path / "sessions.sqlite3"),
    }


def test_ask_research_prints_each_round_the_answer_and_its_sources(
    research_index: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    two_searches(fake_anthropic)
    env = cli_env(research_index, fake_anthropic.base_url, tmp_path)

    result = run_cli("ask", "--research", QUESTION, env=env, timeout=120)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        'Round 1: searched "trimodal methodology" (keyword) -> 1 passage, 1 new',
        'Round 2: searched "lighthouse keeper" (keyword) -> 1 passage, 1 new',
    ]
    assert "It combines three modes of work [1], and the keeper trims the wick [2]." in lines
    sources = lines[lines.index("Sources:") + 1 :]
    assert [s.split()[:2] for s in sources] == [["[1]", "trimodal.md"], ["[2]", "lighthouse.md"]]

    exported = run_cli("export", "last", "--format", "json", env=env, timeout=60)
    (turn,) = json.loads(exported.stdout)["session"]["turns"]
    assert [r["steps"][0]["query"] for r in turn["rounds"]] == [
        "trimodal methodology",
        "lighthouse keeper",
    ]


def test_ask_rounds_caps_the_research(
    research_index: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    two_searches(fake_anthropic)
    env = cli_env(research_index, fake_anthropic.base_url, tmp_path)

    result = run_cli(
        "ask", "--research", "--rounds", "1", "--no-save", QUESTION, env=env, timeout=120
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1].startswith(
        "*Research stopped after 1 round (the cap of 1 round); this answer uses the 1 passage"
    )
    assert fake_anthropic.requests[1].body["tool_choice"] == {"type": "none"}
    bad = run_cli("ask", "--research", "--rounds", "0", QUESTION, env=env, timeout=60)
    assert bad.returncode == 2 and "--rounds: must be a whole number from 1 to 50" in bad.stderr


def test_ask_research_json_has_round_events(
    research_index: str, fake_anthropic: FakeAnthropic, tmp_path: Path
) -> None:
    two_searches(fake_anthropic)
    env = cli_env(research_index, fake_anthropic.base_url, tmp_path)

    result = run_cli("ask", "--research", "--json", "--no-save", QUESTION, env=env, timeout=120)

    events: list[dict[str, Any]] = [json.loads(line) for line in result.stdout.splitlines()]
    rounds = [e for e in events if e["event"] == "round"]
    assert [r["number"] for r in rounds] == [1, 2]
    assert rounds[0]["steps"][0]["line"].startswith('searched "trimodal methodology"')
    assert [(d["number"], d["source"]) for d in rounds[1]["documents"]] == [(2, "lighthouse.md")]
    assert events[-1]["event"] == "done" and events[-1]["rounds"] == 2
