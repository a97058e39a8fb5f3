"""`atlas-tui serve`'s app processes, counted in /proc: at most `--max-sessions` at once (the next
tab gets a page that says so), a closed tab ends its app, stopping the server (SIGTERM, SIGINT,
SIGHUP) ends every app it started, and an app whose server was killed (its pipe gone) exits."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Served, start_serve
from tests.browser.processes import alive, app_pids, group_pids, wait_until
from tests.browser.terminal import open_app, wait_for_screen

READY = "Ask a question about your documents"
STOP_BOUND_S = 15.0  # apps.QUIT_S + apps.TERM_S with room for a loaded machine
EXIT_BOUND_S = 15.0  # driver.EXIT_S, likewise


@pytest.fixture
def start(browser_index: str, tmp_path: Path) -> Iterator[type[Served]]:
    started: list[Served] = []

    def run(*options: str) -> Served:
        served = start_serve(browser_index, tmp_path, *options)
        started.append(served)
        served.wait_for("Press Ctrl\\+C to stop")
        return served

    yield run  # type: ignore[misc]
    for served in started:
        served.stop()


def test_sessions_are_capped_and_a_closed_tab_ends_its_app(page: Page, start) -> None:
    served = start("--max-sessions", "1")
    server = served.process.pid
    open_app(page, served.url)
    wait_for_screen(page, READY)
    assert len(app_pids(server)) == 1

    second = page.context.new_page()
    response = second.goto(served.url)
    assert response is not None and response.status == 503
    expect(second.get_by_role("heading")).to_have_text(
        "All sessions of this atlas-tui server are in use"
    )
    expect(second.locator("body")).to_contain_text("at most 1 app at once")
    # its websocket, asked for all the same (the page's own origin, the cookie): refused
    opened = second.evaluate(
        """(url) => new Promise((resolve) => {
             const socket = new WebSocket(url);
             socket.onopen = () => resolve("open");
             socket.onerror = () => resolve("error");
           })""",
        f"ws://127.0.0.1:{served.port}/ws",
    )
    assert opened == "error"
    served.wait_for("refused a session: all 1 are in use")
    assert len(app_pids(server)) == 1

    page.close()  # the tab goes: its app ends, and its place is free again
    took = wait_until(lambda: not app_pids(server), STOP_BOUND_S, "the closed tab's app ended")
    served.wait_for(r"session closed \(0 of 1 in use\)")
    print(f"a closed tab's app ended {took:.1f} s after the tab closed")
    open_app(second, served.url)
    wait_for_screen(second, READY)
    assert len(app_pids(server)) == 1


@pytest.mark.parametrize(
    ("stop", "tabs"),
    [(signal.SIGTERM, 2), (signal.SIGINT, 1), (signal.SIGHUP, 1)],
    ids=["SIGTERM", "SIGINT", "SIGHUP"],
)
def test_stopping_serve_ends_every_app_it_started(
    page: Page, start, stop: signal.Signals, tabs: int
) -> None:
    served = start()
    server = served.process.pid
    pages = [page, *(page.context.new_page() for _ in range(tabs - 1))]
    for tab in pages:
        open_app(tab, served.url)
    for tab in pages:
        wait_for_screen(tab, READY)
    apps = app_pids(server)
    before = group_pids(server)
    assert len(apps) == tabs and set(before) == {server, *apps}

    started = time.monotonic()
    os.kill(server, stop)  # the server alone, as its terminal or a service manager would
    served.process.wait(timeout=STOP_BOUND_S)
    took = time.monotonic() - started
    print(f"{stop.name}: serve and its {tabs} app(s) stopped in {took:.1f} s")
    assert served.process.returncode == 0
    assert [pid for pid in apps if alive(pid)] == []
    assert group_pids(server) == []  # before: the server and its apps; after: nothing
    served.wait_for(f"stopping {tabs} app")
    for tab in pages:  # each tab hears that its session is over
        expect(tab.get_by_text("Session ended.")).to_be_visible()


def test_an_app_whose_server_was_killed_exits(page: Page, start) -> None:
    served = start()
    server = served.process.pid
    open_app(page, served.url)
    wait_for_screen(page, READY)
    (app,) = app_pids(server)

    os.kill(server, signal.SIGKILL)  # no clean-up of any kind: only the app's pipe closes
    served.process.wait(timeout=10)
    took = wait_until(lambda: not alive(app), EXIT_BOUND_S, "the orphaned app exited")
    print(f"the app of a killed server exited {took:.1f} s after")
    assert group_pids(server) == []
