"""Issue 10 (6-9) and issue 9 (TUI parts): the UI state kept between launches (theme, the session
last used in the TUI), paths asked for exports and screenshots, the clipboard, hostile session
titles, unreadable stored turns, bad themes, and ctrl+n right after Enter.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from atlas_tui.conversation import Conversation
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.clipboard import system_copy
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.state import UIState
from atlas_tui.tui.widgets.transcript import Transcript, TurnView
from tests.tui.helpers import ask, settled, until

QUESTION = "What is the trimodal methodology?"
SIZE = (120, 40)
HOSTILE = "Quokka \x1b]52;c;SEFDS0VECg==\x1b\\keeper \u202eevil\u202c [bold]notes[/bold]"


def messages(app: AtlasApp) -> list[str]:
    return [n.message for n in app.notices]


async def test_a_palette_theme_is_remembered_and_a_bad_one_is_a_notice(make_settings, warm_client):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        app.theme = "nord"  # what picking it in the palette does
        await pilot.pause()
    again = AtlasApp(settings, client=warm_client)
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, again.warmed.is_set)
        assert again.theme == "nord"
        await pilot.pause()
    config_changed = AtlasApp(make_settings(theme="gruvbox"), client=warm_client)
    async with config_changed.run_test(size=SIZE) as pilot:
        await until(pilot, config_changed.warmed.is_set)
        assert config_changed.theme == "gruvbox"  # a theme set in the config since wins
        await pilot.pause()

    bad = AtlasApp(make_settings(theme="nonexistent-theme"), client=warm_client)
    async with bad.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("nonexistent-theme" in m for m in messages(bad)))
        assert bad.theme == "textual-dark"


async def test_reopens_the_session_last_used_in_the_tui_not_one_ask_made(
    make_settings, warm_client
):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        used = app.conversation.session.id
    with SessionStore(settings.resolved_sessions_path) as store:  # what `atlas-tui ask` does
        other = store.create_session()
        store.finish_turn(store.begin_turn(other, "Asked from the CLI?"), "Yes.")
    again = AtlasApp(settings, client=warm_client)
    async with again.run_test(size=SIZE) as pilot:
        transcript = again.query_one(Transcript)
        await until(pilot, lambda: "Reopened" in str(transcript.border_subtitle))
        assert len(again.query(TurnView)) == 1 and "ctrl+l" in str(transcript.border_subtitle)
        assert again.conversation.session.id == used
        assert again.conversation.turns[0].question == QUESTION


async def test_export_asks_for_the_path_and_reports_why_it_failed(
    make_settings, warm_client, tmp_path: Path
):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await app.run_action("screen.export('md')")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, PromptScreen)
        assert prompt.value.endswith(f"atlas-session-{app.conversation.session.id}.md")
        blocker = tmp_path / "a-file"
        blocker.write_text("in the way")
        prompt.query_one("Input").value = str(blocker / "export.md")  # a file as a folder
        await pilot.press("enter")
        await until(
            pilot, lambda: any("Cannot write" in m and "File exists" in m for m in messages(app))
        )
        await until(pilot, lambda: not isinstance(app.screen, PromptScreen))
        await app.run_action("screen.export('md')")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        target = tmp_path / "out" / "session.md"
        app.screen.query_one("Input").value = str(target)
        await pilot.press("enter")
        await until(pilot, target.exists)
        assert QUESTION in target.read_text(encoding="utf-8")


async def test_screenshot_asks_for_the_path_and_reports_the_reason(
    make_settings, warm_client, tmp_path: Path
):
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        command = next(c for c in app.get_system_commands(app.screen) if c.title == "Screenshot")
        command.callback()
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        app.screen.query_one("Input").value = str(blocker / "shot.svg")
        await pilot.press("enter")
        await until(pilot, lambda: any("File exists" in m for m in messages(app)))
        assert not any("Failed to save screenshot" in m for m in messages(app))


def fake_tool(folder: Path, name: str, script: str) -> list[str]:
    tool = folder / name
    tool.write_text(f"#!/bin/sh\n{script}\n")
    tool.chmod(0o755)
    return [str(tool)]


def test_system_copy_uses_a_tool_and_reports_one_that_fails_or_hangs(tmp_path: Path):
    out = tmp_path / "clipboard.txt"
    works = fake_tool(tmp_path, "xclip", f"cat > {out}")
    assert system_copy("hello", [works]).tool.endswith("xclip")
    assert out.read_text() == "hello"
    broken = fake_tool(tmp_path, "wl-copy", "echo 'no display' >&2; exit 1")
    hangs = fake_tool(tmp_path, "xsel", "sleep 30")
    copied = system_copy("hello", [broken, hangs])
    assert copied.tool == ""
    assert "no display" in copied.problem and "did not finish" in copied.problem


async def test_copy_a_chosen_turn_with_only_its_cited_sources(
    make_settings, warm_client, monkeypatch: pytest.MonkeyPatch
):
    for variable in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(variable, raising=False)  # no clipboard tool: only OSC 52
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await ask(pilot, "Who keeps the lighthouse?")
        await settled(pilot)
        first = app.conversation.turns[0]
        assert len(first.documents) > len(first.cited)  # more retrieved than cited
        await pilot.press("f3", "shift+up", "shift+up", "ctrl+t")
        await until(pilot, lambda: any("(OSC 52;" in m for m in messages(app)))
        copied = app.clipboard
        assert copied.startswith(f"## {QUESTION}")
        listed = [line for line in copied.splitlines() if line.startswith("- [")]
        assert [int(line[3 : line.index("]")]) for line in listed] == sorted(first.cited)


async def test_hostile_titles_and_snippets_are_shown_as_plain_text(make_settings, warm_client):
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        session = store.create_session()
        turn = store.begin_turn(session, HOSTILE)
        store.finish_turn(turn, HOSTILE)
    app = AtlasApp(settings, client=warm_client, new_session=True)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        await pilot.press("slash", *"quokka")
        table = app.screen.query_one("DataTable")
        await until(pilot, lambda: table.row_count == 1)
        shown = " ".join(str(cell) for cell in table.get_row_at(0))
        assert "Quokka" in shown and "[bold]notes[/bold]" in shown  # markup shown literally
        assert "\x1b" not in shown and "SEFDS0VECg" not in shown  # bidi: the cli helper's filter


async def test_a_turn_of_the_wrong_shape_is_a_notice_not_a_crash(make_settings, warm_client):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
    with sqlite3.connect(settings.resolved_sessions_path) as db:
        db.execute("UPDATE turns SET documents = ?", (json.dumps({"a": 1}),))
    again = AtlasApp(settings, client=warm_client)
    async with again.run_test(size=SIZE) as pilot:  # reopened: the turn, marked unreadable
        await until(pilot, lambda: len(again.query(TurnView)) == 1)
        assert "could not be read" in str(again.query_one(TurnView).query_one(".note").render())
        await ask(pilot, "Who keeps the lighthouse?")  # the app still answers
        await settled(pilot)
        assert again.conversation.turns[-1].status == "done"
    third = AtlasApp(settings, client=warm_client)  # and on the next start too
    async with third.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(third.query(TurnView)) == 2)
        assert third.conversation.turns[-1].answer


async def test_ctrl_n_right_after_enter_keeps_the_next_question_apart(
    make_settings, warm_client, monkeypatch: pytest.MonkeyPatch
):
    """At tmux speed the answer's thread may start only after ctrl+n was handled; a short
    sleep at its start makes that ordering certain (the store and the app stay real)."""
    original = Conversation.recording

    def late(self: Conversation, *args: object, **kwargs: object) -> object:
        time.sleep(0.5)  # in the answer's worker thread
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Conversation, "recording", late)
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        first = app.conversation.session.id
        await pilot.press(*"Asked here?", "enter", "ctrl+n", *"Asked anew?", "enter")
        await until(
            pilot, lambda: app.conversation.turns and app.conversation.turns[-1].status == "done"
        )
        await until(pilot, lambda: app.conversation.session.id not in (None, first))
    with SessionStore(settings.resolved_sessions_path) as store:
        asked = {
            s.id: [t.question for t in store.load_session(s.id).turns]
            for s in store.list_sessions()
        }
    assert asked.pop(first) == [QUESTION, "Asked here?"]
    assert list(asked.values()) == [["Asked anew?"]]


async def test_a_damaged_state_file_is_reported_and_replaced(make_settings, warm_client):
    path = UIState.load().path
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: any("is damaged" in m for m in messages(app)))
        app.theme = "nord"
        await pilot.pause()
    assert json.loads(path.read_text())["theme"] == "nord"
