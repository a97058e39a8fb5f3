"""Browser figures against the terminal's: time to the first painted app, and Enter -> first answer.

    python benchmarks/bench_browser.py [--db INDEX] [--runs N]

Three clients of the same index, each asked "What is the trimodal methodology in Atlas?" offline
(the extractive answerer), each run a fresh process:
- `atlas-tui serve` in Chromium (Playwright, the system's chromium): from `page.goto` to the first
  frame of the app in the page, and from Enter to the first answer text on the page's terminal
  (the first question loads the model; then ctrl+n and the same question again, model loaded);
- `atlas-tui` in a real terminal (tmux, polled every 10 ms): from the command's start to its first
  frame, and the same two answers;
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
from tests.tmux import Terminal  # noqa: E402

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


def in_browser(page: Page, url: str) -> tuple[float, float, float]:
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
    first = time.perf_counter() - start
    page.keyboard.press("Control+n")  # a new session: an empty transcript, the model loaded
    page.wait_for_function(f"(wanted) => !({SHOWS})(wanted)", arg=ANSWERED, timeout=WAIT_MS)
    page.keyboard.type(QUESTION)
    page.wait_for_function(SHOWS, arg=QUESTION, timeout=WAIT_MS, polling="raf")
    start = time.perf_counter()
    page.keyboard.press("Enter")
    page.wait_for_function(SHOWS, arg=ANSWERED, timeout=WAIT_MS, polling="raf")
    return painted, first, time.perf_counter() - start


def in_terminal(db: str, home: Path) -> tuple[float, float, float]:
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
        first = time.perf_counter() - start
        terminal.send("C-n")
        poll(lambda: ANSWERED not in terminal.screen())
        terminal.send(QUESTION, literal=True)
        poll(lambda: QUESTION in terminal.screen())
        start = time.perf_counter()
        terminal.send("Enter")
        poll(lambda: ANSWERED in terminal.screen())
        return painted, first, time.perf_counter() - start
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
        browser: list[tuple[float, float, float]] = []
        terminal: list[tuple[float, float, float]] = []
        web: list[float] = []
        with sync_playwright() as playwright, serving(db, home) as url:
            chrome = playwright.chromium.launch(executable_path=chromium)
            for _ in range(args.runs):
                context = chrome.new_context(viewport={"width": 1280, "height": 800})
                context.route("https://fonts.googleapis.com/**", lambda route: route.abort())
                browser.append(in_browser(context.new_page(), url))
                context.close()
                terminal.append(in_terminal(db, home))
            page = chrome.new_page()
            web = [in_web_page(page, db) for _ in range(args.runs)]
            chrome.close()
    for n, what in enumerate(("start -> first app frame", "Enter -> first answer text")):
        report(f"browser (serve): {what}", [run[n] for run in browser])
        report(f"terminal (tmux): {what}", [run[n] for run in terminal])
    report("browser (serve): same, model loaded", [run[2] for run in browser])
    report("terminal (tmux): same, model loaded", [run[2] for run in terminal])
    report("web page (server warm): Enter -> first answer", web)
    return 0


if __name__ == "__main__":
    sys.exit(main())
