"""Make the README's screenshot: the real app, headless, answering a question on the demo corpus.

    python scripts/make_screenshot.py [--out assets/screenshot.svg] [--size 130x38]

The demo corpus (assets/demo) is ingested into a temporary index; the answer is the offline
extractive one, so no API key or network is needed. The result is an SVG of the whole screen.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

QUESTION = "What is the trimodal methodology in Atlas?"
ROOT = Path(__file__).resolve().parent.parent
WAIT_ROUNDS = 6000  # x 20 ms: the model loads and the index warms before the answer comes


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError as error:
        message = f"expected WIDTHxHEIGHT, e.g. 130x38, not {text!r}"
        raise argparse.ArgumentTypeError(message) from error
    return width, height


async def until(pilot: Pilot, condition: Callable[[], bool], what: str) -> None:
    for _ in range(WAIT_ROUNDS):
        if condition():
            return
        await pilot.pause(0.02)
    raise SystemExit(f"make_screenshot: gave up waiting for {what}")


async def shoot(out: Path, size: tuple[int, int], workdir: Path) -> None:
    from atlas_tui.config import Settings, demo_corpus_path
    from atlas_tui.query import AtlasQuery
    from atlas_tui.tui.app import AtlasApp

    settings = Settings(
        db_path=str(workdir / "index"),
        sessions_path=str(workdir / "sessions.sqlite3"),
        provider="extractive",
    )
    client = AtlasQuery(settings)
    report = client.ingest([str(demo_corpus_path())])
    if not report.ok:
        raise SystemExit(f"make_screenshot: the demo corpus did not ingest cleanly: {report}")
    app = AtlasApp(settings, client=client)
    async with app.run_test(size=size) as pilot:
        await until(pilot, app.warmed.is_set, "the model to warm")
        await pilot.press(*QUESTION, "enter")
        await until(pilot, lambda: bool(app.conversation.turns), "the question")
        await until(pilot, lambda: app.conversation.turns[-1].status == "done", "the answer")
        app.clear_notifications()  # the one-time "no API key" note would cover the documents
        await pilot.pause()
        app.save_screenshot(filename=out.name, path=str(out.parent))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "assets" / "screenshot.svg")
    parser.add_argument("--size", type=parse_size, default=(130, 38), help="WIDTHxHEIGHT")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("LANCEDB_LOG", "error")
    with tempfile.TemporaryDirectory(prefix="atlas-screenshot-") as tmp:
        workdir = Path(tmp)
        os.environ["ATLAS_DATA_DIR"] = str(workdir / "data")  # the user's own data stays out
        os.environ["ATLAS_CONFIG"] = str(workdir / "config.toml")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        asyncio.run(shoot(args.out.resolve(), args.size, workdir))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
