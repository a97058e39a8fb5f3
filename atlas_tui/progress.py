"""Ingest with a progress bar on a terminal (files, chunks, chunks/s, ETA); quiet otherwise."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery


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
        return client.ingest(list(paths), include=include, exclude=exclude)
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
            files = tasks.get("files")
            if files is None:
                files = tasks["files"] = bar.add_task("files", total=None, rate="")
            bar.update(files, completed=progress.files_done, total=progress.files_total or None)
            if progress.chunks_total:
                chunks = tasks.get("chunks")
                if chunks is None:
                    chunks = tasks["chunks"] = bar.add_task("embedding", total=None, rate="")
                rate = f"{progress.chunks_per_s:.1f} chunks/s" if progress.chunks_per_s else ""
                bar.update(
                    chunks, completed=progress.chunks_done, total=progress.chunks_total, rate=rate
                )

        return client.ingest(list(paths), include=include, exclude=exclude, progress=update)
