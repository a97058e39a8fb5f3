"""`atlas-tui serve` in a real browser: ask with the keyboard, see the answer and the documents,
open help, quit. The app runs as textual-serve's subprocess of a real `atlas-tui serve`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser import QUESTION
from tests.browser.terminal import (
    click_text,
    focus_terminal,
    open_app,
    screen,
    wait_for_screen,
    wait_until_gone,
)


def test_served_app_answers_shows_documents_and_help_then_quits(
    page: Page, served_app: str, screenshots: Callable[[Page, str], Path]
) -> None:
    open_app(page, served_app)
    wait_for_screen(page, "Ask a question about your documents")
    assert "mode: hybrid" in screen(page)  # the status line: the app itself, not a page about it

    focus_terminal(page)
    page.keyboard.type(QUESTION)
    wait_for_screen(page, QUESTION)  # echoed in the query box, in order
    page.keyboard.press("Enter")

    wait_for_screen(page, "holistic integration", timeout_s=60)
    if "Offline answers" in screen(page):
        click_text(page, "Offline answers")  # the start-up notice covers the documents' top
    shown = wait_for_screen(page, "Documents for turn 1")
    assert "trimodal.md" in shown
    assert "[1]" in shown
    screenshots(page, "browser-serve")

    assert "Action" not in shown
    page.keyboard.press("F1")
    help_screen = wait_for_screen(page, "Action")  # the help's table of keys: Key, Action
    assert "answers are extractive" in help_screen
    screenshots(page, "browser-serve-help")
    page.keyboard.press("Escape")
    wait_until_gone(page, "Action")

    page.keyboard.press("Control+q")
    expect(page.get_by_text("Session ended.")).to_be_visible()


def test_each_browser_tab_gets_its_own_app(page: Page, served_app: str) -> None:
    open_app(page, served_app)
    wait_for_screen(page, "Ask a question about your documents")
    other = page.context.new_page()
    open_app(other, served_app)
    wait_for_screen(other, "Ask a question about your documents")

    focus_terminal(page)
    page.keyboard.type("lighthouse keeper")
    wait_for_screen(page, "lighthouse keeper")
    assert "lighthouse keeper" not in screen(other)  # another process, another screen
    other.close()
