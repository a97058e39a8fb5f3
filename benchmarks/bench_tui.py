"""TUI figures: time to first paint, delta throughput with nothing lost, key echo while streaming.

    python benchmarks/bench_tui.py

Runs headless (App.run_test) with a stand-in index and answerer behind the real AtlasQuery, so the
figures are the UI's own cost, not the model's. Key echo is timed from a key event posted to the
query box (as the driver would) to the next frame the app renders after the key took effect.
Two streams: a throughput run (STRESS) and an answer of realistic length and pace (TYPICAL).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence

from rich.console import RenderableType
from textual import events
from textual.app import App
from textual.screen import Screen

from atlas_tui.config import Settings
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.query import AtlasQuery
from atlas_tui.types import Passage, Turn

STRESS = (5000, 1000)  # deltas, deltas per second: the throughput run
TYPICAL = (600, 200)  # a long real answer at a fast model's pace: the key-echo run
FAST_TYPING, SLOW_TYPING = 0.05, 0.25  # seconds between a key shown and the next key
RUNS = [(*STRESS, FAST_TYPING), (*TYPICAL, FAST_TYPING), (*STRESS, SLOW_TYPING)]


def word(i: int) -> str:
    """Prose-like deltas: a paragraph break every 60 words."""
    return f"w{i}" + ("\n\n" if i % 60 == 59 else " ")


class InstantIndex:
    def warm(self) -> None: ...

    def stats(self) -> dict[str, int]:
        return {"documents": 1, "chunks": 1}

    def search(self, text: str, **_: object) -> list[Passage]:
        return [Passage("c1", "A passage.", "a.md", "/tmp", "A", "", 0.9, rank=1)]


class SteadyStream:
    def __init__(self, deltas: int, rate: int) -> None:
        self.deltas, self.rate = deltas, rate
        self._cancel = threading.Event()

    def __iter__(self) -> Iterator[TextDelta | Completed]:
        start = time.perf_counter()
        for i in range(self.deltas):
            while time.perf_counter() - start < i / self.rate:
                if self._cancel.wait(0.0005):
                    return
            yield TextDelta(word(i))
        yield Completed()

    def cancel(self) -> None:
        self._cancel.set()

    def close(self) -> None:
        self._cancel.set()


class SteadyAnswerer:
    label = "benchmark"
    extractive = False

    def __init__(self, deltas: int, rate: int) -> None:
        self.deltas, self.rate = deltas, rate

    def stream(self, question: str, passages: Sequence[Passage], history: Sequence[Turn] = ()):
        return SteadyStream(self.deltas, self.rate)


async def first_paint() -> float:
    from atlas_tui.tui.app import AtlasApp

    started = time.perf_counter()
    app = AtlasApp(Settings(provider="extractive"), AtlasQuery(Settings(), InstantIndex()))  # type: ignore[arg-type]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        return time.perf_counter() - started


def watch_frames(app: App[None], shown: Callable[[], bool]) -> list[float]:
    """Timestamps of the frames the app renders while `shown()` holds (checked at each frame).

    Headless, a frame is rendered, then not written. Checking the condition inside the display
    call finds the first frame rendered after a key took effect, even when it comes before the
    benchmark's own loop next runs (an earlier version waited for the frame after that one).
    """
    frames: list[float] = []
    display = app._display

    def counted(screen: Screen, renderable: RenderableType | None) -> None:
        if renderable is not None and shown():
            frames.append(time.perf_counter())
        display(screen, renderable)

    app._display = counted  # type: ignore[method-assign]
    return frames


async def streaming(deltas: int, rate: int, gap: float) -> tuple[float, bool, list[float]]:
    """Deltas/s shown, whether the whole answer arrived, and key echo times (ms); a key is
    pressed `gap` seconds after the previous one was shown."""
    from atlas_tui.tui.app import AtlasApp
    from atlas_tui.tui.widgets.query_box import QueryBox

    answerer = SteadyAnswerer(deltas, rate)
    client = AtlasQuery(Settings(), InstantIndex(), answerer)  # type: ignore[arg-type]
    app = AtlasApp(Settings(), client)
    box: QueryBox | None = None
    frames = watch_frames(app, lambda: box is not None and "x" in box.text)
    echoes: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        started = time.perf_counter()
        await pilot.press(*"go", "enter")
        box = app.query_one(QueryBox)
        while app.conversation.turns[-1].status in ("pending", "streaming"):
            frames.clear()
            t = time.perf_counter()
            app.post_message(events.Key("x", "x"))  # as the driver delivers a key press
            while not frames:  # the first frame rendered after the key took effect
                await asyncio.sleep(0.001)
            echoes.append((frames[0] - t) * 1000)
            box.clear()
            await asyncio.sleep(gap)
        elapsed = time.perf_counter() - started
        expected = "".join(word(i) for i in range(deltas))
        whole = app.conversation.turns[-1].answer == expected
        return deltas / elapsed, whole, echoes


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="atlas-bench-") as home:
        os.environ["ATLAS_DATA_DIR"] = home  # sessions and exports stay out of the user's data
        os.environ["ATLAS_CONFIG"] = os.path.join(home, "config.toml")
        paint = asyncio.run(first_paint())
        runs = {run: asyncio.run(streaming(*run)) for run in RUNS}
    print(f"first paint (headless, app construct -> first idle): {paint * 1000:.0f} ms")
    for (deltas, rate, gap), (shown, whole, echoes) in runs.items():
        print(
            f"{deltas} deltas at {rate}/s, a key every {gap * 1000:.0f} ms + echo: "
            f"shown {shown:.0f}/s; no text lost: {whole}"
        )
        p95 = statistics.quantiles(echoes, n=20, method="inclusive")[-1]
        print(
            "  key echo while streaming (key -> next rendered frame): "
            f"median {statistics.median(echoes):.1f} ms, p95 {p95:.1f} ms, "
            f"max {max(echoes):.1f} ms over {len(echoes)} presses"
        )


if __name__ == "__main__":
    main()
