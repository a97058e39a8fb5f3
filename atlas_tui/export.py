"""A research session as Markdown (to read and share) or JSON (everything, to read back).

Documents and answers are untrusted text: the Markdown export escapes what goes into headings,
fences cited text with a fence longer than any it contains, and closes a code fence an answer left
open, so one turn cannot swallow the next or fake a footnote.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import Session, SessionTurn, turn_from_dict
from atlas_tui.types import Passage

JSON_FORMAT = "atlas-tui.session"
JSON_VERSION = 1

_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\](?![(\[:])")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_SPECIAL = re.compile(r"([\\`*_\[\]<>#|~])")
_STATUS_NOTES = {
    "interrupted": "Interrupted: the answer above is partial.",
    "cancelled": "Cancelled: the answer above is partial.",
    "pending": "Still waiting for an answer when exported.",
    "streaming": "Still answering when exported: the answer above is partial.",
}


# --- JSON ----------------------------------------------------------------------------------------


def export_json(session: Session) -> str:
    """Everything about the session, as JSON that `session_from_json` reads back."""
    data = {"format": JSON_FORMAT, "version": JSON_VERSION, "session": asdict(session)}
    return json.dumps(data, ensure_ascii=False, indent=2)


def session_from_json(text: str) -> Session:
    try:
        data = json.loads(text)
        if data.get("format") != JSON_FORMAT or data.get("version") != JSON_VERSION:
            raise ValueError(f"not an {JSON_FORMAT} export, version {JSON_VERSION}")
        session: dict[str, Any] = data["session"]
        return Session(
            id=session["id"],
            title=session["title"],
            created=session["created"],
            updated=session["updated"],
            turns=tuple(turn_from_dict(turn) for turn in session["turns"]),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise SessionStoreError(
            f"This is not a session exported by atlas-tui: {exc}",
            hint="Export one with `atlas-tui export SESSION --format json`.",
        ) from exc


# --- Markdown ------------------------------------------------------------------------------------


def export_markdown(session: Session) -> str:
    """Title, each question as a heading, its answer, and the cited sources as footnotes."""
    count = len(session.turns)
    lines = [
        f"# {inline(session.title or 'Untitled session')}",
        "",
        f"Session {code(session.id)} · started {_when(session.created)} · "
        f"{count} question{'' if count == 1 else 's'}",
    ]
    for turn in session.turns:
        lines += ["", *_turn_markdown(turn)]
    return "\n".join(lines) + "\n"


def inline(text: str) -> str:
    """Untrusted text on one line, with Markdown punctuation escaped."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def code(text: str) -> str:
    """A code span that holds any text, backticks included."""
    text = " ".join(text.split())
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str, indent: str = "") -> list[str]:
    """A fenced block that holds any text: its fence is longer than any backtick run inside."""
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    body = [f"{indent}{line}" if line else "" for line in text.splitlines()]
    return [f"{indent}{fence}text", *body, f"{indent}{fence}"]


def footnote_label(turn: SessionTurn, number: int) -> str:
    return f"{turn.position}-{number}"


def _turn_markdown(turn: SessionTurn) -> list[str]:
    answer, referenced = _answer_markdown(turn)
    lines = [f"## {turn.position}. {inline(turn.question)}", ""]
    lines.append(answer if answer.strip() else "*(no answer)*")
    cited = _cited_numbers(turn, referenced)
    unreferenced = [n for n in cited if n not in referenced]
    if unreferenced:
        refs = " ".join(f"[^{footnote_label(turn, n)}]" for n in unreferenced)
        lines += ["", f"Sources: {refs}"]
    lines += ["", f"*{_status_note(turn)}*"]
    for number in cited:
        lines += ["", *_footnote(turn, number)]
    return lines


def _answer_markdown(turn: SessionTurn) -> tuple[str, list[int]]:
    """The answer with [n] linked to this turn's footnotes, and any open fence closed."""
    referenced: list[int] = []

    def link(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not all(1 <= n <= len(turn.documents) for n in numbers):
            return match.group(0)
        referenced.extend(n for n in numbers if n not in referenced)
        return "".join(f"[^{footnote_label(turn, n)}]" for n in numbers)

    out: list[str] = []
    open_fence = ""
    for line in turn.answer.splitlines():
        fence = _FENCE.match(line)
        if open_fence:
            if (
                fence
                and fence.group(1)[0] == open_fence[0]
                and len(fence.group(1)) >= len(open_fence)
            ):
                open_fence = ""
            out.append(line)
            continue
        if fence:
            open_fence = fence.group(1)
            out.append(line)
            continue
        if line.lstrip().startswith("[^"):  # a footnote definition would hijack ours
            line = line.replace("[^", "\\[^", 1)
        out.append(_MARKER.sub(link, line))
    if open_fence:
        out.append(open_fence)
    return "\n".join(out), referenced


def _cited_numbers(turn: SessionTurn, referenced: Iterable[int]) -> list[int]:
    numbers = list(referenced)
    for citation in turn.citations:
        if 1 <= citation.number <= len(turn.documents) and citation.number not in numbers:
            numbers.append(citation.number)
    return numbers


def _footnote(turn: SessionTurn, number: int) -> list[str]:
    passage = turn.documents[number - 1]
    texts = [
        c.cited_text for c in turn.citations if c.number == number and c.cited_text.strip()
    ] or [passage.text]
    head = f"[^{footnote_label(turn, number)}]: **{inline(passage.title or passage.source)}** "
    head += code(passage.path)
    if passage.heading:
        head += f" › {inline(passage.heading)}"
    if where := _where(passage):
        head += f" ({where})"
    lines = [head]
    for text in dict.fromkeys(texts):  # distinct, in order
        lines += ["", *fenced(text, indent="    ")]
    return lines


def _where(passage: Passage) -> str:
    parts = []
    if passage.page is not None:
        parts.append(f"page {passage.page}")
    if passage.line_start:
        parts.append(f"lines {passage.line_start}–{passage.line_end}")
    return ", ".join(parts)


def _status_note(turn: SessionTurn) -> str:
    if turn.status == "failed":
        return f"Failed: {inline(turn.error or 'unknown error')}"
    if turn.status in _STATUS_NOTES:
        return _STATUS_NOTES[turn.status]
    note = f"Answered by {inline(turn.answerer)}" if turn.answerer else "Answered"
    total_ms = turn.timings.get("total_ms")
    if isinstance(total_ms, int | float):
        note += f" in {total_ms / 1000:.1f} s"
    return note


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
