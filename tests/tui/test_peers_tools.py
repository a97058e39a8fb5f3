"""Find in the transcript, open a passage in $EDITOR, and a damaged stored turn, as a user meets
them: keys pressed on the real app over the tui conftest's index and a real session file."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from atlas_tui.conversation import ShownPassage
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.find_bar import CURRENT_STYLE, MATCH_STYLE, FindBar, shown_content
from atlas_tui.tui.widgets.transcript import TurnView
from tests.tui.helpers import ask, note, settled, until

SIZE = (120, 40)


def styles_of(bar: FindBar) -> list[str]:
    """The style each match is drawn with now, in order."""
    out = []
    for match in bar.matches:
        spans = shown_content(match.block).spans
        found = [str(s.style) for s in spans if (s.start, s.end) == (match.start, match.end)]
        out.append(found[-1] if found else "")
    return out


async def test_ctrl_f_finds_highlights_counts_and_steps_through_matches(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        await ask(pilot, "Who trims the lamp wick?")
        await settled(pilot)
        await pilot.press("ctrl+f", *"TRIM")  # case-insensitive: trimodal, trims
        bar = app.query_one(FindBar)
        await until(pilot, lambda: bar.count.endswith(f"/{len(bar.matches)}"))
        total = len(bar.matches)
        assert total >= 3, [shown_content(m.block).plain for m in bar.matches]
        assert bar.count == f"1/{total}"
        assert styles_of(bar) == [CURRENT_STYLE] + [MATCH_STYLE] * (total - 1)
        await pilot.press("enter")
        assert bar.count == f"2/{total}" and styles_of(bar)[1] == CURRENT_STYLE
        await pilot.press("f3")
        assert bar.count == f"3/{total}"
        await pilot.press("shift+enter")
        assert bar.count == f"2/{total}"
        await pilot.press("shift+f3")
        assert bar.count == f"1/{total}"
        await pilot.press("up")  # previous from the first wraps to the last
        assert bar.count == f"{total}/{total}"
        await pilot.press(*"zzz")
        assert bar.count == "no matches" and bar.matches == []
        await pilot.press("backspace", "backspace", "backspace")
        await until(pilot, lambda: bar.count == f"1/{total}")
        blocks = [m.block for m in bar.matches]
        await pilot.press("escape")  # closes and puts the text back as it was
        assert not bar.display and app.focused is not None and app.focused.id == "transcript"
        assert all(
            not [s for s in shown_content(b).spans if str(s.style) in (MATCH_STYLE, CURRENT_STYLE)]
            for b in blocks
        )
        await pilot.press("ctrl+f")  # reopens with the last text, matches shown again
        assert bar.display and bar.count == f"1/{total}"


async def test_find_also_matches_questions(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who keeps the zeppelin hangar?")
        await settled(pilot)
        await pilot.press("ctrl+f", *"keeps the zeppelin")
        bar = app.query_one(FindBar)
        await until(pilot, lambda: bar.count == "1/1")
        assert bar.matches[0].block.has_class("question")


@pytest.fixture
def fake_editor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """$EDITOR is a script that writes the arguments it was given."""
    log = tmp_path / "editor-args.txt"
    script = tmp_path / "fake-editor"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(script))
    return log


async def test_ctrl_e_in_the_documents_pane_opens_the_passage_at_its_line(
    make_settings, warm_client, fake_editor: Path
):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        await pilot.press("f4", "ctrl+e")
        await until(pilot, fake_editor.exists)
        passage = pane.documents[pane.highlighted or 0]
        line, path = fake_editor.read_text().splitlines()
        assert path == passage.path and Path(path).is_file()
        assert line == f"+{passage.line_start}" and passage.line_start >= 1

        fake_editor.unlink()
        await pilot.press("enter")  # the preview: e opens the same passage
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        await pilot.press("e")
        await until(pilot, fake_editor.exists)
        assert fake_editor.read_text().splitlines() == [line, path]


async def test_no_editor_or_a_missing_file_is_a_one_line_notice(
    make_settings, warm_client, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who trims the lamp wick?")
        await settled(pilot)
        await pilot.press("f4", "ctrl+e")
        await until(pilot, lambda: any("No editor is set" in n.message for n in app.notices))
        monkeypatch.setenv("EDITOR", "true")
        pane = app.query_one(DocumentsPane)
        turn = app.conversation.turns[-1]  # its file has gone since it was retrieved
        gone = ShownPassage.of(replace(turn.documents[0].passage, root="/nonexistent"))
        pane.show(turn.id, (gone,), set())
        await pilot.press("ctrl+e")
        await until(pilot, lambda: any("not there any more" in n.message for n in app.notices))
        assert all("\n" not in n.message for n in app.notices)


async def test_a_turn_stored_with_the_wrong_shape_opens_as_unreadable(make_settings, warm_client):
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        session_id = store.create_session()
        turn_id = store.begin_turn(session_id, "Who keeps the lighthouse?")
        store.finish_turn(turn_id, "A keeper.", status="done")
    db = sqlite3.connect(settings.resolved_sessions_path)
    db.execute("UPDATE turns SET documents = '{\"a\": 1}'")
    db.commit()
    db.close()
    app = AtlasApp(settings, client=warm_client, resume=session_id)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.query(TurnView)) == 1)
        view = app.query_one(TurnView)
        assert note(view).startswith("Part of this turn could not be read: documents")
        assert view.query_one(".note").has_class("error")
        await pilot.press("ctrl+r")  # a damaged turn is not regenerated into
        await until(pilot, lambda: any("damaged" in n.message for n in app.notices))
        await ask(pilot, "Who trims the lamp wick?")  # the session goes on
        await settled(pilot)
        assert app.conversation.turns[-1].status == "done"


async def test_find_can_be_rebound_in_the_config(make_settings, warm_client):
    app = AtlasApp(make_settings(keys={"find": "ctrl+g"}), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "Who trims the lamp wick?")
        await settled(pilot)
        await pilot.press("ctrl+g", *"wick")
        bar = app.query_one(FindBar)
        await until(pilot, lambda: bar.count.startswith("1/"))
        assert not any("Unknown actions" in n.message for n in app.notices)
