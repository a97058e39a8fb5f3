"""Ingest with a progress bar on a terminal (files, chunks, chunks/s, ETA); quiet otherwise. The
closing report names files: it is printed through the CLI's terminal filter (`output.say`)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from atlas_tui.cli.output import count
from atlas_tui.safety import display_path, terminal_safe

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery

WAITING = "Another ingest is writing this index: waiting for it to finish (ctrl+c stops)."


def say_waiting(detail: str = "") -> None:
    print(terminal_safe(detail) or WAITING, file=sys.stderr, flush=True)


def _say_waiting(progress: Any) -> None:
    if progress.phase == "waiting":
        say_waiting(progress.detail)


def ingest_with_progress(
    client: AtlasQuery,
    paths: Sequence[str],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    show: bool = True,
) -> Any:
    """Run `client.ingest`; on a terminal, show a live bar for each phase."""
    if not show:
        return client.ingest(list(paths), include=include, exclude=exclude, progress=_say_waiting)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description:<10}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=False) as bar:
        tasks: dict[str, Any] = {}

        def update(progress: Any) -> None:
            if progress.phase == "waiting":
                bar.console.print(terminal_safe(progress.detail) or WAITING, markup=False)
                return
            files = tasks.get("files")
            if files is None:
                files = tasks["files"] = bar.add_task("files", total=None, rate="")
            bar.update(files, completed=progress.files_done, total=progress.files_total or None)
            if progress.chunks_total:
                chunks = tasks.get("chunks")
                if chunks is None:
                    chunks = tasks["chunks"] = bar.add_task("embedding", total=None, rate="")
                rate = f"{progress.chunks_per_s:.1f} chunks/s" if progress.chunks_per_s else ""
                if rate and progress.workers > 1:
                    rate += f" on {progress.workers} workers"
                bar.update(
                    chunks, completed=progress.chunks_done, total=progress.chunks_total, rate=rate
                )

        return client.ingest(list(paths), include=include, exclude=exclude, progress=update)


def format_report(report: Any) -> str:
    """The closing summary of an ingest, with every skipped file and why."""
    lines = [
        f"Indexed {count(report.files_indexed, 'file')} in {report.elapsed_s:.1f} s: "
        f"{report.files_added} added, {report.files_updated} updated, "
        f"{report.files_unchanged} unchanged, {report.files_removed} removed; "
        f"{count(report.chunks_written, 'chunk')} written, {report.chunks_embedded} embedded"
        + (" on the Ray cluster." if report.engine == "ray" else ".")
    ]
    if report.chunks_pending:
        lines.append(
            f"{count(report.chunks_pending, 'chunk')} still await embedding "
            "(keyword search finds them already); run the same ingest again to finish."
        )
    if report.interrupted:
        lines.append("Interrupted: finished files are kept; the next run resumes.")
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
