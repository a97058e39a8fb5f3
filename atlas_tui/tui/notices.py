"""What the user reads about an answer or the index: how an answer ended (the note under it), and
when something is not as expected, one clear sentence and what to do."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from atlas_tui import errors
from atlas_tui.conversation import CANCELLED_BEFORE_START, ConversationTurn
from atlas_tui.query import Failed
from atlas_tui.usage import usage_text

STEP_KEYS = "alt+←/→"  # how a question's answers are stepped through


def failure_notice(error: errors.AtlasError) -> str:
    """The error's own message and its hint, each said once; never a traceback."""
    text = error.describe()
    if error.partial_text:
        text += "\nThe partial answer above is kept."
    return text


def answer_note(turn: ConversationTurn) -> str:
    """The note under a finished answer: who answered, its usage, and which answer it is."""
    parts = [turn.answerer] if turn.answerer else []
    if used := usage_text([turn.usage]):
        parts.append(used)
    if turn.position:
        parts.append(f"{turn.position} ({STEP_KEYS})")
    return " · ".join(parts)


def ended_note(turn: ConversationTurn, failed: Failed, regenerate_key: str) -> tuple[str, str]:
    """The note under an answer that stopped (failed or cancelled), and its kind."""
    where = f" · {turn.position} ({STEP_KEYS})" if turn.position else ""
    again = f" {regenerate_key} regenerates."
    if failed.error.message == CANCELLED_BEFORE_START:
        return CANCELLED_BEFORE_START, "cancelled"
    if failed.cancelled:
        return "Cancelled: the partial answer is kept." + again + where, "cancelled"
    if isinstance(failed.error, errors.IndexMissingError | errors.EmptyIndexError):
        retry = " ctrl+o ingests a folder, then ask again."  # answering again cannot help
    else:
        retry = again if failed.error.retryable else ""
    return failure_notice(failed.error) + retry + where, "error"


def stored_note(turn: ConversationTurn) -> tuple[str, str]:
    """The note under a turn shown again (reopened, or another of its answers), and its kind
    (a CSS class), from how the answer ended."""
    error = turn.error
    where = f" · {turn.position} ({STEP_KEYS})" if turn.position else ""
    if turn.damaged:
        return f"Part of this turn could not be read: {turn.damaged}", "error"
    if turn.status == "done":
        return answer_note(turn), ""
    if turn.status == "cancelled":
        return f"Cancelled: the partial answer is kept. ctrl+r regenerates.{where}", "cancelled"
    if turn.status == "interrupted":
        return f"Interrupted: {error or 'the answer did not finish.'}{where}", "cancelled"
    if turn.status == "failed":
        return f"The answer failed: {error or 'no reason was recorded.'}{where}", "error"
    return "Unfinished: another atlas-tui may still be answering it.", "cancelled"


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
