"""The parts of `atlas-tui serve`'s server that need no browser: the session count, the refusal
log's rate, the token it takes from the environment, the address it prints. (The server itself,
in a browser and counted in /proc: tests/browser/test_serve_*.py.)"""

from __future__ import annotations

import socket
from html.parser import HTMLParser

import pytest

from atlas_tui.cli.serve import MIN_TOKEN_CHARS, TOKEN_VARIABLE, server_token
from atlas_tui.web import server
from atlas_tui.web.apps import AppSessions, SessionsFull, current_sessions
from atlas_tui.web.guard import RequestGuard
from atlas_tui.web.server import (
    REFUSALS_PER_MINUTE,
    AtlasServer,
    RefusalLog,
    base_url,
    full_page,
)
from tests.fake_anthropic import free_port


def test_sessions_are_counted_up_to_the_limit_and_freed_however_they_end() -> None:
    sessions = AppSessions(2)
    with sessions.session():
        assert current_sessions.get() is sessions and sessions.in_use == 1
        with sessions.session():
            assert sessions.full
            with pytest.raises(SessionsFull), sessions.session():
                pytest.fail("a third session was let in")
            assert sessions.in_use == 2
    assert sessions.in_use == 0 and not sessions.full
    with pytest.raises(RuntimeError), sessions.session():
        raise RuntimeError("the websocket failed")
    assert sessions.in_use == 0
    assert current_sessions.get(None) is None


def test_refusals_are_logged_at_most_ten_a_minute_and_the_rest_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr(server.time, "monotonic", lambda: now[0])
    said: list[str] = []
    log = RefusalLog(said.append)
    for n in range(REFUSALS_PER_MINUTE + 5):
        log.refused(f"refused {n}")
    assert said == [f"refused {n}" for n in range(REFUSALS_PER_MINUTE)]
    now[0] += 59.9
    log.refused("still the same minute")
    assert len(said) == REFUSALS_PER_MINUTE
    now[0] += 0.1
    log.refused("a new minute")
    assert said[-1] == "a new minute (6 more refused and not shown)"
    log.refused("and another")
    assert said[-1] == "and another"


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8000"),
        ("localhost", "http://localhost:8000"),
        ("0.0.0.0", "http://127.0.0.1:8000"),  # a browser here opens it on loopback
        ("::", "http://127.0.0.1:8000"),
        ("[::]", "http://127.0.0.1:8000"),
        ("", "http://127.0.0.1:8000"),  # no host: every interface
        ("::1", "http://[::1]:8000"),
        ("[::1]", "http://[::1]:8000"),
        ("192.168.1.5", "http://192.168.1.5:8000"),
    ],
)
def test_the_printed_address(host: str, url: str) -> None:
    assert base_url(host, 8000) == url


def test_the_page_of_a_full_server_says_how_many_and_what_to_do() -> None:
    assert "at most 1 app at once" in full_page(1)
    page = full_page(3)
    assert "at most 3 apps at once" in page and "Close another tab" in page
    assert "--max-sessions" in page and "serve_max_sessions" in page
    assert page.startswith("<!doctype html><html lang='en'>")  # standards mode, English
    read = PageText()
    read.feed(page)  # what a browser shows: the tab's title, the heading, the two paragraphs
    assert read.texts == [
        ("title", "atlas-tui: all sessions in use"),
        ("h1", "All sessions of this atlas-tui server are in use"),
        (
            "p",
            "It runs at most 3 apps at once, one per browser tab. Close another tab of this "
            "server (its app ends when the tab closes), then reload this page.",
        ),
        (
            "p",
            "Whoever started the server can allow more with --max-sessions or the "
            "serve_max_sessions setting.",
        ),
    ]


class PageText(HTMLParser):
    """The text of each title, heading and paragraph of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.texts: list[tuple[str, str]] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        if tag in ("title", "h1", "p"):
            self.texts.append((tag, ""))

    def handle_data(self, data: str) -> None:
        if self.texts:
            tag, text = self.texts[-1]
            self.texts[-1] = (tag, text + data)


def test_a_token_is_made_for_each_run_unless_one_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_VARIABLE, raising=False)
    first, second = server_token(), server_token()
    assert (
        first != second and len(first) >= 32 and first.replace("-", "").replace("_", "").isalnum()
    )
    fixed = "a" * MIN_TOKEN_CHARS
    monkeypatch.setenv(TOKEN_VARIABLE, fixed)
    assert server_token() == fixed
    for unfit in ("a" * (MIN_TOKEN_CHARS - 1), "a" * 15 + " b", "é" * 20, "a" * 20 + "?x=1"):
        monkeypatch.setenv(TOKEN_VARIABLE, unfit)
        assert server_token() == "", unfit
    monkeypatch.setenv(TOKEN_VARIABLE, "")  # set but empty: as if unset
    assert len(server_token()) >= 32


def test_the_address_is_announced_once_the_port_listens() -> None:
    """A browser or script that opens the printed address at once is let in: aiohttp runs its
    startup hooks before it binds, and the address used to be printed there (refused, seen in a
    loaded test run)."""
    port = free_port()
    connected: list[bool] = []

    def announce(served: AtlasServer) -> None:
        with socket.create_connection(("127.0.0.1", port), timeout=5):  # refused if not listening
            connected.append(True)
        served.request_exit()  # (ends the server as Ctrl+C does)

    AtlasServer(
        "true",
        host="127.0.0.1",
        port=port,
        public_url=None,
        guard=RequestGuard(port=port, token="t" * 32),
        max_sessions=1,
        announce=announce,
        say=lambda line: None,
    ).serve()
    assert connected == [True]
