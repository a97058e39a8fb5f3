"""Browser fixtures: the system's Chromium driven by Playwright, one browser for this package.

A small index (with a hostile passage) is built once; `atlas-tui serve` runs as a real subprocess
and the web example's server runs in a thread, each on a free loopback port, and all are stopped
at the end. Screenshots are test artefacts: in $ATLAS_TEST_ARTEFACTS/browser-screenshots, or else a
temporary folder (named at the end of the run); with ATLAS_UPDATE_SCREENSHOTS=1 the README's
screenshots in assets/ are rewritten from this run.
"""

from __future__ import annotations

import importlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from atlas_tui.config import Settings
from atlas_tui.query import AtlasQuery
from tests.browser import QUESTION
from tests.corpus import NOTES, write_files
from tests.fake_anthropic import FakeAnthropic, free_port

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
ASSETS = ROOT / "assets"
START_TIMEOUT_S = 60.0
WAIT_S = 30.0  # for anything to show in the page: 2 cores shared with other work can be slow
SCREENSHOT_FOLDERS: list[Path] = []  # named at the end of the run
README_SCREENSHOTS = {"browser-serve", "browser-web-page"}  # the others are artefacts only
CORPUS = {
    **NOTES,
    "hangar.md": (
        '# Zeppelin <img src=x onerror="window.pwned=1">hangar\n\n'
        "The zeppelin hangar door <script>window.pwned=2</script> opens at dawn, says "
        '<a href="javascript:window.pwned=3">the hangar chief</a>.\n'
    ),
}


@pytest.fixture(scope="package")
def browser_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Where the index goes: `atlas-tui serve` can start before it is built."""
    return str(tmp_path_factory.mktemp("browser-index") / "db")


@pytest.fixture(scope="package")
def browser_index(tmp_path_factory: pytest.TempPathFactory, browser_db: str) -> str:
    corpus = write_files(tmp_path_factory.mktemp("browser-corpus"), CORPUS)
    report = AtlasQuery(Settings(db_path=browser_db)).ingest([str(corpus)])
    assert report.ok and not report.skipped
    return browser_db


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.fail("Chromium is not installed: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, timeout=30_000)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(WAIT_S * 1000)
    expect.set_options(timeout=WAIT_S * 1000)
    # textual-serve's page asks Google for a font; these machines have no way out: say no at once.
    context.route(re.compile(r"^https://fonts\."), lambda route: route.abort())
    opened = context.new_page()
    yield opened
    context.close()


@pytest.fixture(scope="package")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Page, str], Path]:
    if artefacts := os.environ.get("ATLAS_TEST_ARTEFACTS"):  # CI keeps this folder
        folder = Path(artefacts) / "browser-screenshots"
        folder.mkdir(parents=True, exist_ok=True)
    else:  # pytest keeps its last few runs' temporary folders
        folder = tmp_path_factory.mktemp("browser-screenshots")
    SCREENSHOT_FOLDERS.append(folder)

    def take(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=path)
        if name in README_SCREENSHOTS and os.environ.get("ATLAS_UPDATE_SCREENSHOTS") == "1":
            shutil.copyfile(path, ASSETS / f"{name}.png")
        return path

    return take


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for folder in SCREENSHOT_FOLDERS:
        terminalreporter.write_line(f"browser screenshots: {folder}")


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """A subprocess's environment: its own data dir, no config file, no key, no endpoint."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("ANTHROPIC_", "ATLAS_")) and name != "SKIP_API_KEY_CHECK"
    }
    env.update(
        ATLAS_DATA_DIR=str(home / "data"),
        ATLAS_CONFIG=os.devnull,
        ATLAS_CACHE_DIR=os.environ.get("ATLAS_CACHE_DIR", str(home / "cache")),
        HF_HUB_OFFLINE="1",
        LANCEDB_LOG="error",
        PYTHONUNBUFFERED="1",
        **extra,
    )
    return env


def _pump(stream: Any, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


@pytest.fixture(scope="package")
def served_app(
    browser_db: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[str]:
    """`atlas-tui serve` on a free port (each browser tab gets its own app); yields its URL."""
    port = free_port()
    home = tmp_path_factory.mktemp("serve-home")
    command = ["serve", "--port", str(port), "--db", browser_db, "--new"]
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas_tui.cli", *command],
        env=child_env(home),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its app processes are in this group too, stopped with it
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_pump, args=(process.stdout, lines), daemon=True).start()
    request.getfixturevalue("browser_index")  # built while the server starts
    url = f"http://127.0.0.1:{port}/"
    seen: list[str] = []
    deadline = time.monotonic() + START_TIMEOUT_S
    try:
        while url not in "".join(seen):
            left = deadline - time.monotonic()
            if left <= 0 or process.poll() is not None:
                pytest.fail("atlas-tui serve did not start:\n" + "".join(seen))
            try:
                seen.append(lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                continue
        yield url
    finally:
        _stop_group(process)


def _stop_group(process: subprocess.Popen[str]) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


# --- the web example's server, in a thread -------------------------------------------------------


def _web_stream_module() -> Any:
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))  # as `python examples/web_stream.py` would
    return importlib.import_module("web_stream")


def _serve_web(client: AtlasQuery) -> Iterator[str]:
    client.warm()
    server = _web_stream_module().AnswerServer(("127.0.0.1", 0), client, QUESTION)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="package")
def web_page(browser_index: str) -> Iterator[str]:
    """The web example answering offline (the extractive answerer); yields its URL."""
    yield from _serve_web(AtlasQuery(Settings(db_path=browser_index, provider="extractive")))


@pytest.fixture(scope="package")
def fake_claude() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server


@pytest.fixture(scope="package")
def claude_web_page(browser_index: str, fake_claude: FakeAnthropic) -> Iterator[str]:
    """The web example answering through Claude, here the local fake Messages API server."""
    settings = Settings(
        db_path=browser_index,
        provider="anthropic",
        api_key="sk-test",
        base_url=fake_claude.base_url,
    )
    yield from _serve_web(AtlasQuery(settings))
