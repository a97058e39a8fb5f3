"""Regenerate keeps one question with its answers as alternatives; the session's model and system
prompt from the palette reach Claude; usage and cost per answer and per session.

Real AtlasQuery over the tui conftest's index, a real SessionStore file, Claude answers from the
fake Anthropic server (its recorded requests show what was sent).
"""

from __future__ import annotations

import os
import subprocess
import sys

from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.system_prompt import SystemPromptScreen
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import TurnView
from tests.fake_anthropic import Reply
from tests.tui.helpers import ask, note, settled, until

QUESTION = "What is the trimodal methodology?"
SIZE = (140, 40)


def claude_settings(make_settings, fake_anthropic, **overrides):
    return make_settings(
        provider="auto", api_key="test-key", base_url=fake_anthropic.base_url, **overrides
    )


def shown_answer(view: TurnView) -> str:
    return view.answer.source


def status_text(app: AtlasApp) -> str:
    """The status line, once the notice said there (if any) is gone."""
    app.query_one(StatusLine).unflash()
    return str(app.query_one(StatusLine).render())


async def test_regenerate_keeps_one_turn_whose_answers_can_be_stepped_through(
    make_settings, fake_anthropic
):
    fake_anthropic.script(
        Reply.text("The first answer.", input_tokens=1000, output_tokens=100),
        Reply.text("The second answer.", input_tokens=1000, output_tokens=200),
    )
    settings = claude_settings(make_settings, fake_anthropic)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert "answer 1/" not in note(view)  # one answer: no position shown
        await pilot.press("ctrl+r")
        await until(pilot, lambda: len(app.conversation.turns[-1].answers) == 2)
        await pilot.pause()
        assert len(app.query(TurnView)) == 1
        assert "The second answer." in shown_answer(view)
        assert "answer 2/2" in note(view)

        await pilot.press("alt+left")
        assert "The first answer." in shown_answer(view)
        assert "answer 1/2" in note(view)
        await pilot.press("alt+left")  # already the first: a notice, nothing changes
        assert "answer 1/2" in note(view)
        assert any("first answer (answer 1/2)" in n.message for n in app.notices)
        app.query_one("#transcript").focus()
        await pilot.press("greater_than_sign")
        assert "The second answer." in shown_answer(view) and "answer 2/2" in note(view)
        # usage: per answer in the note, both answers summed for the session in the status line
        assert "1,000 in · 200 out · $0.0040" in note(view)  # claude-sonnet-5-5: $2 / $10
        assert "session: 2,000 in · 300 out · $0.0070" in status_text(app)

    with SessionStore(settings.resolved_sessions_path) as store:
        (summary,) = store.list_sessions()
        (turn,) = store.load_session(summary.id).turns
    assert summary.turns == 1
    assert turn.answer == "The second answer." and turn.model == settings.model
    assert [a.answer for a in turn.alternatives] == ["The first answer."]
    assert turn.usage == {"input_tokens": 1000, "output_tokens": 200, "cost_usd": 0.004}

    listing = subprocess.run(
        [sys.executable, "-m", "atlas_tui.cli", "sessions"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "ATLAS_SESSIONS_PATH": str(settings.resolved_sessions_path)},
        check=False,
    )
    assert listing.returncode == 0, listing.stderr
    assert "1 turn" in listing.stdout and "2 turns" not in listing.stdout

    again = AtlasApp(settings, client=AtlasQuery(settings))  # reopened: one turn, two answers
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(again.query(TurnView)) == 1)
        view = again.query_one(TurnView)
        assert "The second answer." in shown_answer(view) and "answer 2/2" in note(view)
        await pilot.press("alt+left")
        assert "The first answer." in shown_answer(view)


async def test_the_model_chosen_in_the_palette_answers_and_is_stored_per_turn(
    make_settings, fake_anthropic
):
    fake_anthropic.script(Reply.text("Opus speaking.", input_tokens=500, output_tokens=50))
    settings = claude_settings(make_settings, fake_anthropic)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        await pilot.press("ctrl+p", *"Model: claude-opus-5-5")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: app.conversation.session.model == "claude-opus-5-5")
        assert "Claude claude-opus-5-5" in status_text(app)  # the session's, not the default
        assert "claude-sonnet-5-5" not in status_text(app)
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert "Claude claude-opus-5-5" in note(view)
        assert "500 in · 50 out · $0.0030" in note(view)  # $4 / $20 per million
    (request,) = fake_anthropic.requests
    assert request.body["model"] == "claude-opus-5-5"
    with SessionStore(settings.resolved_sessions_path) as store:
        session = store.load_session("last")
    assert session.model == "claude-opus-5-5" and session.turns[0].model == "claude-opus-5-5"


async def test_the_session_system_prompt_is_edited_stored_and_sent(make_settings, fake_anthropic):
    fake_anthropic.script(Reply.text("Bonjour."))
    settings = claude_settings(make_settings, fake_anthropic)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        await pilot.press("ctrl+p", *"System prompt")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen))
        await pilot.press(*"Answer in French.", "enter", *"Be brief.")
        await pilot.press("ctrl+s")
        await until(
            pilot, lambda: app.conversation.session.system_prompt == "Answer in French.\nBe brief."
        )
        await ask(pilot, QUESTION)
        await settled(pilot)
    (request,) = fake_anthropic.requests
    assert request.body["system"].endswith("Answer in French.\nBe brief.")
    assert "search results" in request.body["system"]  # atlas's own rules are kept before it
    with SessionStore(settings.resolved_sessions_path) as store:
        assert store.load_session("last").system_prompt == "Answer in French.\nBe brief."


async def test_offline_the_system_prompt_screen_says_it_is_ignored(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"System prompt")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, SystemPromptScreen))
        help_text = str(app.screen.query_one("#system-prompt-help").render())
        assert "Offline answers quote the documents and ignore this prompt." in help_text
        await pilot.press(*"ignored", "escape")  # Escape keeps the prompt as it was
        await until(pilot, lambda: not isinstance(app.screen, SystemPromptScreen))
        assert app.conversation.session.system_prompt == ""


async def test_a_fast_reply_shows_no_tokens_per_second(make_settings, fake_anthropic):
    fake_anthropic.script(Reply.text("Quick.", output_tokens=400))  # all of it in one burst
    settings = claude_settings(make_settings, fake_anthropic)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].status == "done"
        assert "first token" in status_text(app)
        assert "tok/s" not in status_text(app)


async def test_regenerating_a_stalled_answer_keeps_its_partial_text_as_an_alternative(
    make_settings, fake_anthropic
):
    fake_anthropic.script(
        Reply.text("A partial ", "answer", fault="stall"), Reply.text("The whole answer.")
    )
    settings = claude_settings(make_settings, fake_anthropic)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, QUESTION)
        await until(pilot, lambda: "A partial answer" in shown_answer(view))
        await pilot.press("ctrl+r")  # while the first answer is stalled mid-stream
        await until(pilot, lambda: app.conversation.turns[-1].status == "done")
        await pilot.pause()
        assert len(app.query(TurnView)) == 1
        assert "The whole answer." in shown_answer(view)
        assert "answer 2/2" in note(view)
        await pilot.press("alt+left")
        assert "A partial answer" in shown_answer(view) and "Cancelled" in note(view)
    with SessionStore(settings.resolved_sessions_path) as store:
        (turn,) = store.load_session("last").turns
    assert turn.answer == "The whole answer." and turn.status == "done"
    assert [(a.answer, a.status) for a in turn.alternatives] == [("A partial answer", "cancelled")]
