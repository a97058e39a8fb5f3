"""The sessions screen, driven with Pilot in a tiny host app over a real store."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import DataTable, Input, Static

from atlas_tui.conversation import SessionLibrary
from atlas_tui.sessions import SessionStore
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen
from atlas_tui.tui.screens.sessions import SessionsScreen, last_used

UNSET = "<not dismissed>"


class Host(App[None]):
    def __init__(self, store: SessionStore) -> None:
        super().__init__()
        self.store = store
        self.result: str | None = UNSET
        self.notices: list[str] = []  # every toast's message

    def notify(self, message: str, **options: Any) -> None:
        self.notices.append(message)
        super().notify(message, **options)

    def on_mount(self) -> None:
        self.push_screen(SessionsScreen(SessionLibrary(self.store)), self._chosen)

    def _chosen(self, session_id: str | None) -> None:
        self.result = session_id


def add_session(store: SessionStore, question: str, answer: str, turns: int = 1) -> str:
    session_id = store.create_session()
    for _ in range(turns):
        turn_id = store.begin_turn(session_id, question)
        store.finish_turn(turn_id, answer, status="done")
    return session_id


@pytest.fixture
def store(tmp_path: Path):
    with SessionStore(tmp_path / "sessions.sqlite3") as opened:
        yield opened


@pytest.fixture
def three(store: SessionStore) -> list[str]:
    """Three sessions; the last one added is the most recent."""
    return [
        add_session(store, "How do penguins swim?", "With their flippers, underwater.", turns=2),
        add_session(store, "What is LanceDB?", "A vector database built on Lance."),
        add_session(store, "Hostile [bold red]title[/", "Markup [link=x]must[/link] stay text."),
    ]


def rows(app: App) -> list[tuple[str, str]]:
    """(title, turns) of every row, in order, as the user reads them."""
    table = app.screen.query_one(DataTable)
    return [
        (str(table.get_cell(row, "title")), str(table.get_cell(row, "turns"))) for row in table.rows
    ]


async def test_lists_sessions_most_recent_first_and_opens_the_chosen_one(
    store: SessionStore, three: list[str]
) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        assert rows(app) == [
            ("Hostile [bold red]title[/", "1"),
            ("What is LanceDB?", "1"),
            ("How do penguins swim?", "2"),
        ]
        await pilot.press("down", "enter")
        await pilot.pause()
    assert app.result == three[1]


async def test_escape_leaves_without_a_session(store: SessionStore, three: list[str]) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is None


async def test_search_finds_answers_then_escape_clears_it(
    store: SessionStore, three: list[str]
) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        await pilot.press("slash", *"flipper")
        await pilot.pause()
        assert rows(app) == [("How do penguins swim?", "2")]
        table = app.screen.query_one(DataTable)
        match = str(table.get_cell(next(iter(table.rows)), "match"))
        assert "flippers" in match

        await pilot.press("backspace", *"rs zebra")
        await pilot.pause()
        assert rows(app) == []
        note = app.screen.query_one("#sessions-empty", Static)
        assert "No question or answer matches" in str(note.render())

        await pilot.press("escape")  # clears the search, stays
        await pilot.pause()
        assert len(rows(app)) == 3 and app.result == UNSET
        await pilot.press("slash", *"vector", "enter", "enter")  # search, then open the hit
        await pilot.pause()
    assert app.result == three[1]


async def test_rename_saves_with_enter_and_keeps_the_title_on_escape(
    store: SessionStore, three: list[str]
) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        await pilot.press("down", "r")
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        assert app.screen.query_one(Input).value == "What is LanceDB?"
        await pilot.press(*"Vector stores", "enter")
        await pilot.pause()
        assert store.load_session(three[1]).title == "Vector stores"
        assert rows(app)[1] == ("Vector stores", "1")

        await pilot.press("r", "backspace", "enter")  # an empty title is refused, not saved
        await pilot.pause()
        assert isinstance(app.screen, PromptScreen)
        assert any("Type something" in message for message in app.notices)
        await pilot.press(*"Something else", "escape")
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen)
        assert store.load_session(three[1]).title == "Vector stores"


async def test_delete_asks_first_and_only_yes_deletes(
    store: SessionStore, three: list[str]
) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        await pilot.press("down", "down", "d")  # the oldest: penguins
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert len(store.list_sessions()) == 3 and len(rows(app)) == 3

        await pilot.press("d", "escape")
        await pilot.pause()
        assert len(store.list_sessions()) == 3

        await pilot.press("d", "enter")  # Keep has the focus: a stray Enter deletes nothing
        await pilot.pause()
        assert len(store.list_sessions()) == 3 and isinstance(app.screen, SessionsScreen)

        await pilot.press("d")
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        assert [s.id for s in store.list_sessions()] == [three[2], three[1]]
        assert [title for title, _ in rows(app)] == [
            "Hostile [bold red]title[/",
            "What is LanceDB?",
        ]


async def test_an_empty_store_says_how_to_start(store: SessionStore) -> None:
    app = Host(store)
    async with app.run_test() as pilot:
        await pilot.press("enter", "r", "d")  # nothing to act on: nothing happens
        await pilot.pause()
        assert isinstance(app.screen, SessionsScreen) and app.result == UNSET
        note = app.screen.query_one("#sessions-empty", Static)
        assert "No research sessions yet" in str(note.render())


def test_last_used_reads_like_a_person_would_say_it() -> None:
    now = datetime(2025, 3, 10, 15, 0)
    assert last_used(datetime(2025, 3, 10, 14, 59, 30).timestamp(), now) == "just now"
    assert last_used(datetime(2025, 3, 10, 14, 40).timestamp(), now) == "20 min ago"
    assert last_used(datetime(2025, 3, 10, 9, 5).timestamp(), now) == "today 09:05"
    assert last_used(datetime(2025, 3, 9, 23, 0).timestamp(), now) == "yesterday 23:00"
    assert last_used(datetime(2024, 12, 1).timestamp(), now) == "2024-12-01"
