"""Research mode in the TUI (issue 23): the toggle and its key, each round's lines in the transcript
as the round ends, every passage in the documents pane grouped by round, the status line's rounds,
tokens and cost, Esc between rounds keeping the trail, citations opening passages of any round.

Against the fake Messages API scripting tool use; the index and everything from the app down are
the real code.
"""

from __future__ import annotations

from textual.pilot import Pilot

from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.messages import CitationSelected
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import TurnView
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply, ToolUse
from tests.tui.helpers import QUESTION, ask, claude_app, client_ready, note, settled, until

ROUND_1 = 'Round 1: searched "trimodal methodology" (keyword) -> 1 passage, 1 new'
ROUND_2 = 'Round 2: searched "lighthouse keeper" (keyword) -> 1 passage, 1 new'
ROUND_3 = "Round 3: search refused: mode must be one of hybrid, vector, keyword, not 'fuzzy'"


def three_rounds(fake: FakeAnthropic, *, stall_round_2: bool = False) -> None:
    """Round 1 finds the trimodal passage, round 2 the lighthouse one, round 3 is refused; the
    answer cites both (the first one found in round 1)."""
    second = {"fault": "stall"} if stall_round_2 else {}
    fake.script(
        Reply.tools(
            ToolUse("search", {"query": "trimodal methodology", "mode": "keyword"}),
            input_tokens=1200,
            output_tokens=60,
        ),
        Reply.tools(
            ToolUse("search", {"query": "lighthouse keeper", "mode": "keyword"}),
            input_tokens=2400,
            output_tokens=80,
            **second,
        ),
        Reply.tools(ToolUse("search", {"query": "lamps", "mode": "fuzzy"}), input_tokens=3000),
        Reply(
            blocks=[
                Block(["It combines three modes of work"], [Cite(0, "three modes of work")]),
                Block([", and the keeper trims the wick"], [Cite(1, "trims the lamp wick")]),
                Block(["."]),
            ],
            input_tokens=3500,
            output_tokens=40,
        ),
    )


def trail(view: TurnView) -> str:
    return str(view.query_one(".trail").render())


def research_app(make_settings, fake_anthropic) -> AtlasApp:  # type: ignore[no-untyped-def]
    return claude_app(make_settings, fake_anthropic, model="claude-sonnet-5-5")


async def toggle_on(pilot: Pilot) -> None:
    await client_ready(pilot)
    await pilot.press("f5")
    app = pilot.app
    assert isinstance(app, AtlasApp)
    await until(pilot, lambda: app.query_one(StatusLine).research)


async def test_three_rounds_show_their_trail_documents_and_cost_then_the_cited_report(
    make_settings, fake_anthropic
) -> None:
    three_rounds(fake_anthropic)
    app = research_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 36)) as pilot:
        await toggle_on(pilot)
        status = app.query_one(StatusLine)
        assert "mode: hybrid · research" in status.parts()
        view = await ask(pilot, QUESTION)
        await settled(pilot)

        turn = app.conversation.turns[-1]
        assert turn.status == "done", turn.error
        assert trail(view).splitlines() == [ROUND_1, ROUND_2, ROUND_3]
        assert turn.answer.startswith("It combines three modes of work [1]")
        pane = app.query_one(DocumentsPane)
        rows = [str(pane.get_option_at_index(i).prompt).split("\n")[0] for i in range(4)]
        assert rows[0] == "Round 1 · 1 new" and rows[2] == "Round 2 · 1 new"
        assert "Trimodal methodology" in rows[1] and "Lighthouses" in rows[3]
        assert pane.border_subtitle == "2 found in 3 rounds"
        # the report's [2] opens the passage round 2 found
        app.screen.post_message(CitationSelected(turn.id, 2, focus=True))
        await until(pilot, lambda: pane.number_at(pane.highlighted) == 2)
        assert status.progress == ""  # the run is over: the session's usage says it
        assert status.usage == "session: 10,100 in · 187 out · $0.0221"
        with SessionStore(app.settings.resolved_sessions_path) as store:
            stored = store.load_session(app.conversation.session.id or "")
        assert stored.research is True
        assert [r.number for r in stored.turns[-1].rounds] == [1, 2, 3]


async def test_each_round_shows_as_it_ends_and_esc_between_rounds_keeps_the_trail(
    make_settings, fake_anthropic
) -> None:
    three_rounds(fake_anthropic, stall_round_2=True)
    app = research_app(make_settings, fake_anthropic)
    try:
        async with app.run_test(size=(120, 36)) as pilot:
            await toggle_on(pilot)
            view = await ask(pilot, QUESTION)
            await until(pilot, lambda: trail(view) == ROUND_1)  # round 2's reply is stalled
            await until(pilot, lambda: fake_anthropic.wait_for_requests(2, timeout=0))
            status = app.query_one(StatusLine)
            assert status.progress == "round 1/5 · 1,200 in · 60 out · $0.0030"
            assert note(view).startswith("Round 1 · 1 passage · researching…")
            pane = app.query_one(DocumentsPane)
            assert [pane.number_at(i) for i in range(pane.option_count)] == [None, 1]

            await pilot.press("escape")
            await settled(pilot)

            turn = app.conversation.turns[-1]
            assert turn.status == "cancelled"
            assert trail(view) == ROUND_1
            assert note(view).startswith(
                "Cancelled after round 1: the passages found and the partial answer are kept."
            )
            assert [pane.number_at(i) for i in range(pane.option_count)] == [None, 1]
            assert status.progress == ""
    finally:
        fake_anthropic.release()
    with SessionStore(app.settings.resolved_sessions_path) as store:
        (kept,) = store.load_session("last").turns
    assert kept.status == "cancelled" and [r.number for r in kept.rounds] == [1]


async def test_keyless_research_says_so_and_the_toggle_is_kept_with_the_session(
    make_settings, warm_client
) -> None:
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=(120, 36)) as pilot:
        await toggle_on(pilot)
        said = app.notices[-1].message
        assert said.startswith("Research mode on") and "cannot call tools" in said
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].answer.startswith(
            "*Research mode needs a model that can call tools, which the offline extractive "
            "answerer cannot; this answer comes from one search.*"
        )
        assert not view.query_one(".trail").display  # no rounds: no trail
        session_id = app.conversation.session.id
    reopened = AtlasApp(settings, client=warm_client, resume=session_id)
    async with reopened.run_test(size=(120, 36)) as pilot:
        await client_ready(pilot)
        await until(pilot, lambda: bool(reopened.conversation.turns))
        assert reopened.query_one(StatusLine).research
        await pilot.press("f5")  # off, and stored at once
        await until(pilot, lambda: not reopened.query_one(StatusLine).research)
    with SessionStore(settings.resolved_sessions_path) as store:
        assert store.load_session(session_id or "").research is False


def test_snapshot_a_three_round_research_answer(snap_compare, make_settings, fake_anthropic):
    """The trail over the report, the documents grouped by round, research in the status line."""
    three_rounds(fake_anthropic)
    app = research_app(make_settings, fake_anthropic)

    async def researched(pilot: Pilot) -> None:
        await toggle_on(pilot)
        await ask(pilot, QUESTION)
        await settled(pilot)
        app.query_one(StatusLine).speed = "first token 0.10 s"  # pinned: it varies run to run
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 36), run_before=researched)


async def test_the_models_queries_and_notes_show_as_plain_text(make_settings, fake_anthropic):
    """A query or note carrying Rich markup and terminal escapes is shown literally, cleaned."""
    fake_anthropic.script(
        Reply.tools(
            ToolUse(
                "search", {"query": "[bold red]lamp[/] \x1b]0;pwned\x07wick", "mode": "keyword"}
            ),
            text="Looking [link=https://evil.example]here[/link]\x1b[2J.",
        ),
        Reply.text("The keeper trims the wick."),
    )
    app = research_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 36)) as pilot:
        await toggle_on(pilot)
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        shown = trail(view)
        assert shown.splitlines() == [
            "Round 1: Looking [link=https://evil.example]here[/link].",
            'Round 1: searched "[bold red]lamp[/] wick" (keyword) -> 2 passages, 2 new',
        ]
        assert "\x1b" not in shown and "\x07" not in shown


async def test_a_regenerated_research_answer_keeps_each_answers_own_trail(
    make_settings, fake_anthropic
):
    fake_anthropic.script(
        Reply.tools(ToolUse("search", {"query": "trimodal methodology", "mode": "keyword"})),
        Reply.text("First [1]."),
        Reply.tools(ToolUse("search", {"query": "trimodal methodology", "mode": "keyword"})),
        Reply.tools(ToolUse("search", {"query": "lighthouse keeper", "mode": "keyword"})),
        Reply.text("Second."),
    )
    app = research_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 36)) as pilot:
        await toggle_on(pilot)
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert trail(view) == ROUND_1
        await pilot.press("ctrl+r")
        turn = app.conversation.turns[-1]
        await until(pilot, lambda: len(turn.answers) == 2)
        await settled(pilot)
        assert trail(view).splitlines() == [ROUND_1, ROUND_2]
        pane = app.query_one(DocumentsPane)
        assert pane.border_subtitle == "2 found in 2 rounds"
        await pilot.press("alt+left")  # the first answer, with its own trail and documents
        await until(pilot, lambda: trail(view) == ROUND_1)
        await until(pilot, lambda: pane.border_subtitle == "1 found in 1 round")
