"""Issue 22's UX review, one test per defect it found (each failed before its fix)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App
from textual.command import CommandList, CommandPalette
from textual.geometry import Region
from textual.widget import Widget
from textual.widgets import DataTable, DirectoryTree, Input, Static
from textual.widgets.markdown import MarkdownFence

from atlas_tui.conversation import ShownPassage
from atlas_tui.endpoints import Endpoint
from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import Session, SessionStore, SessionTurn
from atlas_tui.sessions.export import export_markdown
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.screens.ingest import IngestScreen
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.widgets.answer_markdown import WRAP_MARK
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.find_bar import searchable_blocks, shown_content
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import CITATION_CURSOR, Transcript, TurnView
from atlas_tui.types import Citation, Passage
from tests.fake_anthropic import Reply, closed_port_url
from tests.tui.helpers import QUESTION, ask, note, settled, until

SIZE = (120, 36)


async def test_a_letter_typed_in_the_documents_pane_starts_the_question_whole(
    make_settings, warm_client, monkeypatch: pytest.MonkeyPatch
):
    """F4, Down, `explain` opened $EDITOR and left `xplain`; with nothing highlighted the `e`
    was dropped."""
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.delenv("EDITOR", raising=False)
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(QueryBox)
        await pilot.press("f4", *"explain")  # nothing in the pane yet
        await until(pilot, lambda: box.text == "explain")
        box.clear()
        await ask(pilot, QUESTION)
        await settled(pilot)
        await pilot.press("f4", "down")
        assert isinstance(app.focused, DocumentsPane) and app.focused.highlighted == 1
        await pilot.press(*"explain")
        await until(pilot, lambda: box.text == "explain")
        assert not any("editor" in n.message.lower() for n in app.notices)
        await pilot.press("f4", "ctrl+e")  # the pane's editor key
        await until(pilot, lambda: any("No editor is set" in n.message for n in app.notices))


async def test_help_reaches_every_key_on_a_small_terminal(make_settings, warm_client):
    """F1 at 36 rows or fewer was cut: End stopped at `tab / shift+tab`, the transcript's keys
    and ctrl+left/right were unreachable, and <, >, the editor key, space and F3 not listed."""
    settings = make_settings(keys={"next_citation": "n"})  # a rebound key is shown rebound
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: "no API key" in app.query_one(StatusLine).answerer)
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        box = screen.query_one("#help-box")
        assert table.region.bottom <= box.region.bottom - 1  # inside its border, not cut
        assert table.max_scroll_y > 0  # more keys than rows: it scrolls ...
        await pilot.press("end")
        await pilot.pause()
        assert table.scroll_y == table.max_scroll_y  # ... to the last one
        rows = [" ".join(str(cell) for cell in table.get_row_at(i)) for i in range(table.row_count)]
        listed = "\n".join(rows)
        for key, action in (
            ("n", "Next citation"),
            ("[", "Previous citation"),
            ("⏎", "Open cited passage"),
            ("shift+↑", "Previous turn"),
            ("<", "Earlier answer"),
            (">", "Later answer"),
            ("^e", "Open in $EDITOR"),
            ("space", "Preview"),
            ("f3", "Next match"),
            ("shift+f3", "Previous match"),
            ("^←", "Wider documents"),
            ("^→", "Narrower pane"),
            ("^p", "Command palette"),
        ):
            assert any(key in row and action in row for row in rows), (key, action, listed)
        assert "Transcript" in listed and "Documents pane" in listed and "Find" in listed


def two_alike_sessions(path: str) -> tuple[str, str]:
    """Two sessions titled alike: one recorded by `ask` (one turn), one by the TUI (two)."""
    with SessionStore(path) as store:
        asked = store.create_session(origin="ask")
        turn = store.begin_turn(asked, "How do I ingest a folder?")
        store.finish_turn(turn, "With ingest.", status="done")
        tui = store.create_session(origin="tui")
        for question in ("How do I ingest a folder?", "And a single PDF?"):
            turn = store.begin_turn(tui, question)
            store.finish_turn(turn, "Like so.", status="done")
    return asked, tui


async def test_sessions_screen_down_reaches_the_list_and_alike_sessions_differ(
    make_settings, warm_client
):
    """Down from the search box left the focus there (a following r was typed into the search);
    two sessions titled alike could not be told apart; no preview of a session's questions."""
    settings = make_settings()
    asked, tui = two_alike_sessions(settings.resolved_sessions_path)
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        screen = app.screen
        table = screen.query_one(DataTable)
        rows = {str(key.value): [str(c) for c in table.get_row(key)] for key in table.rows}
        assert rows[asked][0] == rows[tui][0] == "How do I ingest a folder?"
        assert "ask" in rows[asked] and "TUI" in rows[tui]
        assert rows[asked] != rows[tui]  # turns, origin (and when) tell them apart
        preview = screen.query_one("#sessions-preview-text", Static)
        assert "And a single PDF?" in str(preview.render())  # the newest session, selected
        await pilot.press("down")
        await until(pilot, lambda: "And a single PDF?" not in str(preview.render()))
        assert "1. How do I ingest a folder?" in str(preview.render())

        await pilot.press("slash", *"ingest", "down")
        assert table.has_focus
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press("escape")
        search = screen.query_one("#sessions-search", Input)
        assert search.value == "ingest"


class IngestHost(App[None]):
    """The ingest dialog alone, over `start`; `chosen` is what it was dismissed with."""

    def __init__(self, start: Path) -> None:
        super().__init__()
        self.start = start
        self.chosen: list[str | None] = []

    def on_mount(self) -> None:
        self.push_screen(IngestScreen(self.start), self.chosen.append)


def footer_actions(app: App) -> set[str]:
    return {a.binding.description for a in app.screen.active_bindings.values() if a.binding.show}


async def test_the_ingest_dialog_completes_paths_and_enter_on_a_folder_picks_it(tmp_path: Path):
    """Tab jumped to the tree instead of completing the path, Enter on a folder only expanded
    it, and the footer showed only `esc Cancel`."""
    for folder in ("docs_alpha", "docs_beta"):
        (tmp_path / folder).mkdir()
    (tmp_path / "notes.md").write_text("# Notes\n")
    app = IngestHost(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, IngestScreen))
        path = app.screen.query_one(Input)
        assert {"Complete", "Ingest", "Cancel"} <= footer_actions(app)
        path.value = f"{tmp_path}/no"
        await pilot.press("tab")
        assert path.value == f"{tmp_path}/notes.md" and path.has_focus
        path.value = f"{tmp_path}/docs"
        await pilot.press("tab")  # two folders: as far as they agree, and both are named
        assert path.value == f"{tmp_path}/docs_"
        hint = str(app.screen.query_one("#ingest-matches", Static).render())
        assert "docs_alpha/" in hint and "docs_beta/" in hint
        await pilot.press("b", "tab")
        assert path.value == f"{tmp_path}/docs_beta/"
        await pilot.press("tab")  # nothing left to complete: on to the tree
        tree = app.screen.query_one(DirectoryTree)
        assert tree.has_focus
        assert {"Ingest this", "Open / close"} <= footer_actions(app)
        await until(pilot, lambda: tree.cursor_node is not None and tree.cursor_node.data)
        await pilot.press("home", "down")  # the first entry of the folder shown: docs_alpha
        node = tree.cursor_node
        assert node is not None and node.data is not None
        await pilot.press("enter")
        await until(pilot, lambda: app.chosen)
    assert app.chosen == [str(node.data.path)] and Path(app.chosen[0]).is_dir()


async def test_typing_in_the_ingest_dialog_goes_on_from_the_folder_shown(tmp_path: Path):
    """ctrl+o's path box opened with its folder selected, so the first key typed replaced the
    whole path instead of naming something inside it."""
    (tmp_path / "notes").mkdir()
    app = IngestHost(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, IngestScreen))
        await pilot.press(*"notes", "enter")
        await until(pilot, lambda: app.chosen)
    assert app.chosen == [str(tmp_path / "notes")]


async def test_the_offline_toast_waits_for_the_first_start_dialog(make_settings, tmp_path):
    """On a first start with no index and no key, the "Offline answers" toast came up with the
    ingest-the-demo dialog and covered its lower edge at 80x24."""
    settings = make_settings(db_path=str(tmp_path / "fresh-db"))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), rounds=1500)
        await pilot.pause()
        assert not [n for n in app.notices if n.title == "Offline answers"]
        await pilot.press("escape")  # not now
        await until(pilot, lambda: any(n.title == "Offline answers" for n in app.notices))


def lit_citations(view: TurnView) -> list[str]:
    """The text of every span drawn in the citation cursor's style in a turn's answer."""
    return [
        content.plain[span.start : span.end]
        for block in searchable_blocks(view.answer)
        for content in [shown_content(block)]
        for span in content.spans
        if str(span.style) == CITATION_CURSOR
    ]


async def test_the_citation_picked_with_brackets_is_marked_in_the_answer(
    make_settings, warm_client
):
    """] and [ selected a citation (its document highlighted in the pane), but the transcript
    showed no cursor on the [n] it had reached."""
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "trimodal methodology and the lighthouse keeper")
        await settled(pilot)
        cited = sorted(app.conversation.turns[-1].cited)
        assert len(cited) >= 2
        assert lit_citations(view) == []
        await pilot.press("f3", "right_square_bracket")
        await until(pilot, lambda: bool(lit_citations(view)))
        assert set(lit_citations(view)) == {f"[{cited[0]}]"}
        await pilot.press("right_square_bracket")
        await until(pilot, lambda: set(lit_citations(view)) == {f"[{cited[1]}]"})
        await pilot.press("f2")  # the transcript lost the focus: the cursor is gone
        await until(pilot, lambda: lit_citations(view) == [])


async def test_notices_keep_off_the_documents_pane_at_80x24(make_settings, warm_client):
    """Toasts sat over the documents pane: "Resumed", "Exported", "New session" and the copy
    notice were 7 lines tall at 80x24, and "Ingest finished" hid items [1] to [3]."""
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        app.clear_notifications()
        await pilot.press("ctrl+t")  # the copy notice (OSC 52 only here: no clipboard tool)
        await until(pilot, lambda: any("Copied" in n.message for n in app.notices))
        app.notify("Exported: /home/someone/Documents/atlas-session-1234abcd.md", markup=False)
        await pilot.pause(0.3)
        assert not app.screen.query("Toast")  # one line each: said in the status line
        status = str(app.query_one(StatusLine).render())
        assert "Exported: /home/someone/Documents/atlas-session-1234abcd.md" in status
        await until(pilot, lambda: "Exported" not in str(app.query_one(StatusLine).render()))
        report = "Files: 1 added, 0 updated, 0 unchanged, 0 removed. Chunks written: 3."
        skipped = "\n".join(f"  blob{n}.bin: not text" for n in range(3))
        app.notify(f"{report}\nSkipped 3:\n{skipped}", title="Ingest finished", timeout=15)
        await until(pilot, lambda: bool(app.screen.query("Toast")))
        await pilot.pause(0.3)
        first_three = Region(pane.region.x, pane.region.y, pane.region.width, 1 + 3 * 2)
        for toast in app.screen.query("Toast"):
            assert not toast.region.overlaps(first_three), (toast.region, first_three)


def drawn_lines(widget: Widget) -> list[str]:
    """The widget's lines as drawn on screen."""
    region = widget.region
    return [strip.text for strip in widget.render_lines(Region(0, 0, region.width, region.height))]


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_the_layout_fits_a_small_terminal(make_settings, warm_client, size):
    """80x24: the documents pane kept ~30 columns and every second line read
    `keyboard-reference.md ›…`; the status line was cut mid-item with no ellipsis; the query
    box's placeholder was cut, even at 120 columns."""
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=size) as pilot:
        box = app.query_one(QueryBox)
        placeholder = str(box.placeholder)
        assert box.content_region.width >= len(placeholder)  # the whole hint shows
        await ask(pilot, QUESTION)
        await settled(pilot)
        app.clear_notifications()
        await pilot.pause()
        pane = app.query_one(DocumentsPane)
        transcript = app.query_one(Transcript)
        if size[0] == 80:
            assert pane.outer_size.width <= 26 and transcript.outer_size.width >= 52
            prompts = [str(pane.get_option_at_index(i).prompt) for i in range(pane.option_count)]
            assert all("\n" not in prompt for prompt in prompts)  # one line a passage
        lines = [line.rstrip(" │╮╯╭╰─") for line in drawn_lines(pane)]
        assert not any(line.endswith("›…") or line.endswith("› …") for line in lines)
        status = app.query_one(StatusLine)
        (line,) = drawn_lines(status)
        shown = line.rstrip()
        parts = [part.strip() for part in shown.removesuffix("…").split("│")]
        whole = status.parts()
        assert all(part in whole for part in parts if part), (parts, whole)  # no item cut
        if len(parts) < len(whole):
            assert shown.endswith("…")


async def test_status_items_do_not_outlive_what_they_describe(make_settings, warm_client):
    """ "Reopened · ctrl+l for others" stayed after new questions, and `first token 0.07 s`
    stayed after ctrl+n."""
    settings = make_settings()
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, QUESTION)
        await settled(pilot)
    again = AtlasApp(settings, client=warm_client)  # reopens that session
    async with again.run_test(size=SIZE) as pilot:
        transcript = again.query_one(Transcript)
        await until(pilot, lambda: "Reopened" in str(transcript.border_subtitle))
        await ask(pilot, "Who keeps the lighthouse?")
        await settled(pilot)
        assert "Reopened" not in str(transcript.border_subtitle)
        status = again.query_one(StatusLine)
        assert "first token" in status.speed
        await pilot.press("ctrl+n")
        await until(pilot, lambda: not again.query(TurnView))
        again.clear_notifications()
        assert status.speed == "" and "first token" not in str(status.render())
        assert status.usage == ""


async def search_palette(pilot, search: str) -> CommandList:
    """The command palette open, `search` typed, its results found (the search, a worker, ended)."""
    app = pilot.app
    await pilot.press("ctrl+p")
    await until(pilot, lambda: isinstance(app.screen, CommandPalette))
    await pilot.press(*search)
    results = app.screen.query_one(CommandList)

    def searched() -> bool:
        running = any(worker.is_running for worker in app.screen.workers)
        return results.option_count > 0 and not running

    await until(pilot, searched)
    return results


async def palette(pilot, search: str) -> list[str]:
    """What the command palette lists for `search`, each entry's title and help as shown."""
    results = await search_palette(pilot, search)
    shown = [str(results.get_option_at_index(i).prompt) for i in range(results.option_count)]
    await pilot.press("escape")
    return shown


async def test_the_palette_says_what_each_mode_and_model_is(make_settings, fake_anthropic):
    """The palette said "Retrieval mode: hybrid — Search the index by hybrid", and the
    built-in model list offered a model with no price (the status line then said
    `≥$0.0088 (some models unpriced)`)."""
    settings = make_settings(provider="auto", api_key="k", base_url=fake_anthropic.base_url)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        modes = await palette(pilot, "Retrieval mode")
        for mode, says in (("hybrid", "meaning"), ("vector", "meaning"), ("keyword", "words")):
            (entry,) = [e for e in modes if f"Retrieval mode: {mode}" in e]
            assert says in entry and f"by {mode}" not in entry, entry
        assert any("(current)" in e for e in modes if "hybrid" in e)
        models = [e for e in await palette(pilot, "Model: claude") if "Model: claude" in e]
        assert len(models) >= 3
        assert all("$" in entry and "per million" in entry for entry in models), models


async def test_a_passage_on_one_line_says_line_not_lines_n_to_n(
    make_settings, warm_client, tmp_path: Path
):
    """Previews and exports said `lines 42–42` for a passage on one line."""
    path = tmp_path / "one.md"
    path.write_text("# One\n\nA single line of text.\n")
    one = Passage("o#0", "A single line of text.", "one.md", str(tmp_path), "One", "One", 0.5,
                  start=7, end=29, line_start=3, line_end=3)  # fmt: skip
    many = replace(one, line_end=5)
    assert (one.line_span, many.line_span, replace(one, line_start=0).line_span) == (
        "line 3",
        "lines 3–5",
        "",
    )
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        preview = PreviewScreen(1, ShownPassage.of(one), "line", [], lambda p: path.read_text())
        app.call_later(app.push_screen, preview)
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        header = str(app.screen.query_one("#preview-header", Static).render())
        assert "line 3" in header and "lines 3–3" not in header
    turn = SessionTurn(1, "s1", 1, "Q?", (one,), "A [1].", (Citation(1, "o#0", "A single"),))
    session = Session("s1", "T", 0.0, 0.0, (replace(turn, status="done"),))
    text = export_markdown(session)
    assert "line 3" in text and "lines 3–3" not in text


async def test_without_an_index_the_way_to_make_one_is_named(make_settings, tmp_path: Path):
    """The no-index dialog never mentioned ctrl+o, and asking anyway said "^r regenerates"."""
    settings = make_settings(db_path=str(tmp_path / "no-index"))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), rounds=1500)
        question = str(app.screen.query_one(".dialog-text", Static).render())
        assert "ctrl+o" in question
        await pilot.press("escape")
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        said = note(view)
        assert "ctrl+o" in said and "regenerates" not in said, said


async def test_claude_out_of_reach_answers_offline_labelled(make_settings):
    """With a key set and Claude unreachable (no network), there was no answer at all, while a
    local endpoint that is down falls back to the offline answer: Claude does the same now."""
    settings = make_settings(
        provider="auto", api_key="test-key", base_url=closed_port_url(), max_retries=0
    )
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, QUESTION)
        await settled(pilot)
        turn = app.conversation.turns[-1]
        assert turn.status == "done" and turn.answerer == "offline extractive"
        assert view.answer.source.startswith("*Claude is not answering (Could not connect")
        assert "_Offline extractive answer" in view.answer.source and turn.cited
        assert "offline extractive" in note(view)
        assert "Claude" in str(app.query_one(StatusLine).answerer)  # the next one tries Claude


async def test_the_question_is_written_in_the_editor(
    make_settings, warm_client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """Peers (aichat, posting) let a long question be written in $EDITOR: ctrl+e in the query
    box opens it on the draft, and what was saved comes back to the box."""
    script = tmp_path / "editor"
    seen = tmp_path / "seen.txt"
    script.write_text(  # keeps what it was given, then writes the question
        f'#!/bin/sh\ncp "$1" "{seen}"\nprintf "How do I ingest\\na folder?\\n" > "$1"\n'
    )
    script.chmod(0o755)
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", str(script))
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=SIZE) as pilot:
        box = app.query_one(QueryBox)
        await pilot.press(*"draft")
        await pilot.press("ctrl+e")
        await until(pilot, lambda: box.text == "How do I ingest\na folder?")
        assert seen.read_text() == "draft"
        assert box.has_focus  # Enter sends it, as typed


async def test_temperature_and_answer_length_are_the_sessions_own(make_settings, fake_ollama):
    """Peers (oterm) keep a temperature and an answer length per session, beside its model and
    system prompt: set from the palette, sent to the model, stored with the session."""
    fake_ollama.script(Reply.text("Warm."), Reply.text("Again."))
    ollama = Endpoint("ollama", fake_ollama.base_url, ("qwen3",), label="Ollama")
    settings = make_settings(provider="auto", endpoints=(ollama,))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, app.warmed.is_set)
        await run_command(pilot, "Temperature")
        await pilot.press(*"hot", "enter")  # refused in place, nothing changes
        await until(pilot, lambda: any("temperature must" in n.message for n in app.notices))
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*["backspace"] * 3, *"0.2", "enter")
        await run_command(pilot, "Answer length")
        await pilot.press(*"300", "enter")
        await until(pilot, lambda: app.conversation.session.max_tokens == 300)
        assert app.conversation.session.temperature == 0.2
        assert "temperature 0.2 · up to 300 tokens" in app.query_one(StatusLine).parts()
        await ask(pilot, QUESTION)
        await settled(pilot)
        body = fake_ollama.last_body
        assert (body["temperature"], body["max_tokens"]) == (0.2, 300)
    with SessionStore(settings.resolved_sessions_path) as store:
        session = store.load_session("last")
    assert (session.temperature, session.max_tokens) == (0.2, 300)
    again = AtlasApp(settings, client=AtlasQuery(settings))  # reopened: still the session's
    async with again.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: again.conversation.session.temperature == 0.2)
        await ask(pilot, "And more?")
        await settled(pilot)
        assert fake_ollama.last_body["temperature"] == 0.2


async def run_command(pilot, title: str) -> None:
    """Run the palette's command `title` (typed, then chosen with Enter)."""
    await search_palette(pilot, title)
    await pilot.press("enter")
    await until(pilot, lambda: not isinstance(pilot.app.screen, CommandPalette))


LONG_COMMAND = (
    "atlas-tui ingest PATH [PATH ...] [--db URI] [--collection NAME] [--include GLOB] "
    "[--exclude GLOB] [--engine local|ray] [--json]"
)


async def test_a_long_code_line_is_wrapped_and_marked_in_the_answer_and_the_preview(
    make_settings, fake_anthropic, tmp_path: Path
):
    """Issue 21: at 120x36 an answer's code line was cut at the pane's edge
    (`atlas-tui ingest PATH [PATH ...] [--db URI] [--collection NAM`), in previews too."""
    fake_anthropic.script(Reply.text("Run it so:\n\n```\n" + LONG_COMMAND + "\n```\n"))
    settings = make_settings(provider="auto", api_key="k", base_url=fake_anthropic.base_url)
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=SIZE) as pilot:
        view = await ask(pilot, "How do I ingest a folder?")
        await settled(pilot)
        code = view.answer.query_one(MarkdownFence).query_one("#code-content")
        await pilot.pause()
        lines = [line.strip() for line in drawn_lines(code) if line.strip()]
        assert len(lines) > 1 and all(line.startswith(WRAP_MARK) for line in lines[1:])
        joined = "".join(line.removeprefix(WRAP_MARK) for line in lines)
        assert joined.replace(" ", "") == LONG_COMMAND.replace(" ", "")  # all of it, in order

        source = tmp_path / "tool.py"
        source.write_text(f"def run():\n    return {LONG_COMMAND!r}\n")
        text = source.read_text()
        passage = Passage("t#0", text, "tool.py", str(tmp_path), "tool", "", 0.9,
                          start=0, end=len(text), line_start=1, line_end=2)  # fmt: skip
        preview = PreviewScreen(1, ShownPassage.of(passage), "run", [], lambda p: text)
        app.call_later(app.push_screen, preview)
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        shown = app.screen.query_one("#preview-passage", Static)
        await until(pilot, lambda: "def run" in "".join(drawn_lines(shown)))
        drawn = "".join(line.strip() for line in drawn_lines(shown))
        assert "[--json]'" in drawn  # the end of the long line is on screen too


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_a_cut_line_in_the_documents_pane_ends_in_one_ellipsis(
    make_settings, warm_client, size
):
    """Passages under one heading are told apart by their own first words, which ended in " …"
    after six words: after a text's own "...", and where the pane cut the line too, that read
    `string... …` and `the empty … …` (issue 21)."""

    def shared(text: str) -> ShownPassage:
        heading = "gzip --- Support for gzip files > Examples of usage"
        return ShownPassage.of(
            Passage("gzip.rst#0", text, "gzip.rst", "/docs", "gzip", heading, 0.5)
        )

    texts = [
        "It defaults to the empty string... unless a mode is given, when it is read",
        "otherwise, it defaults to the empty string, and the mode is read from the name",
        "The *compresslevel* argument is an integer from 0 to 9, as for the class",
        "Plain words",
    ]
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=size) as pilot:
        pane = app.query_one(DocumentsPane)
        pane.show(1, tuple(map(shared, texts)), set())
        for width in range(24, 61, 4):
            pane.resize(width, size[0])
            await pilot.pause()
            lines = drawn_lines(pane)
            doubled = [line for line in lines if re.search(r"(…|\.\.\.)\W*…", line)]
            assert doubled == [], (pane.outer_size.width, lines)
            firsts = [line for line in lines if re.search(r"\[\d\] ", line)]
            assert len(firsts) == len(texts) and all("Plain words" in f for f in firsts[3:])


@pytest.mark.parametrize("size", [(80, 24), (120, 36)])
async def test_a_sessions_search_match_is_cut_with_an_ellipsis_inside_the_screen(
    make_settings, warm_client, size
):
    """The Match column took its text's whole width: the table ran past the screen's edge and
    the snippet was cut there, mid-word and unmarked (`…path) > > shutil.rmtree(di`)."""
    settings = make_settings()
    with SessionStore(settings.resolved_sessions_path) as store:
        session = store.create_session(origin="tui")
        turn = store.begin_turn(session, "What does shutil.rmtree do?")
        answer = "It deletes a whole directory tree: " + "every file and folder below it, " * 6
        store.finish_turn(turn, answer + "then the directory itself.", status="done")
    app = AtlasApp(settings, client=warm_client)
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+l")
        await until(pilot, lambda: isinstance(app.screen, SessionsScreen))
        table = app.screen.query_one(DataTable)
        await pilot.press("slash", *"folder")
        await until(pilot, lambda: table.row_count == 1 and "folder" in str(table.get_row_at(0)[5]))
        await pilot.pause()
        assert table.virtual_size.width <= table.scrollable_content_region.width
        (row,) = [line.rstrip() for line in drawn_lines(table)[1:2]]
        assert row.endswith("…") and "folder" in row, row
