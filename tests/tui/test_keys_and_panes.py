"""Issue 10: nothing typed is lost, keys belong to the screen shown, citations by keyboard, the
documents pane (tails, turn, resizing), rebound keys while typing, toasts that keep off the answer.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

from textual import events

from atlas_tui.conversation import ShownPassage
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.widgets.documents import (
    DocumentsPane,
    Splitter,
    distinguishing,
    document_prompt,
)
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript, TurnView
from atlas_tui.types import Passage
from tests.tui.helpers import ask, cell_of, settled, until

QUESTION = "What is the trimodal methodology?"
SIZE = (120, 40)
KEY_NAMES = {" ": "space", "?": "question_mark"}


def footer_keys(app: AtlasApp) -> dict[str, str]:
    """What the footer lists: key -> description of the bindings shown there."""
    return {
        key: active.binding.description
        for key, active in app.screen.active_bindings.items()
        if active.binding.show and active.enabled
    }


async def test_typing_in_the_documents_pane_asks_the_question(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await pilot.press("f4")
        assert isinstance(app.focused, DocumentsPane)
        await pilot.press(*"Who keeps the lighthouse?", "enter")
        await until(pilot, lambda: len(app.conversation.turns) == 2)
        assert app.conversation.turns[-1].question == "Who keeps the lighthouse?"
        await settled(pilot)
        assert "lighthouse keeper" in app.conversation.turns[-1].answer
        await pilot.press("f3")  # from the transcript too
        await pilot.press(*"Zeppelin")
        box = app.query_one(QueryBox)
        assert box.has_focus and box.text == "Zeppelin"


async def test_a_burst_of_keys_typed_in_the_transcript_keeps_its_order(make_settings, warm_client):
    """As a terminal delivers fast typing: every key is queued before the app handles the first
    (seen scrambled in the browser: "Whahe trimodal methodology in t is tAtlas?")."""
    app = AtlasApp(make_settings(), client=warm_client)
    typed = "What is the trimodal methodology in Atlas?"
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        box = app.query_one(QueryBox)
        for start in range(3):  # the transcript, then the documents pane, then no focus
            await pilot.press(("f3", "f4", "f3")[start])
            if start == 2:
                app.screen.set_focus(None)
            box.clear()
            for i, character in enumerate(typed):
                app.post_message(events.Key(KEY_NAMES.get(character, character), character))
                await asyncio.sleep(0.002 * (i % 3))  # bursts, some keys a little apart
            await until(pilot, lambda: len(box.text) >= len(typed))
            await pilot.pause()
            assert box.text == typed and box.has_focus


async def test_ctrl_n_focuses_the_query_box(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await pilot.press("f4", "ctrl+n")
        await until(pilot, lambda: not app.query(TurnView))
        assert app.query_one(QueryBox).has_focus


async def test_main_keys_neither_listed_nor_run_on_the_sessions_screen(make_settings, warm_client):
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        assert "ctrl+r" in footer_keys(app)
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        keys = footer_keys(app)
        assert not {"ctrl+r", "ctrl+t", "ctrl+b", "ctrl+s", "ctrl+o"} & set(keys)
        assert "Rename" in keys.values() and "Delete" in keys.values()
        await pilot.press("ctrl+s", "ctrl+r", "ctrl+b")
        await pilot.pause(0.3)
        assert app.conversation.retrieval.mode == "hybrid"
        assert len(app.conversation.turns) == 1 and app.conversation.turns[0].status == "done"
        assert app.query_one(DocumentsPane).display
        # the palette on this screen offers no main-screen command either
        titles = {c.title for c in app.get_system_commands(app.screen)}
        assert "Regenerate" not in titles and "Quit" in titles
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, SessionsScreen))
        await pilot.press("f1")  # a modal: the same holds
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        assert "ctrl+s" not in footer_keys(app)
        await pilot.press("ctrl+s")
        assert app.conversation.retrieval.mode == "hybrid"
    with SessionStore(settings.resolved_sessions_path) as store:
        (summary,) = store.list_sessions()
    assert summary.turns == 1  # ctrl+r on the sessions screen regenerated nothing


async def test_citations_are_followed_by_keyboard(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "trimodal methodology and the lighthouse keeper")
        await settled(pilot)
        record = app.conversation.turns[-1]
        cited = sorted(record.cited)
        assert len(cited) >= 2, record.answer
        pane = app.query_one(DocumentsPane)
        await pilot.press("f3")
        assert "Next citation" in footer_keys(app).values()
        await pilot.press("right_square_bracket")
        assert pane.highlighted == cited[0] - 1
        await pilot.press("right_square_bracket")
        assert pane.highlighted == cited[1] - 1
        await pilot.press("left_square_bracket")
        assert pane.highlighted == cited[0] - 1
        assert isinstance(app.focused, Transcript)  # stepping keeps the transcript focused
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        assert screen.number == cited[0]
        assert screen.passage == record.documents[cited[0] - 1]


async def test_clicking_a_citation_selects_its_document(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        pane.highlighted = 2
        await pilot.pause()
        await pilot.click(offset=cell_of(view.answer, "[1]"))
        await until(pilot, lambda: pane.highlighted == 0 and pane.has_focus)


async def test_documents_pane_shows_the_distinguishing_tail_and_its_turn(
    make_settings, warm_client
):
    def passage(heading: str, text: str = "text") -> ShownPassage:
        return ShownPassage.of(
            Passage(
                "guide.md#0",
                text,
                "guide.md",
                "/docs",
                "Ingesting your own documents",
                "Ingesting your own documents > " + heading,
                0.95,
            )
        )

    one = document_prompt(1, passage("Supported formats > PDF files"), cited=True)
    two = document_prompt(2, passage("Supported formats > Markdown files"), cited=False)
    first_one, first_two = one.plain.split("\n")[0], two.plain.split("\n")[0]
    # what differs comes first: a 38-column pane (a 100-column terminal) still shows it
    assert first_one.startswith("●[1] PDF files") and first_two.startswith(" [2] Markdown files")
    assert "Ingesting your own documents › Supported formats" in one.plain.split("\n")[1]
    # the same last heading under two parents: the parent is shown with it
    setups = [passage("Linux > Setup"), passage("macOS > Setup"), passage("Usage")]
    lines = [
        document_prompt(i, p, False, shown).plain.split("\n")[0]
        for i, (p, shown) in enumerate(zip(setups, distinguishing(setups), strict=True), 1)
    ]
    assert [line.split("  ")[0] for line in lines] == [
        " [1] Linux › Setup",
        " [2] macOS › Setup",
        " [3] Usage",
    ]

    # passages under one heading (a chunk spanning sub-sections): their own first heading
    pane = DocumentsPane()

    def shared(text: str) -> ShownPassage:
        raw = passage("Supported formats", text).passage
        return ShownPassage.of(replace(raw, heading="Ingesting your own documents"))

    pane.show(1, (shared("## PDF files\n\nText"), shared("Plain")), set())
    firsts = [pane.get_option_at_index(i).prompt.plain.split("\n")[0] for i in range(2)]
    assert firsts[0].startswith(" [1] PDF files") and firsts[1].startswith(" [2] Plain")

    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        await ask(pilot, "Who keeps the lighthouse?")
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        assert str(pane.border_title) == "Documents for turn 2"
        await pilot.press("f3", "shift+up", "shift+up", "right_square_bracket")
        assert str(pane.border_title) == "Documents for turn 1"


async def test_the_split_resizes_by_keys_and_by_dragging(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(160, 40)) as pilot:
        pane = app.query_one(DocumentsPane)
        start = pane.outer_size.width
        await pilot.press("f3", "ctrl+left", "ctrl+left")  # from a pane (the box moves by words)
        await pilot.pause()
        assert pane.outer_size.width == start + 4
        await pilot.press("ctrl+right")
        await pilot.pause()
        assert pane.outer_size.width == start + 2
        x = app.query_one(Splitter).region.x
        await pilot.mouse_down(Splitter)
        await pilot.hover(offset=(x - 20, 5))
        await pilot.mouse_up(offset=(x - 20, 5))
        await pilot.pause()
        assert pane.outer_size.width == 160 - (x - 20) - 1


async def test_the_transcript_keeps_a_readable_width(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(240, 40)) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.query_one(Transcript).size.width > 120
        assert view.outer_size.width <= 100


async def test_rebound_keys_work_and_are_listed_while_typing(make_settings, warm_client):
    settings = make_settings(keys={"copy_answer": "ctrl+y", "cancel": "ctrl+c", "help": "ctrl+a"})
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        note = next(n.message for n in app.notices if "keeps" in n.message)
        assert "ctrl+a" in note and "ctrl+y" not in note and "ctrl+c" not in note
        await ask(pilot, QUESTION)
        await settled(pilot)
        box = app.query_one(QueryBox)
        assert box.has_focus
        keys = footer_keys(app)
        assert keys.get("ctrl+y") == "Copy answer" and keys.get("ctrl+c") == "Cancel answer"
        await pilot.press("ctrl+y")
        await until(pilot, lambda: app.clipboard.startswith(f"## {QUESTION}"))
        await app.run_action("screen.help")  # what F1 shows while the query box has focus
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = app.screen.rows
        assert ("^y", "Copy answer") in rows and ("^c", "Cancel answer") in rows
        await pilot.press("escape")
        await until(pilot, lambda: box.has_focus)
        await pilot.press("ctrl+a")  # kept by the query box while typing: moves the cursor
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f3", "ctrl+a")  # and opens help from another pane
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))


async def test_stacked_toasts_stay_off_the_answer_at_80x24(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        for n in range(5):  # errors are always toasts (a one-line notice is in the status line)
            app.notify(
                f"Error number {n} with a sentence long enough to wrap twice.", severity="error"
            )
        await pilot.pause(0.3)
        toasts = list(app.screen.query("Toast"))
        assert len(toasts) == 2
        transcript = app.query_one(Transcript).region
        answer = view.answer.region.intersection(transcript)
        for toast in toasts:
            assert not toast.region.overlaps(answer), (toast.region, answer)
        assert "no API key" in app.query_one(StatusLine).answerer
