"""Ingesting from inside the app: a thread worker with a progress bar and the CLI's skip report."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from textual import work
from textual.app import App
from textual.widgets import ProgressBar

from atlas_tui.config import demo_corpus_path
from atlas_tui.errors import AtlasError, ConfigError
from atlas_tui.query import AtlasQuery
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.messages import IngestFinished, IngestProgress
from atlas_tui.tui.notices import index_summary, ingest_summary
from atlas_tui.tui.screens.ingest import IngestScreen
from atlas_tui.tui.widgets.status import StatusLine

SKIPS_SHOWN = 10


class IngestStep(Protocol):
    """What the client's ingest reports as it goes (duck-typed: the TUI never imports knowledge)."""

    phase: str
    files_done: int
    files_total: int
    chunks_done: int
    chunks_total: int
    chunks_per_s: float


class IngestingMixin(App[None]):
    """The ingesting part of AtlasApp (which sets these attributes up)."""

    client: AtlasQuery
    _stop_ingest: threading.Event

    def action_ingest(self) -> None:
        def chosen(path: str | None) -> None:
            if path:
                self.start_ingest([path])

        self.push_screen(IngestScreen(Path.cwd()), chosen)

    def _ingest_demo(self) -> None:
        try:
            self.start_ingest([str(demo_corpus_path())])
        except ConfigError as error:
            self.notify(error.describe(), severity="error", markup=False)

    def start_ingest(self, paths: list[str]) -> None:
        if any(w.group == "ingest" and w.is_running for w in self.workers):
            self.notify("An ingest is already running.", severity="warning")
            return
        bar = self.query_one("#ingest-progress", ProgressBar)
        bar.update(total=None, progress=0)
        bar.display = True
        self.query_one(StatusLine).state = "ingesting…"
        self._stop_ingest.clear()
        self._ingest(paths)

    @work(thread=True, exit_on_error=False, group="ingest")
    def _ingest(self, paths: list[str]) -> None:
        try:
            report = self.client.ingest(
                paths, progress=self._ingest_progress, should_stop=self._stop_ingest.is_set
            )
            skipped = tuple(
                (terminal_safe(str(s.path)), terminal_safe(str(s.reason))) for s in report.skipped
            )
            summary = ingest_summary(report)
            try:
                index = index_summary(self.client.stats())
            except AtlasError:
                index = ""
            ok = bool(getattr(report, "ok", True))
            self.post_message(IngestFinished(summary, skipped, ok=ok, index=index))
        except AtlasError as error:
            self.post_message(IngestFinished(error.describe(), (), ok=False))
        except Exception as error:  # shown, never fatal
            self.log.error("ingest failed", error)
            self.post_message(IngestFinished(f"Ingest failed: {error}", (), ok=False))

    def _ingest_progress(self, progress: IngestStep) -> None:
        if progress.phase == "embedding" and progress.chunks_total:
            done, total = progress.chunks_done, progress.chunks_total
            label = f"embedding {done}/{total} chunks"
            if done:
                label += f" ({progress.chunks_per_s:.1f}/s)"
            else:  # ingest reports once per batch: until the first, the bar pulses
                total = None
        elif progress.phase == "waiting":
            done, total, label = 0, None, "waiting for another ingest into this index"
        else:
            done, total = progress.files_done, progress.files_total or None
            label = f"{progress.phase} {done}/{total or '?'} files"
        self.post_message(IngestProgress(done, total, label))

    def on_ingest_progress(self, message: IngestProgress) -> None:
        bar = self.query_one("#ingest-progress", ProgressBar)
        bar.update(total=message.total, progress=message.done)
        self.query_one(StatusLine).state = f"ingesting {terminal_safe(message.label)}"

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.query_one("#ingest-progress").display = False
        status = self.query_one(StatusLine)
        status.state = ""
        if message.index:
            status.index = message.index
        lines = [terminal_safe(message.summary)]
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
