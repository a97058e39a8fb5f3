"""What the user reads when something is not as expected: one clear sentence and what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlas_tui import errors
from atlas_tui.safety import terminal_safe


def failure_notice(error: errors.AtlasError) -> str:
    """The error's own message and its hint, each said once; never a traceback."""
    text = error.describe()
    if error.partial_text:
        text += "\nThe partial answer above is kept."
    return terminal_safe(text)


def no_key_note() -> str:
    return (
        "No ANTHROPIC_API_KEY is set, so answers are extractive: the most relevant sentences of "
        "your documents, quoted with citations. Set ANTHROPIC_API_KEY (environment or the config "
        "file's api_key) and restart for answers written by Claude, or name a local model "
        "server (Ollama, llama.cpp) in the config file's [endpoints] (see the README)."
    )


def _fields(value: Any) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if hasattr(value, "to_dict"):
        return value.to_dict()
    return {k: getattr(value, k) for k in dir(value) if not k.startswith("_")}


def index_is_empty(stats: Any) -> bool:
    return _fields(stats).get("chunks") == 0


def ingest_summary(report: Any) -> str:
    """One line, as the CLI's report says it: files added, updated, unchanged, removed; chunks."""
    data = _fields(report)
    counts = ", ".join(
        f"{data.get(f'files_{kind}', 0)} {kind}"
        for kind in ("added", "updated", "unchanged", "removed")
    )
    text = f"Files: {counts}. Chunks written: {data.get('chunks_written', 0)}."
    if data.get("interrupted"):
        text += " Interrupted: the next ingest resumes where this one stopped."
    return text


def index_summary(stats: Any) -> str:
    """'index: 14 documents, 212 chunks' from the client's stats (or an ingest report)."""
    data = _fields(stats)
    parts = []
    for key, label in (("documents", "documents"), ("files", "files"), ("chunks", "chunks")):
        value = data.get(key)
        if isinstance(value, int):
            parts.append(f"{value:,} {label}")
    return "index: " + (", ".join(parts) if parts else "ready")
