"""The ingest bar: an ingest run from inside the app (ctrl+o, the palette, the no-index dialog),
in a thread worker, with its progress shown.

Hidden until an ingest starts. `IngestProgress` and `IngestFinished` bubble on to the screen (the
status line says the phase); the ingest's report (the CLI's summary and its skipped files) is a
toast.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from textual import work
from textual.widgets import ProgressBar

from atlas_tui.config import demo_corpus_path
from atlas_tui.errors import AtlasError, ConfigError
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.messages import IngestFinished, IngestProgress
from atlas_tui.tui.notices import index_summary, ingest_summary
from atlas_tui.tui.screens.dialogs import ConfirmScreen
from atlas_tui.tui.screens.ingest import IngestScreen

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery

SKIPS_SHOWN = 10  # skipped files listed in the report


class IngestStep(Protocol):
    """What the client's ingest reports as it goes (duck-typed: the TUI never imports knowledge)."""

    phase: str
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    chunks_per_s: float


def progress_of(step: IngestStep) -> IngestProgress:
    """How far an ingest got, as the bar and the status line show it."""
    if step.phase == "embedding" and step.chunks_total:
        done, total = step.chunks_done, step.chunks_total
        label = f"embedding {done}/{total} chunks"
        if done:
            label += f" ({step.chunks_per_s:.1f}/s)"
            return IngestProgress(done, total, label)
        return IngestProgress(done, None, label)  # reported once a batch: until then, a pulse
    if step.phase == "waiting":
        return IngestProgress(0, None, "waiting for another ingest into this index")
    done, total = step.files_done, step.files_total or None
    return IngestProgress(done, total, f"{step.phase} {done}/{total or '?'} files")


class IngestBar(ProgressBar):
    def __init__(self, client: AtlasQuery, stop: threading.Event, *, id: str | None = None) -> None:
        """`stop`: set to make a running ingest stop at its next file (e.g. on quit)."""
        super().__init__(id=id, show_eta=False)
        self.client = client
        self.stop = stop

    def on_mount(self) -> None:
        self.display = False

    @property
    def running(self) -> bool:
        return any(w.group == "ingest" and w.is_running for w in self.workers)

    def choose(self) -> None:
        """Ask for a folder or file (a dialog), then ingest it."""

        def chosen(path: str | None) -> None:
            if path:
                self.start([path])

        self.app.push_screen(IngestScreen(Path.cwd()), chosen)

    def offer_demo(self, problem: str) -> None:
        """The index is missing or empty (`problem`): offer to ingest the bundled demo corpus."""
        try:
            demo = demo_corpus_path()
        except ConfigError:
            self.notify(problem, title="Index", severity="warning", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.start([str(demo)])

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
        if self.running:
            self.notify("An ingest is already running.", severity="warning")
            return
        self.update(total=None, progress=0)
        self.display = True
        self.stop.clear()
        self.post_message(IngestProgress(0, None, ""))  # begun: nothing to count yet
        self._ingest(paths)

    @work(thread=True, exit_on_error=False, group="ingest")
    def _ingest(self, paths: list[str]) -> None:
        try:
            report = self.client.ingest(
                paths,
                progress=lambda step: self.post_message(progress_of(step)),
                should_stop=self.stop.is_set,
            )
            skipped = tuple(
                (terminal_safe(str(s.path)), terminal_safe(str(s.reason))) for s in report.skipped
            )
            try:
                index = index_summary(self.client.stats())
            except AtlasError:
                index = ""
            ok = bool(getattr(report, "ok", True))
            finished = IngestFinished(ingest_summary(report), skipped, ok=ok, index=index)
        except AtlasError as error:
            finished = IngestFinished(terminal_safe(error.describe()), (), ok=False)
        except Exception as error:  # shown, never fatal
            self.log.error("ingest failed", error)
            finished = IngestFinished(terminal_safe(f"Ingest failed: {error}"), (), ok=False)
        self.post_message(finished)

    def on_ingest_progress(self, message: IngestProgress) -> None:
        self.update(total=message.total, progress=message.done)  # (it bubbles on to the screen)

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.display = False
        lines = [message.summary]
        if message.skipped:
            lines.append(f"Skipped {len(message.skipped)}:")
            lines += [f"  {path}: {reason}" for path, reason in message.skipped[:SKIPS_SHOWN]]
            if len(message.skipped) > SKIPS_SHOWN:
                lines.append(f"  … and {len(message.skipped) - SKIPS_SHOWN} more")
        self.notify(
            "\n".join(lines),
            title="Ingest finished" if message.ok else "Ingest failed",
            severity="information" if message.ok else "error",
            timeout=15,
            markup=False,
        )
