"""The ingest bar: an ingest run from inside the app (ctrl+o, the palette, the no-index dialog),
or the embedding an earlier ingest left (resumed on opening the index), in a thread worker, with
its progress shown.

Hidden until an ingest starts. One bar for the whole run: the library weighs its phases (reading
files, embedding passages) by what they cost, so it never drops back, and its one line says the
passages a second and the time left. `IngestProgress` and `IngestFinished` bubble on to the screen
(the status line says the line; its index count is measured again every few seconds, embedded vs
all); the ingest's report (the CLI's summary and its skipped files, or what a stopped run kept) is
a toast. `stop()` asks the run to stop after the batch in hand: what was written stays.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from textual import work
from textual.widgets import ProgressBar
from textual.worker import Worker, WorkerCancelled, WorkerFailed

from atlas_tui.config import demo_corpus_path
from atlas_tui.errors import AtlasError, ConfigError
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.messages import IndexSized, IngestFinished, IngestProgress
from atlas_tui.tui.notices import index_summary, ingest_summary
from atlas_tui.tui.screens.dialogs import ConfirmScreen
from atlas_tui.tui.screens.ingest import IngestScreen

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery

SKIPS_SHOWN = 10  # skipped files listed in the report
BAR_STEPS = 1000  # the bar's resolution (the run's fraction done, 0..1, times this)
INDEX_EVERY_S = 5.0  # while an ingest runs, the status line's index count is measured this often
STOP_WAIT_S = 30.0  # quitting waits this long for the batch in hand to be written


class IngestStep(Protocol):
    """What the client's ingest reports as it goes (duck-typed: the TUI never imports knowledge;
    see knowledge/steering.py's `IngestProgress`)."""

    phase: str
    fraction: float  # of the whole run, weighted by what each phase costs; never goes back

    def describe(self) -> str: ...


def progress_of(step: IngestStep) -> IngestProgress:
    """How far an ingest got, as the bar and the status line show it: the fraction of the whole
    run, and one line ("embedding 4,210/10,982 passages · 31.2/s · 5:41 left")."""
    label = terminal_safe(step.describe())
    if step.phase == "waiting":  # for another ingest into this index: no progress to show
        return IngestProgress(0, None, label)
    return IngestProgress(round(BAR_STEPS * step.fraction), BAR_STEPS, label)


class IngestBar(ProgressBar):
    def __init__(self, client: AtlasQuery, stop: threading.Event, *, id: str | None = None) -> None:
        """`stop`: set to make a running ingest stop after the batch in hand (ctrl+x, on quit)."""
        super().__init__(id=id, show_eta=False)
        self.client = client
        self.stop_event = stop
        self.paths: list[str] = []  # what the running (or last) ingest reads; [] for a resume
        self.label = ""  # the running ingest's line, as the status line shows it

    def on_mount(self) -> None:
        self.display = False

    @property
    def running(self) -> bool:
        return any(w.group == "ingest" and w.is_running for w in self.workers)

    @property
    def stopping(self) -> bool:
        return self.running and self.stop_event.is_set()

    def stop(self) -> bool:
        """Ask the running ingest to stop after the batch in hand; False when none runs."""
        if not self.running:
            return False
        self.stop_event.set()
        total = None if self.total is None else int(self.total)
        self.post_message(IngestProgress(int(self.progress), total, self.label))  # says so
        return True

    async def stopped(self, timeout: float = STOP_WAIT_S) -> bool:
        """Wait (at most `timeout` s) for the running ingest to end; True when it did."""
        workers = [w for w in self.workers if w.group == "ingest" and w.is_running]
        if not workers:
            return True
        try:
            await asyncio.wait_for(asyncio.gather(*(w.wait() for w in workers)), timeout)
        except TimeoutError:
            return False
        except (WorkerFailed, WorkerCancelled):  # it ended too (a failure was said)
            return True
        return True

    def choose(self) -> None:
        """Ask for a folder or file (a dialog, at the last one ingested), then ingest it."""

        def chosen(path: str | None) -> None:
            if path:
                self.start([path])

        last = Path(self.paths[0]) if self.paths else Path.cwd()
        start = last if last.is_dir() else last.parent  # (a file ingested: its folder)
        self.app.push_screen(IngestScreen(start if start.is_dir() else Path.cwd()), chosen)

    def offer_demo(self, problem: str, then: Callable[[], None] = lambda: None) -> None:
        """The index is missing or empty (`problem`): offer to ingest the bundled demo corpus;
        `then` runs once that is answered (a toast shown meanwhile would cover the dialog)."""
        try:
            demo = demo_corpus_path()
        except ConfigError:
            self.notify(problem, title="Index", severity="warning", markup=False)
            then()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.start([str(demo)])
            then()

        question = (
            f"{problem}\n\nIngest the bundled demo corpus (about atlas-tui itself) now?\n"
            "Or, Not now, then ctrl+o: ingest a folder of your own."
        )
        self.app.push_screen(ConfirmScreen(question, "Ingest the demo", "Not now"), answered)

    def start_demo(self) -> None:
        try:
            self.start([str(demo_corpus_path())])
        except ConfigError as error:
            self.notify(error.describe(), severity="error", markup=False)

    def start(self, paths: list[str]) -> None:
        """Ingest `paths` (unless an ingest is running already: that is said)."""

        def run(progress: Callable[[IngestStep], None], stop: Callable[[], bool]) -> Any:
            return self.client.ingest(paths, progress=progress, should_stop=stop)

        self._begin(paths, run)

    def resume(self, pending: int, stop_key: str) -> None:
        """Embed the `pending` passages an earlier ingest left, in the background (the app stays
        usable: searches read the index while it is written); `stop_key` stops it."""
        if self.running:
            return  # (the running ingest embeds them too)
        self.notify(
            f"Embedding {pending:,} passages left by an earlier ingest, in the background "
            f"({stop_key} stops).",
            title="Index",
            markup=False,
        )

        def run(progress: Callable[[IngestStep], None], stop: Callable[[], bool]) -> Any:
            return self.client.resume_embedding(progress=progress, should_stop=stop)

        self._begin([], run)

    def _begin(self, paths: list[str], run: Callable[[Any, Any], Any]) -> None:
        if self.running:
            self.notify("An ingest is already running.", severity="warning")
            return
        self.update(total=None, progress=0)
        self.display = True
        self.stop_event.clear()
        self.paths = paths
        self.label = ""
        self.post_message(IngestProgress(0, None, ""))  # begun: nothing to count yet
        self._ingest(run)

    @work(thread=True, exit_on_error=False, group="ingest")
    def _ingest(self, run: Callable[[Any, Any], Any]) -> None:
        measured = [time.monotonic()]

        def progress(step: IngestStep) -> None:
            self.post_message(progress_of(step))
            if time.monotonic() - measured[0] >= INDEX_EVERY_S:  # embedded vs all, as it grows
                measured[0] = time.monotonic()
                self._measure()

        try:
            report = run(progress, self.stop_event.is_set)
            skipped = tuple(
                (terminal_safe(str(s.path)), terminal_safe(str(s.reason))) for s in report.skipped
            )
            ok = bool(getattr(report, "ok", True))
            stopped = bool(getattr(report, "interrupted", False))
            finished = IngestFinished(
                ingest_summary(report), skipped, ok=ok, index=self._measure(), stopped=stopped
            )
        except AtlasError as error:
            finished = IngestFinished(terminal_safe(error.describe()), (), ok=False)
        except Exception as error:  # shown, never fatal
            self.log.error("ingest failed", error)
            finished = IngestFinished(terminal_safe(f"Ingest failed: {error}"), (), ok=False)
        self.post_message(finished)

    def _measure(self) -> str:
        """The index's size now, embedded vs all (posted for the status line); "" when it cannot
        be read (the count on screen stays)."""
        try:
            index = index_summary(self.client.stats())
        except AtlasError as error:
            self.log.warning("the index size was not measured", error)
            return ""
        self.post_message(IndexSized(index))
        return index

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group == "ingest":  # the stop key joins the footer, or leaves it
            self.screen.refresh_bindings()

    def on_ingest_progress(self, message: IngestProgress) -> None:
        self.label = message.label
        if self.stop_event.is_set():
            message.label = f"stopping after this batch… {message.label}".rstrip()
        self.update(total=message.total, progress=message.done)  # (it bubbles on to the screen)

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.display = False
        lines = [message.summary]
        if message.skipped:
            lines.append(f"Skipped {len(message.skipped)}:")
            lines += [f"  {path}: {reason}" for path, reason in message.skipped[:SKIPS_SHOWN]]
            if len(message.skipped) > SKIPS_SHOWN:
                lines.append(f"  … and {len(message.skipped) - SKIPS_SHOWN} more")
        title = "Ingest finished" if message.ok else "Ingest failed"
        self.notify(
            "\n".join(lines),
            title="Ingest stopped" if message.stopped else title,
            severity="information" if message.ok else "error",
            timeout=15,
            markup=False,
        )
