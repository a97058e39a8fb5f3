"""Asking: the question appears at once, documents before tokens, answers stream with citations."""

from __future__ import annotations

import time

from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.messages import AnswerDelta, DocumentsRetrieved
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.status import StatusLine
from tests.fake_anthropic import Block, Cite, Reply
from tests.tui.helpers import QUESTION, ask, claude_app, note, settled, until

QUIT_BOUND_S = 10.0  # the stalled stream must not hold the exit (it would hang for minutes)


async def test_offline_answer_cites_documents_and_fills_the_pane(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    order: list[str] = []
    async with app.run_test(
        size=(120, 40), message_hook=lambda m: order.append(type(m).__name__)
    ) as pilot:
        view = await ask(pilot, QUESTION)
        assert "trimodal methodology" in str(view.query_one(".question").render())
        await settled(pilot)
        record = app.conversation.turns[-1]
        assert record.status == "done"
        assert "bottom-up implementation" in record.answer
        # documents arrived before the first piece of answer
        assert order.index(DocumentsRetrieved.__name__) < order.index(AnswerDelta.__name__)
        pane = app.query_one(DocumentsPane)
        assert pane.documents[0].source == "trimodal.md"
        assert 1 in record.cited
        assert str(pane.get_option_at_index(0).prompt).startswith("●[1]")
        # the citation is a link to document 1 in the rendered Markdown
        assert "(cite:1)" in view.answer.source
        status = app.query_one(StatusLine)
        assert status.answerer == "offline extractive (no API key; F1)"
        assert "3 chunks" in status.index
        # an extractive answer is instant: time to first token, but no made-up rate
        assert "first token" in status.speed and "tok/s" not in status.speed


async def test_no_key_note_is_in_the_status_line_and_a_toast_once_per_install(
    make_settings, warm_client
):
    for launch in range(2):
        app = AtlasApp(make_settings(), client=warm_client)
        async with app.run_test() as pilot:
            status = app.query_one(StatusLine)
            await until(pilot, lambda status=status: "no API key" in status.answerer)
            await ask(pilot, QUESTION)
            await settled(pilot)
            notes = [n for n in app.notices if "ANTHROPIC_API_KEY" in n.message]
            assert len(notes) == (1 if launch == 0 else 0)
            assert all(len(n.message) < 100 for n in notes)  # two lines, not seven
            assert "no API key" in app.query_one(StatusLine).answerer


async def test_claude_answer_streams_with_citations(make_settings, fake_anthropic):
    fake_anthropic.script(
        Reply(
            blocks=(
                Block(["It combines ", "three modes"], [Cite(0, "bottom-up implementation")]),
                Block([" of work."]),
            )
        )
    )
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        record = app.conversation.turns[-1]
        assert record.status == "done", record.error
        assert record.answer.startswith("It combines three modes")
        assert "[1]" in record.answer and record.cited == {1}  # the one cited passage, marked
        assert [c.number for c in record.citations] == [1]
        assert "(cite:1)" in view.answer.source
        assert "Claude" in app.query_one(StatusLine).answerer
        assert "Claude" in note(view)


async def test_key_rejected_is_a_clear_notice(make_settings, fake_anthropic):
    fake_anthropic.script(Reply(status=401, error_message="invalid x-api-key"))
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].status == "failed"
        assert note(view) == (  # each phrase once; no "regenerates": the same key fails again
            "The API rejected the key: invalid x-api-key\n"
            "Check ANTHROPIC_API_KEY; without a key atlas-tui answers offline (extractive)."
        )
        # the documents were still retrieved and shown
        assert app.query_one(DocumentsPane).documents


async def test_interrupted_stream_keeps_the_partial_answer(make_settings, fake_anthropic):
    fake_anthropic.script(Reply.text("The partial ", "answer", fault="drop"))
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].answer == "The partial answer"
        assert "The partial answer" in view.answer.source
        assert note(view) == (
            "The connection dropped mid-answer.\nThe partial answer above is kept. ^r regenerates."
        )


async def test_escape_cancels_a_stalled_answer_and_quit_does_not_hang(
    make_settings, fake_anthropic
):
    fake_anthropic.script(Reply.text("Half an ", "answer", fault="stall"))
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await until(pilot, lambda: "Half an answer" in view.answer.source)
        await pilot.press("escape")
        await settled(pilot)
        assert app.conversation.turns[-1].status == "cancelled"
        assert "Half an answer" in view.answer.source
        assert "Cancelled" in note(view)
        # a second stall, then quit while it stalls: the app must exit promptly
        fake_anthropic.script(Reply.text("Again ", fault="stall"))
        await pilot.press("ctrl+r")
        await until(pilot, lambda: "Again" in view.answer.source)
        await pilot.press("ctrl+q")
        quit_pressed = time.monotonic()
    assert time.monotonic() - quit_pressed < QUIT_BOUND_S  # a hang, not a speed target
    assert app.return_code == 0


async def test_follow_up_sends_the_earlier_turn(make_settings, fake_anthropic):
    fake_anthropic.script(Reply.text("First answer."), Reply.text("Second answer."))
    app = claude_app(make_settings, fake_anthropic)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await ask(pilot, "And how do the modes interact?")
        await settled(pilot)
        messages = fake_anthropic.last_body["messages"]
        assert "First answer." in str(messages)
