"""Browser figures against the terminal's: time to the first painted app, and Enter -> first answer.

    python benchmarks/bench_browser.py [--db INDEX] [--runs N]

Three clients of the same index, each asked "What is the trimodal methodology in Atlas?" offline
(the extractive answerer), each run a fresh process:
- `atlas-tui serve` in Chromium (Playwright, the system's chromium): from `page.goto` to the first
  frame of the app in the page, and from Enter to the first answer text on the page's terminal;
- `atlas-tui` in a real terminal (tmux, polled every 10 ms): from the command's start to its first
  frame, and from Enter to the first answer text on the screen;
- the web page (examples/web_stream.py, server warm): from Enter to the first answer text,
  timed inside the page.
Without --db the demo corpus is indexed first into a temporary folder (about a minute).
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from atlas_tui.config import Settings, demo_corpus_path  # noqa: E402
from atlas_tui.query import AtlasQuery  # noqa: E402
from tests.browser.terminal import CATCH_TERMINAL, SHOWS, focus_terminal  # noqa: E402
from tests.test_e2e_tmux import Terminal  # noqa: E402

QUESTION = "What is the trimodal methodology in Atlas?"
READY = "Ask a question about your documents"
ANSWERED = "Offline extractive answer"
WAIT_MS = 120_000


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(home: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "ATLAS_", "TMUX"))
    }
    env.update(ATLAS_DATA_DIR=str(home), ATLAS_CONFIG=os.devnull, TERM="xterm-256color")
    env.update(HF_HUB_OFFLINE="1", LANCEDB_LOG="error")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


@contextmanager
def serving(db: str, home: Path) -> Iterator[str]:
    port = free_port()
    command = [sys.executable, "-m", "atlas_tui.cli", "serve", "--db", db, "--new"]
    process = subprocess.Popen(
        [*command, "--port", str(port)],
        env=environment(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            if time.monotonic() > deadline or process.poll() is not None:
                raise SystemExit("atlas-tui serve did not start")
            time.sleep(0.05)
        yield url
    finally:
        os.killpg(process.pid, 15)
        process.wait(timeout=20)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def in_browser(page: Page, url: str) -> tuple[float, float]:
    page.add_init_script(CATCH_TERMINAL)
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(SHOWS, arg=READY, timeout=WAIT_MS, polling="raf")
    painted = time.perf_counter() - start
    focus_terminal(page)
    page.keyboard.type(QUESTION)
    page.wait_for_function(SHOWS, arg=QUESTION, timeout=WAIT_MS, polling="raf")
    start = time.perf_counter()
    page.keyboard.press("Enter")
    page.wait_for_function(SHOWS, arg=ANSWERED, timeout=WAIT_MS, polling="raf")
    return painted, time.perf_counter() - start


def in_terminal(db: str, home: Path) -> tuple[float, float]:
    terminal = Terminal(environment(home))
    command = shlex.join([sys.executable, "-m", "atlas_tui.cli", "--db", db, "--new"])
    start = time.perf_counter()
    terminal.start(command)
    try:
        poll(lambda: READY in terminal.screen())
        painted = time.perf_counter() - start
        terminal.send(QUESTION, literal=True)
        poll(lambda: QUESTION in terminal.screen())
        start = time.perf_counter()
        terminal.send("Enter")
        poll(lambda: ANSWERED in terminal.screen())
        return painted, time.perf_counter() - start
    finally:
        terminal.kill()


def poll(condition: Callable[[], bool], timeout: float = WAIT_MS / 1000) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit("the terminal never showed what was expected")
        time.sleep(0.01)


FIRST_TEXT = """() => new Promise((resolve) => {
  const answer = document.getElementById("answer");
  const start = performance.now();
  new MutationObserver(() => { if (answer.textContent) resolve(performance.now() - start); })
    .observe(answer, {childList: true, subtree: true});
  document.getElementById("ask").requestSubmit();
})"""


def in_web_page(page: Page, db: str) -> float:
    import web_stream

    client = AtlasQuery(Settings(db_path=db, provider="extractive"))
    client.warm()
    server = web_stream.AnswerServer(("127.0.0.1", 0), client, QUESTION)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_port}/")
        return float(page.evaluate(FIRST_TEXT)) / 1000
    finally:
        server.shutdown()
        server.server_close()


def report(name: str, values: list[float]) -> None:
    shown = ", ".join(f"{v * 1000:.0f}" for v in values)
    print(f"{name:<44} median {statistics.median(values) * 1000:7.0f} ms   ({shown})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", help="an index to ask (default: the demo corpus, indexed now)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None or shutil.which("tmux") is None:
        print("needs chromium and tmux: apt-get install chromium tmux", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="bench-browser-") as scratch:
        home = Path(scratch)
        db = args.db or str(home / "db")
        if args.db is None:
            print("Indexing the demo corpus...", flush=True)
            AtlasQuery(Settings(db_path=db)).ingest([str(demo_corpus_path())])
        browser_paint, browser_answer, term_paint, term_answer, web_answer = [], [], [], [], []
        with sync_playwright() as playwright, serving(db, home) as url:
            browser = playwright.chromium.launch(executable_path=chromium)
            for _ in range(args.runs):
                context = browser.new_context(viewport={"width": 1280, "height": 800})
                context.route("https://fonts.googleapis.com/**", lambda route: route.abort())
                painted, answered = in_browser(context.new_page(), url)
                browser_paint.append(painted)
                browser_answer.append(answered)
                context.close()
                painted, answered = in_terminal(db, home)
                term_paint.append(painted)
                term_answer.append(answered)
            page = browser.new_page()
            for _ in range(args.runs):
                web_answer.append(in_web_page(page, db))
            browser.close()
    report("browser (serve): page open -> first app frame", browser_paint)
    report("terminal (tmux): start -> first app frame", term_paint)
    report("browser (serve): Enter -> first answer text", browser_answer)
    report("terminal (tmux): Enter -> first answer text", term_answer)
    report("web page: Enter -> first answer text", web_answer)
    return 0


if __name__ == "__main__":
    sys.exit(main())
