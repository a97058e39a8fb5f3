"""SVG snapshots of the main states: empty, streaming, answered, preview, error, help.

Fixed terminal size; nothing on screen depends on the clock or on temporary paths (the status
line's time to first token is pinned, the preview's temporary root is shown as /corpus).
"""

from __future__ import annotations

from dataclasses import replace

from textual.pilot import Pilot
from textual.widgets import Static

from atlas_tui.conversation import ShownPassage
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.screens.preview import PreviewScreen, passage_header
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.types import Passage
from tests.fake_anthropic import Reply
from tests.tui.helpers import QUESTION, ask, claude_app, client_ready, settled, steady, until

SIZE = (110, 32)


def pinned_claude_app(make_settings, server) -> AtlasApp:
    """The model is named on screen: pinned, so a new default does not change the snapshots."""
    return claude_app(make_settings, server, model="claude-sonnet-5-5")


def test_empty(snap_compare, make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)

    async def ready(pilot: Pilot) -> None:
        await client_ready(pilot)
        app.clear_notifications()

    assert snap_compare(app, terminal_size=SIZE, run_before=ready)


def test_streaming(snap_compare, make_settings, fake_anthropic):
    """Documents are in the pane and the answer has begun; the stream stalls mid-answer."""
    fake_anthropic.script(
        Reply.text("The trimodal methodology combines ", "three modes of work", fault="stall")
    )
    app = pinned_claude_app(make_settings, fake_anthropic)

    async def stalled(pilot: Pilot) -> None:
        view = await ask(pilot, QUESTION)
        await until(pilot, lambda: "three modes of work" in view.answer.source)
        assert app.conversation.turns[-1].status == "streaming"
        app.clear_notifications()
        await pilot.pause()

    try:
        assert snap_compare(app, terminal_size=SIZE, run_before=stalled)
    finally:
        fake_anthropic.release()


def test_answered_with_documents(snap_compare, make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)

    async def answered(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        steady(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=answered)


def test_preview(snap_compare, make_settings, warm_client):
    """The first document opened from the pane: its file around the passage, terms highlighted."""
    app = AtlasApp(make_settings(), client=warm_client)

    async def previewing(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        steady(app)
        await pilot.press("f4", "enter")
        await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
        screen = app.screen
        assert isinstance(screen, PreviewScreen)
        await until(pilot, lambda: bool(screen.query(".passage")))  # rendered, scrolled
        fixed_root = ShownPassage.of(replace(screen.passage.passage, root="/corpus"))  # not tmp
        screen.query_one("#preview-header", Static).update(passage_header(1, fixed_root))
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=previewing)


def test_error_keeps_the_partial_answer(snap_compare, make_settings, fake_anthropic):
    """The connection drops mid-answer: a clear notice in place, the partial answer kept."""
    fake_anthropic.script(Reply.text("The trimodal methodology ", "combines", fault="drop"))
    app = pinned_claude_app(make_settings, fake_anthropic)

    async def failed(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        assert app.conversation.turns[-1].status == "failed"
        app.clear_notifications()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=failed)


def test_help(snap_compare, make_settings, warm_client):
    app = AtlasApp(make_settings(), client=warm_client)

    async def help_open(pilot: Pilot) -> None:
        await client_ready(pilot)
        app.clear_notifications()
        await pilot.press("f1")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=help_open)


def test_wide_terminal_keeps_a_readable_transcript(snap_compare, make_settings, warm_client):
    """At 200 columns the answer keeps a readable line length; the pane names its turn."""
    app = AtlasApp(make_settings(), client=warm_client)

    async def answered(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        steady(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(200, 32), run_before=answered)


def test_small_terminal_answered(snap_compare, make_settings, warm_client):
    """80x24: the answer, the documents, the offline note in the status line, no toast."""
    app = AtlasApp(make_settings(), client=warm_client)

    async def answered(pilot: Pilot) -> None:
        await ask(pilot, QUESTION)
        await settled(pilot)
        steady(app)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(80, 24), run_before=answered)


def test_documents_pane_heading_tails(snap_compare, make_settings, warm_client):
    """Passages of one long guide: the end of each heading path comes first, so they differ."""
    app = AtlasApp(make_settings(), client=warm_client)
    guide = "Ingesting your own documents"
    sections = ("Supported formats > PDF files", "Supported formats > Markdown", "Excluding files")

    async def shown(pilot: Pilot) -> None:
        await client_ready(pilot)
        app.clear_notifications()
        passages = tuple(
            ShownPassage.of(
                Passage(
                    f"ingesting-documents.md#{i}",
                    "text",
                    "ingesting-documents.md",
                    "/docs",
                    guide,
                    f"{guide} > {heading}",
                    0.95 - i / 100,
                )
            )
            for i, heading in enumerate(sections)
        )
        app.query_one(DocumentsPane).show(1, passages, {1, 3})
        await pilot.press("f4")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(140, 24), run_before=shown)
