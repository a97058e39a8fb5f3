"""Keys, citations, the preview, untrusted text, help, the palette's actions, ingest."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Input

from atlas_tui.query import AtlasQuery
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.messages import AnswerDone, QuerySubmitted
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.screens.ingest import IngestScreen
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.find_bar import shown_content
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript, TurnView
from tests.tui.helpers import ask, cell_of, settled, until


async def test_query_box_enter_newline_and_recall(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    seen: dict[int, QuerySubmitted] = {}  # a bubbling message passes the hook once per node

    def hook(message: object) -> None:
        if isinstance(message, QuerySubmitted):
            seen[id(message)] = message

    async with app.run_test(message_hook=hook) as pilot:
        box = app.query_one(QueryBox)
        await pilot.press("a", "ctrl+j", "b")
        assert box.text == "a\nb"
        await pilot.press("enter")
        assert [m.text for m in seen.values()] == ["a\nb"] and box.text == ""
        await until(pilot, lambda: app.conversation.turns[-1].status != "pending")
        await pilot.press("c", "enter")
        await pilot.press("up")
        assert box.text == "c"
        await pilot.press("up")
        assert box.text == "a\nb"
        await pilot.press("down")
        assert box.text == "c"
        await pilot.press("down")
        assert box.text == ""  # back to the (empty) draft


async def test_citation_selects_document_and_preview_shows_context(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        pane.highlighted = 2
        view = app.query_one(TurnView)
        await pilot.click(offset=cell_of(view.answer, "[1]"))  # as a user clicks the citation
        await until(pilot, lambda: pane.highlighted == 0 and pane.has_focus)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        header = str(screen.query_one("#preview-header").render())
        assert "trimodal.md" in header and "score" in header and "Trimodal methodology" in header
        await until(pilot, lambda: bool(screen.query(".passage")))  # rendered, passage marked
        marked = " ".join(shown_content(block).plain for block in screen.query(".passage"))
        assert "combines three modes of work" in marked
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)


async def test_documents_and_answers_are_shown_as_text(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, "zeppelin hangar title change")
        await settled(pilot)
        pane = app.query_one(DocumentsPane)
        hostile = next(i for i, p in enumerate(pane.documents) if p.source == "hostile.md")
        prompt = pane.get_option_at_index(hostile).prompt
        assert "[bold]markup[/bold]" in str(prompt)  # shown literally, not interpreted
        answer = app.conversation.turns[-1].answer
        assert "\x1b" not in answer and "\x07" not in answer
        assert "rich markup" in answer


async def test_regenerate_copy_new_session_toggle_and_mode(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        first = app.conversation.turns[-1].answer
        await pilot.press("ctrl+r")
        await settled(pilot)
        assert len(app.conversation.turns) == 1 and app.conversation.turns[-1].answer == first
        await pilot.press("ctrl+t")
        assert app.clipboard.startswith("## What is the trimodal methodology?")
        assert "[1] trimodal.md" in app.clipboard
        pane = app.query_one(DocumentsPane)
        await pilot.press("ctrl+b")
        assert not pane.display
        await pilot.press("ctrl+b")
        assert pane.display
        await pilot.press("ctrl+s")
        assert (
            app.conversation.retrieval.mode == "vector"
            and app.query_one(StatusLine).mode == "vector"
        )
        await app.run_action("screen.new_session")
        assert app.conversation.turns == [] and not app.query(TurnView)
        assert app.query_one(Transcript).query("#empty-hint")


async def test_help_lists_bindings_and_keys_are_rebindable(make_settings, warm_client):
    settings = make_settings(keys={"regenerate": "f9", "bogus": "f10"})
    app = AtlasApp(settings, client=warm_client)
    done: dict[int, AnswerDone] = {}

    def hook(message: object) -> None:
        if isinstance(message, AnswerDone):
            done[id(message)] = message

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        assert any("bogus" in n.message for n in app.notices)
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        await until(pilot, lambda: len(done) == 1)
        await pilot.press("ctrl+r")  # the old key no longer regenerates
        await pilot.pause(0.3)
        assert len(done) == 1
        await pilot.press("f9")  # the new one does (from the query box)
        await until(pilot, lambda: len(done) == 2)
        assert len(app.conversation.turns) == 1
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(app.screen, HelpScreen))
        rows = app.screen.rows
        assert ("f9", "Regenerate") in rows and ("^r", "Regenerate") not in rows
        for description in ("Cancel answer", "Copy answer", "Quit", "Command palette"):
            assert description in {action for _, action in rows}
        await pilot.press("escape")
        commands = {c.title for c in app.get_system_commands(app.screen)}
        for title in (
            "New session",
            "Ingest a folder",
            "Retrieval mode: keyword",
            "Source filter",
            "Toggle documents pane",
            "Theme",
            "Export session",
        ):
            assert title in commands


async def test_empty_index_offers_the_demo_and_ingest_reports(make_settings, tmp_path: Path):
    settings = make_settings(db_path=str(tmp_path / "fresh-db"))
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), rounds=1500)
        await pilot.press("escape")  # not now: ingest a small folder instead
        folder = tmp_path / "docs"
        folder.mkdir()
        (folder / "note.md").write_text("# Note\n\nAn orchard of quince trees.\n")
        (folder / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
        await pilot.press("ctrl+o")  # the ingest prompt: a path typed, Enter
        await until(pilot, lambda: isinstance(app.screen, IngestScreen))
        await pilot.pause()
        path = app.screen.query_one(Input)
        path.value = str(tmp_path / "missing")
        await pilot.press("enter")
        assert isinstance(app.screen, IngestScreen)  # a missing path is refused in place
        assert any("No such file or folder" in n.message for n in app.notices)
        path.value = str(folder)
        await pilot.press("enter")
        # (the count is measured while the ingest runs too: wait for its report)
        await until(pilot, lambda: any(n.title == "Ingest finished" for n in app.notices), 1500)
        await until(pilot, lambda: "index: 1 document," in app.query_one(StatusLine).index)
        report = next(n for n in app.notices if n.title == "Ingest finished")
        assert "Files: 1 added" in report.message
        view = await ask(pilot, "quince orchard")
        await settled(pilot)
        assert app.query_one(DocumentsPane).documents[0].source == "note.md"
        assert view.turn.status == "done"


async def test_documents_another_process_ingests_are_found_and_counted(
    make_settings, tmp_path: Path
):
    """A shared index grows while the TUI is open: the next question finds the new document,
    and the status line's count follows (measured again after each answer)."""
    db = str(tmp_path / "shared-db")
    first = tmp_path / "first"
    first.mkdir()
    (first / "quince.md").write_text("# Quince\n\nAn orchard of quince trees.\n")
    settings = make_settings(db_path=db)
    assert AtlasQuery(settings).ingest([str(first)]).ok
    app = AtlasApp(settings, client=AtlasQuery(settings))
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(pilot, "quince orchard")
        await settled(pilot)
        status = app.query_one(StatusLine)
        assert "index: 1 document," in status.index
        second = tmp_path / "second"
        second.mkdir()
        (second / "medlar.md").write_text("# Medlar\n\nMedlars ripen by bletting in straw.\n")
        assert AtlasQuery(settings).ingest([str(second)]).ok  # another client: a colleague
        await ask(pilot, "How do medlars ripen in winter storage?")
        await settled(pilot)
        assert app.query_one(DocumentsPane).documents[0].source == "medlar.md"
        await until(pilot, lambda: "index: 2 documents" in status.index)


async def test_the_source_filter_limits_what_is_retrieved(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, app.warmed.is_set)
        await pilot.press("ctrl+p", *"Source filter")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.pause()
        await pilot.press(*"light*", "enter")
        await until(pilot, lambda: app.conversation.retrieval.source == "light*")
        assert "Source filter: light*" in str(app.query_one(StatusLine).render())  # said
        app.query_one(StatusLine).unflash()
        assert "source: light*" in str(app.query_one(StatusLine).render())  # then shown
        await ask(pilot, "What is the trimodal methodology?")
        await settled(pilot)
        sources = {p.source for p in app.query_one(DocumentsPane).documents}
        assert sources == {"lighthouse.md"}


async def test_ctrl_s_cycles_the_mode_and_retrieval_follows_it(make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, app.warmed.is_set)
        status = app.query_one(StatusLine)
        seen = []
        for _ in range(3):
            await pilot.press("ctrl+s")
            seen.append((app.conversation.retrieval.mode, status.mode))
        assert seen == [("vector", "vector"), ("keyword", "keyword"), ("hybrid", "hybrid")]
        await pilot.press("ctrl+s", "ctrl+s")  # keyword: only passages with the word
        await ask(pilot, "zeppelin")
        await settled(pilot)
        assert [p.source for p in app.query_one(DocumentsPane).documents] == ["hostile.md"]
