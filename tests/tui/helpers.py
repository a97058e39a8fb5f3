"""Small helpers for driving AtlasApp with Pilot: wait on app state, never on the clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.geometry import Region
from textual.pilot import Pilot
from textual.widget import Widget

from atlas_tui.config import Settings
from atlas_tui.query import AtlasQuery
from atlas_tui.tui.app import AtlasApp
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import TurnView

QUESTION = "What is the trimodal methodology?"


def claude_app(make_settings: Callable[..., Settings], server: Any, **overrides: Any) -> AtlasApp:
    """The app answering with Claude from the fake Anthropic server `server`."""
    settings = make_settings(
        provider="auto", api_key="test-key", base_url=server.base_url, **overrides
    )
    return AtlasApp(settings, client=AtlasQuery(settings))


async def until(pilot: Pilot, condition: Callable[[], bool], rounds: int = 400) -> None:
    """Let the app process messages until `condition` holds (bounded; fails loudly)."""
    for _ in range(rounds):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("the app never reached the expected state")


async def client_ready(pilot: Pilot) -> None:
    """The client warmed AND the app has taken it in (status line, the offline note): warming
    ends before its message is handled, so a notice may still be on its way after `warmed`."""
    app = pilot.app
    assert isinstance(app, AtlasApp)
    status = app.query_one(StatusLine)
    await until(pilot, lambda: app.warmed.is_set() and status.answerer != "answerer: …")
    await pilot.pause()


async def ask(pilot: Pilot, question: str) -> TurnView:
    app = pilot.app
    assert isinstance(app, AtlasApp)
    await until(pilot, app.warmed.is_set)
    before = len(app.conversation.turns)
    app.query_one("#query").focus()
    await pilot.press(*question, "enter")
    await until(pilot, lambda: len(app.conversation.turns) > before)
    return app.query_one(f"#turn-{app.conversation.turns[-1].id}", TurnView)


async def settled(pilot: Pilot) -> None:
    """The last question's answer ended (done, failed or cancelled) and its end is drawn: its
    final text and note in the transcript, its documents and usage beside it."""
    app = pilot.app
    assert isinstance(app, AtlasApp)
    view = app.query_one(f"#turn-{app.conversation.turns[-1].id}", TurnView)
    await until(pilot, lambda: view.finished)
    await pilot.pause()


def note(view: TurnView) -> str:
    return str(view.query_one(".note").render())


def cell_of(widget: Widget, text: str) -> tuple[int, int]:
    """Where `text` is drawn on screen inside `widget` (its first occurrence), to click it."""
    for child in [widget, *widget.query("*")]:
        region = child.region
        strips = child.render_lines(Region(0, 0, region.width, region.height))
        for row, strip in enumerate(strips):
            if text in strip.text:
                return region.x + strip.text.index(text) + 1, region.y + row
    raise AssertionError(f"{text!r} is not on screen")


def steady(app: AtlasApp) -> None:
    """Pin what varies run to run: the offline answer's time to first token (the only figure
    the app shows for it: an extractive answer has no token rate)."""
    status = app.query_one(StatusLine)
    assert status.speed.startswith("first token ") and "tok/s" not in status.speed
    status.speed = "first token 0.10 s"
    app.clear_notifications()
