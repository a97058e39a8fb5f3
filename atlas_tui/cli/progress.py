"""Ingest with one progress bar on a terminal (percent, passages/s, time left), ctrl+c to stop
cleanly, and the closing report; quiet otherwise. The report names files: it is printed through
the CLI's terminal filter (`output.say`)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from atlas_tui.cli.output import count
from atlas_tui.safety import display_path, terminal_safe

WAITING = "Another ingest is writing this index: waiting for it to finish (ctrl+c stops)."
STOPPING = "stopping after this batch (ctrl+c again: at once)…"


def say_waiting(detail: str = "") -> None:
    print(terminal_safe(detail) or WAITING, file=sys.stderr, flush=True)


def _say_waiting(progress: Any) -> None:
    if progress.phase == "waiting":
        say_waiting(progress.detail)


def ingest_with_progress(
    run: Callable[[Callable[[Any], None]], Any],
    *,
    show: bool = True,
    stopping: Callable[[], bool] = lambda: False,
) -> Any:
    """Call `run(progress)` (an ingest or a resume, given its progress callback); on a terminal,
    show one bar for the whole run: percent, what it is doing, passages a second, time left
    (and that it is stopping, once `stopping()`)."""
    if not show:
        return run(_say_waiting)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TextColumn("{task.fields[line]}", markup=False),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        task = bar.add_task("ingest", total=1000, line="starting")

        def update(progress: Any) -> None:
            if progress.phase == "waiting":
                bar.console.print(terminal_safe(progress.detail) or WAITING, markup=False)
            line = terminal_safe(progress.describe())
            if stopping() and progress.phase not in ("stopped", "done"):
                line = f"{STOPPING} {line}"
            bar.update(task, completed=round(1000 * progress.fraction), line=line)

        return run(update)


@contextmanager
def stop_on_ctrl_c(stop: Callable[[], None], *, quiet: bool = False) -> Iterator[None]:
    """The first ctrl+c asks the run to stop after the batch in hand (`stop()`; said on stderr
    unless `quiet`: a progress bar says it instead); a second one interrupts at once. Only in
    the main thread (where Python delivers signals)."""
    previous = signal.getsignal(signal.SIGINT)
    asked = False

    def on_interrupt(signum: int, frame: Any) -> None:
        nonlocal asked
        if asked:
            signal.signal(signal.SIGINT, previous)
            raise KeyboardInterrupt
        asked = True
        stop()
        if not quiet:
            print(STOPPING.capitalize(), file=sys.stderr, flush=True)

    signal.signal(signal.SIGINT, on_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def format_report(report: Any) -> str:
    """The closing summary of an ingest, with every skipped file and why."""
    where = " on the Ray cluster" if report.engine == "ray" else ""
    encoder = f" ({report.encoder} encoder{where})" if report.encoder else where
    if report.resume:
        first = f"Embedded {report.chunks_embedded:,} passages in {report.elapsed_s:.1f} s"
    else:
        reread, reused = report.files_reread, report.chunks_reused
        first = (
            f"Indexed {count(report.files_indexed, 'file')} in {report.elapsed_s:.1f} s: "
            f"{report.files_added} added, {report.files_updated} updated, "
            + (f"{reread} read again (new reader), " if reread else "")
            + f"{report.files_unchanged} unchanged, {report.files_removed} removed; "
            f"{report.chunks_written:,} passages written"
            + (f" ({reused:,} with the embedding of an unchanged passage)" if reused else "")
            + f", {report.chunks_embedded:,} embedded"
        )
    lines = [f"{first}{encoder}."]
    if report.interrupted:
        lines.append(stopped_line(report))
    elif report.chunks_pending:
        lines.append(
            f"{report.index_embedded:,} of {report.index_chunks:,} passages embedded; "
            f"{count(report.chunks_pending, 'passage')} still await a vector (keyword search "
            "finds them already): run `atlas-tui ingest` to embed them."
        )
    if report.repaired:
        lines.append("Repaired the index first: " + "; ".join(report.repaired) + ".")
    if report.removed:
        lines.append(f"Removed {len(report.removed)} from the index:")
        lines.extend(f"  {display_path(s.path)}: {s.reason}" for s in report.removed)
    if report.skipped:
        lines.append(f"Skipped {len(report.skipped)}:")
        lines.extend(f"  {display_path(s.path)}: {s.reason}" for s in report.skipped)
    if not report.ok:
        lines.append("Nothing could be ingested.")
    return "\n".join(lines)


def stopped_line(report: Any) -> str:
    """What a stopped run kept, and how to go on: "Stopped: 4,210 of 10,982 passages embedded;
    run `atlas-tui ingest` again to resume." """
    if report.stopped_in == "reading":
        return (
            "Stopped while reading files: the files read are kept (and keyword-searchable); "
            "run the same `atlas-tui ingest PATH` again to read the rest."
        )
    return (
        f"Stopped: {report.index_embedded:,} of {report.index_chunks:,} passages embedded; "
        "run `atlas-tui ingest` again to resume."
    )
