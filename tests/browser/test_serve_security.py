"""The attacker's side, in a real browser: a web page of another origin, open in the same Chromium
as the user's served app (so the browser holds the app's cookie), tries to drive `atlas-tui serve`
and to ask the web example a question; a DNS-rebinding name tries the same. None of it gets
through, and the address `serve` printed opens the app. (The rules: tests/test_web_guard.py.)"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Page

from atlas_tui.config import Settings
from atlas_tui.query import AtlasQuery, QueryRun
from tests.browser.conftest import REBINDING_NAME, Served, _serve_web
from tests.browser.processes import app_pids, wait_until
from tests.browser.terminal import open_app, wait_for_screen

# What the attacker's page does: open the served app's websocket (and type into it if it opens),
# read a page with the user's credentials, and fire requests it cannot read (no-cors, <img>,
# EventSource) at the web example. Each attempt reports what the page could see.
ATTACK_PAGE = b"""<!doctype html><html><body><p>Cute cats</p><script>
function websocket(url) {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => {
      socket.send(JSON.stringify(["stdin", "\\u000f/home/user/private\\r"]));  // ctrl+o, a path
      resolve("open");
    };
    socket.onerror = () => resolve("error");
    setTimeout(() => resolve("no answer"), 15000);
  });
}
async function read(url) {
  try {
    const response = await fetch(url, {credentials: "include"});
    return "read " + response.status + ": " + (await response.text());
  } catch (error) { return "not readable"; }
}
async function blind(url) {
  await fetch(url, {mode: "no-cors", credentials: "include"}).catch(() => {});
  await new Promise((resolve) => {
    const image = new Image(); image.onload = image.onerror = resolve; image.src = url;
  });
  return await new Promise((resolve) => {
    const events = new EventSource(url, {withCredentials: true});
    events.onmessage = () => { events.close(); resolve("message"); };
    events.onerror = () => { events.close(); resolve("error"); };
  });
}
</script></body></html>"""


class _AttackerHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(ATTACK_PAGE)))
        self.end_headers()
        self.wfile.write(ATTACK_PAGE)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def attacker_site() -> Iterator[str]:
    """Another origin on this machine (another port of 127.0.0.1: the same site, for cookies)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class CountingQuery(AtlasQuery):
    """The web example's query client, noting every question it is asked."""

    asked: list[str]

    def events(self, text: str, **knobs: Any) -> QueryRun:
        self.asked.append(text)
        return super().events(text, **knobs)


@pytest.fixture(scope="module")
def counted_web_page(browser_index: str) -> Iterator[tuple[str, CountingQuery]]:
    client = CountingQuery(Settings(db_path=browser_index, provider="extractive"))
    client.asked = []
    for url in _serve_web(client):
        yield url.rstrip("/"), client


def test_a_page_of_another_origin_cannot_drive_the_served_app(
    page: Page, serving: Served, attacker_site: str
) -> None:
    server = serving.process.pid
    wait_until(lambda: not app_pids(server), 20, "the apps of earlier tests ended")
    open_app(page, serving.url)  # the user has the app open: the browser holds its cookie
    wait_for_screen(page, "Ask a question about your documents")
    apps = app_pids(server)
    assert len(apps) == 1

    attacker = page.context.new_page()
    attacker.goto(attacker_site)
    app = f"127.0.0.1:{serving.port}"
    assert attacker.evaluate(f"websocket('ws://{app}/ws?width=80&height=24')") == "error"
    # not even with the token, had the page learnt it: the origin is not this server's
    with_token = f"websocket('ws://{app}/ws?token={serving.token}')"
    assert attacker.evaluate(with_token) == "error"
    assert attacker.evaluate(f"read('http://{app}/')") == "not readable"
    serving.wait_for(rf"refused GET /ws: a page of Origin '{attacker_site}'")
    assert app_pids(server) == apps  # no app was started for the attacker


def test_a_dns_rebinding_name_is_refused_even_with_the_token(page: Page, serving: Served) -> None:
    response = page.goto(f"http://{REBINDING_NAME}:{serving.port}/?token={serving.token}")
    assert response is not None and response.status == 403
    assert "does not answer to that host name" in page.content()
    serving.wait_for(rf"refused GET /: Host '{REBINDING_NAME}:{serving.port}'")


def test_the_printed_address_opens_the_app_and_the_bare_one_says_what_is_missing(
    page: Page, serving: Served
) -> None:
    bare = f"http://127.0.0.1:{serving.port}/"
    response = page.goto(bare)
    assert response is not None and response.status == 403
    assert "open the full address `atlas-tui serve` printed" in page.content()

    open_app(page, serving.url)
    wait_for_screen(page, "Ask a question about your documents")
    cookie = next(c for c in page.context.cookies() if c["name"] == f"atlas-tui-{serving.port}")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert serving.token not in page.evaluate("document.cookie")  # scripts cannot read it
    printed, *rest = serving.output().splitlines()
    assert serving.token in printed and serving.token not in "\n".join(rest)  # never logged

    response = page.goto(bare)  # the cookie now stands for the token
    assert response is not None and response.status == 200


def test_a_page_of_another_origin_cannot_ask_the_web_example(
    page: Page, attacker_site: str, counted_web_page: tuple[str, CountingQuery]
) -> None:
    web, client = counted_web_page
    page.goto(attacker_site)
    ask = f"{web}/ask?q=what+is+the+vault+password"
    assert page.evaluate(f"read('{ask}')") == "not readable"
    assert page.evaluate(f"blind('{ask}')") == "error"
    response = page.goto(ask.replace("127.0.0.1", REBINDING_NAME))
    assert response is not None and response.status == 403
    assert client.asked == []  # nothing ran: no passage read, no token spent

    page.goto(f"{web}/")  # the page itself still asks, from its own origin
    page.get_by_label("Question").fill("lighthouse keeper")
    page.get_by_role("button", name="Ask").click()
    page.locator("#status").filter(has_text="Answered by").wait_for()
    assert client.asked == ["lighthouse keeper"]
