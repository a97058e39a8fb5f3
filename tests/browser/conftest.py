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
REBINDING_NAME = "atlas-rebinding.example"  # the browser resolves it to 127.0.0.1 (DNS rebinding)
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
        launched = playwright.chromium.launch(
            executable_path=chromium,
            timeout=30_000,
            args=[f"--host-resolver-rules=MAP {REBINDING_NAME} 127.0.0.1"],
        )
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


class Served:
    """A running `atlas-tui serve`: its process, the address it printed, and its output."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process = process
        self.port = port
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=_pump, args=(process.stdout, self.lines), daemon=True).start()

    def wait_for(self, pattern: str, timeout_s: float = START_TIMEOUT_S) -> re.Match[str]:
        """Wait until the server's output matches `pattern` (a regular expression)."""
        deadline = time.monotonic() + timeout_s
        while (found := re.search(pattern, "".join(self.seen))) is None:
            left = deadline - time.monotonic()
            if left <= 0 or (self.process.poll() is not None and self.lines.empty()):
                pytest.fail(f"atlas-tui serve never said {pattern!r}:\n" + "".join(self.seen))
            try:
                self.seen.append(self.lines.get(timeout=min(left, 0.5)))
            except queue.Empty:
                continue
        return found

    def output(self) -> str:
        """What the server has printed so far."""
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)

    @property
    def url(self) -> str:
        """The address `serve` printed, with its token."""
        return self.wait_for(rf"http://127\.0\.0\.1:{self.port}/\?token=[\w-]+").group(0)

    @property
    def token(self) -> str:
        return self.url.rsplit("=", 1)[1]

    def stop(self) -> None:
        _stop_group(self.process)


def start_serve(db: str, home: Path, *options: str) -> Served:
    """`atlas-tui serve` on a free port, in a process group of its own (its apps are in it too,
    so nothing outlives the test however it ends)."""
    port = free_port()
    command = ["serve", "--port", str(port), "--db", db, "--new", *options]
    process = subprocess.Popen(
        [sys.executable, "-m", "atlas_tui.cli", *command],
        env=child_env(home),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    return Served(process, port)


@pytest.fixture(scope="package")
def serving(
    browser_db: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Served]:
    """`atlas-tui serve` on a free port, for this package's tests (each tab gets its own app)."""
    served = start_serve(browser_db, tmp_path_factory.mktemp("serve-home"))
    try:
        request.getfixturevalue("browser_index")  # built while the server starts
        served.wait_for("Press Ctrl\\+C to stop")
        yield served
    finally:
        served.stop()


@pytest.fixture(scope="package")
def served_app(serving: Served) -> str:
    """The address `atlas-tui serve` printed: its URL with the token."""
    return serving.url


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
