"""What the user reads about an answer or the index: how an answer ended (the note under it), and
when something is not as expected, one clear sentence and what to do."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from atlas_tui import errors
from atlas_tui.conversation import CANCELLED_BEFORE_START, ConversationTurn
from atlas_tui.query import Failed, Round
from atlas_tui.usage import usage_record, usage_text

STEP_KEYS = "alt+←/→"  # how a question's answers are stepped through


def failure_notice(error: errors.AtlasError) -> str:
    """The error's own message and its hint, each said once; never a traceback."""
    text = error.describe()
    if error.partial_text:
        text += "\nThe partial answer above is kept."
    return text


def research_progress(event: Round, rounds: int) -> str:
    """The status line's account of a research run so far: 'round 2/5 · 6,120 in · 240 out ·
    $0.0146' (rounds done of the most allowed; tokens and cost of every round so far)."""
    used = usage_text([usage_record(event.usage, event.cost_usd)])
    return f"round {event.round.number}/{rounds}" + (f" · {used}" if used else "")


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
        return cancelled_note(turn) + again + where, "cancelled"
    if isinstance(failed.error, errors.IndexMissingError | errors.EmptyIndexError):
        retry = " ctrl+o ingests a folder, then ask again."  # answering again cannot help
    else:
        retry = again if failed.error.retryable else ""
    return failure_notice(failed.error) + retry + where, "error"


def cancelled_note(turn: ConversationTurn) -> str:
    """What a cancel kept: the partial answer, and in research mode the rounds' passages."""
    rounds = turn.on_screen.rounds
    if rounds:
        last = rounds[-1].number
        return f"Cancelled after round {last}: the passages found and the partial answer are kept."
    return "Cancelled: the partial answer is kept."


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
        return f"{cancelled_note(turn)} ctrl+r regenerates.{where}", "cancelled"
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
    """One line, as the CLI's report says it: files added, updated, unchanged, removed; chunks.
    A resume (nothing read) says what it embedded; a stopped run, what it kept (`stopped_note`)."""
    data = _fields(report)
    if data.get("resume"):
        text = f"Embedded {data.get('chunks_embedded', 0):,} passages left by an earlier ingest."
    else:
        counts = ", ".join(
            f"{data.get(f'files_{kind}', 0)} {kind}"
            for kind in ("added", "updated", "unchanged", "removed")
        )
        text = f"Files: {counts}. Chunks written: {data.get('chunks_written', 0)}."
    if data.get("interrupted"):
        text = f"{stopped_note(data)}\n{text}"
    return text


def stopped_note(report: Any) -> str:
    """What a stopped ingest kept, and how to go on (the CLI's sentence with the TUI's key):
    "Stopped: 4,210 of 10,982 passages embedded; ctrl+o resumes"."""
    data = _fields(report)
    where = data.get("stopped_in")
    if where == "waiting":
        return "Stopped before it began (another ingest held the index): nothing was written."
    if where == "reading":
        return (
            "Stopped while reading files: the files read are kept and keyword-searchable; "
            "ctrl+o with the same folder reads the rest."
        )
    embedded, chunks = data.get("index_embedded", 0), data.get("index_chunks", 0)
    return f"Stopped: {embedded:,} of {chunks:,} passages embedded; ctrl+o resumes."


def index_summary(stats: Any) -> str:
    """'index: 14 documents, 212 chunks' from the client's stats (or an ingest report); while
    chunks await a vector, how many have one: 'index: 333 documents, 11,104 chunks (634
    embedded)' (vector and hybrid search find only those: the line never claims more)."""
    data = _fields(stats)
    parts = []
    for key in ("documents", "files", "chunks"):
        value = data.get(key)
        if isinstance(value, int):
            parts.append(f"{value:,} {key[:-1] if value == 1 else key}")
    embedded = data.get("embedded_chunks")
    if parts and data.get("pending_chunks") and isinstance(embedded, int):
        parts[-1] += f" ({embedded:,} embedded)"
    return "index: " + (", ".join(parts) if parts else "ready")


_EMBEDDED_OF = re.compile(r"index: .*?([\d,]+) chunks? \(([\d,]+) embedded\)")


def short_index(summary: str) -> str:
    """The count an ingest moves, in a form that fits beside its progress on 80 columns:
    'index: 333 documents, 11,104 chunks (634 embedded)' -> 'index: 634/11,104 embedded';
    a summary without passages awaiting a vector is returned as it is."""
    found = _EMBEDDED_OF.fullmatch(summary)
    return f"index: {found[2]}/{found[1]} embedded" if found else summary
