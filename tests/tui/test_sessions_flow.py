"""Research sessions inside the app: recorded, reopened, resumed, continued, exported, survived.

Real AtlasQuery on the index the tui conftest builds, a real SessionStore file per test; Claude
answers come from the fake Anthropic server, whose recorded requests show the follow-up history.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.transcript import Transcript, TurnView
from atlas_tui.types import Passage
from tests.fake_anthropic import Block, Cite, Reply
from tests.tui.helpers import ask, note, settled, until

QUESTION = "What is the trimodal methodology?"
SIZE = (120, 40)


def sessions_path(app: AtlasApp) -> Path:
    return app.settings.resolved_sessions_path


def transcript_title(app: AtlasApp) -> str:
    return str(app.query_one(Transcript).border_title)


def shown_questions(app: AtlasApp) -> list[str]:
    return [str(v.query_one(".question").render()) for v in app.query(TurnView)]


async def shown(pilot, app: AtlasApp, count: int) -> None:
    """Wait until the reopened session's `count` turns are on screen."""

    def composed() -> bool:
        views = app.query(TurnView)
        return len(views) == count and all(view.query(".note") for view in views)

    await until(pilot, lambda: len(app.conversation.turns) == count and composed())


def passage(source: str, text: str) -> Passage:
    return Passage(f"{source}#0", text, source, "/docs", source, "", 0.9, rank=1)


def add_session(store: SessionStore, question: str, answer: str, source: str) -> str:
    session_id = store.create_session()
    turn_id = store.begin_turn(session_id, question)
    store.set_documents(turn_id, [passage(source, answer)])
    store.finish_turn(turn_id, answer + " [1]", answerer="offline extractive")
    return session_id


async def test_a_question_is_recorded_and_reopens_with_its_documents(make_settings, warm_client):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        answer = app.conversation.turns[-1].answer
        assert QUESTION in transcript_title(app)
    assert app.conversation.store is None  # closed when the app exits

    with SessionStore(settings.resolved_sessions_path) as store:
        (summary,) = store.list_sessions()
        (turn,) = store.load_session(summary.id).turns
    assert summary.title == QUESTION
    assert turn.question == QUESTION and turn.status == "done"
    assert turn.answer == answer and "bottom-up implementation" in turn.answer
    assert turn.documents[0].source == "trimodal.md" and turn.answerer == "offline extractive"

    again = AtlasApp(settings, client=warm_client)
    async with again.run_test(size=SIZE) as pilot:
        await shown(pilot, again, 1)
        record = again.conversation.turns[0]
        assert record.question == QUESTION and record.answer == answer
        view = again.query_one(TurnView)
        assert "(cite:1)" in view.answer.source  # citations linked again
        assert note(view) == "offline extractive"
        pane = again.query_one(DocumentsPane)
        assert pane.documents[0].source == "trimodal.md"
        assert str(pane.get_option_at_index(0).prompt).startswith("●[1]")
        assert QUESTION in transcript_title(again)

    fresh = AtlasApp(settings, client=warm_client, new_session=True)
    async with fresh.run_test(size=SIZE) as pilot:
        await until(pilot, fresh.warmed.is_set)
        assert fresh.conversation.turns == [] and not fresh.query(TurnView)


async def test_unfinished_turns_show_how_they_ended(make_settings, warm_client):
    settings = make_settings()
    store = SessionStore(settings.resolved_sessions_path)
    session_id = add_session(store, "Who keeps the lighthouse?", "The keeper", "lighthouse.md")
    turn_id = store.begin_turn(session_id, "And at dawn?")
    store.set_documents(turn_id, [passage("lighthouse.md", "logs the weather at dawn")])
    store.update_answer(turn_id, "The keeper logs")
    store.close()  # the turn was still streaming: it is stored as interrupted

    app = AtlasApp(settings, client=warm_client, resume=session_id)
    async with app.run_test(size=SIZE) as pilot:
        await shown(pilot, app, 2)
        first, second = app.query(TurnView)
        assert note(first) == "offline extractive"
        assert note(second).startswith("Interrupted:")
        assert second.query_one(".note").has_class("cancelled")
        assert app.conversation.turns[1].answer == "The keeper logs"
        assert app.query_one(DocumentsPane).documents[0].text == "logs the weather at dawn"


async def test_follow_up_sends_the_reopened_session_as_history(make_settings, fake_anthropic):
    fake_anthropic.script(
        Reply(blocks=(Block(["It combines three modes of work."], [Cite(0, "three modes")]),)),
        Reply.text("The second mode is top-down design."),
    )
    settings = make_settings(provider="auto", api_key="test-key", base_url=fake_anthropic.base_url)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].status == "done", app.conversation.turns[-1].error

    again = AtlasApp(settings, client=AtlasQuery(settings))  # a restart: history from the store
    async with again.run_test(size=SIZE) as pilot:
        await shown(pilot, again, 1)
        await ask(pilot, "And what is the second mode?")
        await settled(pilot)
        assert again.conversation.turns[-1].status == "done", again.conversation.turns[-1].error

    first, follow_up = (r.body["messages"] for r in fake_anthropic.requests)
    assert len(first) == 1
    assert follow_up[0] == {"role": "user", "content": QUESTION}
    assert follow_up[1]["role"] == "assistant"
    assert follow_up[1]["content"].startswith("It combines three modes of work.")
    assert follow_up[-1]["content"][-1]["text"] == "And what is the second mode?"
    with SessionStore(settings.resolved_sessions_path) as store:
        (summary,) = store.list_sessions()  # the follow-up continued the same session
        assert summary.turns == 2


async def test_sessions_screen_resumes_the_chosen_session(make_settings, warm_client):
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        older = add_session(store, "Who keeps the lighthouse?", "A keeper", "lighthouse.md")
        add_session(store, "What needs descaling?", "The espresso machine", "cafe.md")

    app = AtlasApp(settings, client=warm_client, resume="last")
    async with app.run_test(size=SIZE) as pilot:
        await shown(pilot, app, 1)
        assert shown_questions(app) == ["› What needs descaling?"]  # the last one resumed
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("down", "enter")
        await until(pilot, lambda: shown_questions(app) == ["› Who keeps the lighthouse?"])
        assert app.conversation.session.id == older
        assert app.query_one(DocumentsPane).documents[0].source == "lighthouse.md"
        assert "Who keeps the lighthouse?" in transcript_title(app)
        await ask(pilot, "What does the keeper trim?")  # continues the resumed session
        await settled(pilot)

    with SessionStore(settings.resolved_sessions_path) as store:
        questions = [t.question for t in store.load_session(older).turns]
    assert questions == ["Who keeps the lighthouse?", "What does the keeper trim?"]


async def test_resume_by_id_prefix_and_an_unknown_one(make_settings, warm_client):
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        older = add_session(store, "Who keeps the lighthouse?", "A keeper", "lighthouse.md")
        add_session(store, "What needs descaling?", "The espresso machine", "cafe.md")

    app = AtlasApp(settings, client=warm_client, resume=older[:6])
    async with app.run_test(size=SIZE) as pilot:
        await shown(pilot, app, 1)
        assert shown_questions(app) == ["› Who keeps the lighthouse?"]

    missing = AtlasApp(settings, client=warm_client, resume="zzzz")
    async with missing.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("no session 'zzzz'" in n.message for n in missing.notices))
        assert missing.conversation.turns == []


async def test_new_session_and_rename(make_settings, warm_client):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        first = app.conversation.session.id
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not app.query(TurnView))
        assert app.conversation.turns == [] and app.query_one(DocumentsPane).documents == ()
        assert transcript_title(app) == "Transcript"
        await ask(pilot, "Who keeps the lighthouse?")
        await settled(pilot)
        assert app.conversation.session.id not in (None, first)

        await app.run_action("screen.rename_session")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"Lamps", "enter")
        await until(pilot, lambda: "Lamps" in transcript_title(app))

    with SessionStore(settings.resolved_sessions_path) as store:
        titles = {s.id: (s.title, s.turns) for s in store.list_sessions()}
    assert titles == {first: (QUESTION, 1), app.conversation.session.id: ("Lamps", 1)}


async def test_export_from_the_palette_writes_markdown_and_json(
    make_settings, warm_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        await app.run_action("screen.export('md')")
        await until(pilot, lambda: any("Nothing to export" in n.message for n in app.notices))
        await ask(pilot, QUESTION)
        await settled(pilot)
        answer = app.conversation.turns[-1].answer
        session_id = app.conversation.session.id
        await pilot.press("ctrl+p", *"Export session as JSON")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        json_file = tmp_path / f"atlas-session-{session_id}.json"
        app.screen.query_one("Input").value = str(json_file)
        await pilot.press("enter")
        await until(pilot, json_file.exists)
        await app.run_action("screen.export('md')")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        default = Path(app.screen.query_one("Input").value)
        assert default.name == f"atlas-session-{session_id}.md"  # in Documents or the data dir
        await pilot.press("enter")  # the default as offered
        markdown_file = default
        await until(pilot, markdown_file.exists)
        await until(pilot, lambda: any(str(markdown_file) in n.message for n in app.notices))

    markdown = markdown_file.read_text(encoding="utf-8")
    assert QUESTION in markdown
    first_sentence = answer.split("[")[0].strip()
    assert first_sentence and first_sentence in markdown
    assert "trimodal.md" in markdown and "[^1-1]" in markdown  # the cited source, a footnote
    data = json.loads(json_file.read_text(encoding="utf-8"))
    assert data["session"]["turns"][0]["answer"] == answer


async def test_a_damaged_sessions_file_is_reported_kept_and_the_app_still_answers(
    make_settings, warm_client
):
    settings = make_settings()
    damaged = settings.resolved_sessions_path
    damaged.write_bytes(b"this is not a database, but it is somebody's file\n" * 64)
    before = damaged.read_bytes()

    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any(n.title == "Sessions" for n in app.notices))
        notice = next(n for n in app.notices if n.title == "Sessions")
        assert "not saved" in notice.message and str(damaged) in notice.message
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert view.turn.status == "done" and "bottom-up" in view.turn.answer
        app.clear_notifications()
        await pilot.press("ctrl+l")  # the sessions screen is explained instead of opened
        await until(pilot, lambda: any(n.title == "Sessions" for n in app.notices))
        assert not isinstance(app.screen, SessionsScreen)

    assert damaged.read_bytes() == before


async def test_a_long_session_reopens_every_turn_in_order(make_settings, warm_client):
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        session_id = store.create_session()
        for n in range(1, 12):  # more than one batch of reopened turns
            turn_id = store.begin_turn(session_id, f"Question {n}?")
            store.finish_turn(turn_id, f"Answer {n}.")

    app = AtlasApp(settings, client=warm_client, resume=session_id)
    async with app.run_test(size=SIZE) as pilot:
        await shown(pilot, app, 11)
        assert shown_questions(app) == [f"› Question {n}?" for n in range(1, 12)]
        await ask(pilot, QUESTION)  # a new question goes below them
        await settled(pilot)
        assert shown_questions(app)[-1] == f"› {QUESTION}"
