"""A research session as Markdown (to read and share) or JSON (everything, to read back).

Documents and answers are untrusted text: the Markdown export escapes what goes into headings,
fences cited text with a fence longer than any it contains, and closes a code fence an answer left
open, so one turn cannot swallow the next or fake a footnote. Each piece first loses its terminal
escape sequences and control characters (`file_safe`: `cat` of the file must not act on them; the
JSON export keeps them, escaped), before any fence is measured, so a removed one cannot join two
runs of backticks into a fence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import datetime
from typing import Any

from atlas_tui.errors import SessionStoreError
from atlas_tui.safety import file_safe
from atlas_tui.sessions import AnswerVersion, Session, SessionTurn, turn_from_dict
from atlas_tui.types import Passage
from atlas_tui.usage import usage_text

JSON_FORMAT = "atlas-tui.session"
JSON_VERSION = 2  # 2: turns carry `alternatives` (earlier answers), `model` and `usage`
READABLE_VERSIONS = (1, 2)

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
        if data.get("format") != JSON_FORMAT or data.get("version") not in READABLE_VERSIONS:
            raise ValueError(f"not an {JSON_FORMAT} export, version {JSON_VERSION}")
        session: dict[str, Any] = data["session"]
        return Session(
            id=session["id"],
            title=session["title"],
            created=session["created"],
            updated=session["updated"],
            turns=tuple(turn_from_dict(turn) for turn in session["turns"]),
            system_prompt=str(session.get("system_prompt") or ""),
            model=str(session.get("model") or ""),
            temperature=_number(session.get("temperature"), float),
            max_tokens=_number(session.get("max_tokens"), int),
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
    if session.model:
        lines += ["", f"Model: {code(session.model)}"]
    if sampling := sampling_text(session.temperature, session.max_tokens):
        lines += ["", f"Answers: {sampling}"]
    if session.system_prompt.strip():
        lines += ["", "System prompt for this session:", "", *fenced(session.system_prompt)]
    for turn in session.turns:
        lines += ["", *_turn_markdown(turn)]
    return "\n".join(lines) + "\n"


def sampling_text(temperature: float | None, max_tokens: int | None) -> str:
    """ "temperature 0.2 · up to 300 tokens" for a session's own settings; "" when none."""
    parts = [] if temperature is None else [f"temperature {temperature:g}"]
    if max_tokens is not None:
        parts.append(f"up to {max_tokens:,} tokens")
    return " · ".join(parts)


def _number(value: Any, kind: type) -> Any:
    """A stored number of `kind`, or None (absent, or of another shape)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return kind(value)


def inline(text: str) -> str:
    """Untrusted text on one line, with Markdown punctuation escaped."""
    return _INLINE_SPECIAL.sub(r"\\\1", " ".join(file_safe(text).split()))


def code(text: str) -> str:
    """A code span that holds any text, backticks included."""
    text = " ".join(file_safe(text).split())
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fenced(text: str, indent: str = "") -> list[str]:
    """A fenced block that holds any text: its fence is longer than any backtick run inside."""
    text = file_safe(text)
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    body = [f"{indent}{line}" if line else "" for line in text.splitlines()]
    return [f"{indent}{fence}text", *body, f"{indent}{fence}"]


def footnote_label(turn: SessionTurn, number: int, alternative: int = 0) -> str:
    """`2-1` for document [1] of turn 2's answer; `2a1-1` in its first alternative answer."""
    return f"{turn.position}{f'a{alternative}' if alternative else ''}-{number}"


def _turn_markdown(turn: SessionTurn) -> list[str]:
    lines = [f"## {turn.position}. {inline(turn.question)}", ""]
    count = len(turn.alternatives) + 1
    lines += _answer_block(turn, turn.version(), 0, count)
    for index, version in enumerate(turn.alternatives, 1):
        lines += ["", f"### Alternative answer {index} of {count} (regenerated since)", ""]
        lines += _answer_block(turn, version, index, count)
    return lines


def _answer_block(
    turn: SessionTurn, version: AnswerVersion, alternative: int, count: int
) -> list[str]:
    """One answer to the turn's question, its note, and its cited sources as footnotes."""

    def label(number: int) -> str:
        return footnote_label(turn, number, alternative)

    answer, referenced = _answer_markdown(version, label)
    lines = [answer if answer.strip() else "*(no answer)*"]
    cited = _cited_numbers(version, referenced)
    unreferenced = [n for n in cited if n not in referenced]
    if unreferenced:
        lines += ["", f"Sources: {' '.join(f'[^{label(n)}]' for n in unreferenced)}"]
    note = _status_note(version, turn.damaged if not alternative else "")
    if count > 1 and not alternative:
        note += f" · answer {count} of {count}, the newest; earlier ones follow as alternatives"
    lines += ["", f"*{note}*"]
    for number in cited:
        lines += ["", *_footnote(version, number, label(number))]
    return lines


def _answer_markdown(version: AnswerVersion, label: Callable[[int], str]) -> tuple[str, list[int]]:
    """The answer with [n] linked to its footnotes, and any open fence closed."""
    referenced: list[int] = []

    def link(match: re.Match[str]) -> str:
        numbers = [int(n) for n in re.findall(r"\d+", match.group(1))]
        if not all(1 <= n <= len(version.documents) for n in numbers):
            return match.group(0)
        referenced.extend(n for n in numbers if n not in referenced)
        return "".join(f"[^{label(n)}]" for n in numbers)

    out: list[str] = []
    open_fence = ""
    for line in file_safe(version.answer).splitlines():
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


def _cited_numbers(version: AnswerVersion, referenced: Iterable[int]) -> list[int]:
    numbers = list(referenced)
    for citation in version.citations:
        if 1 <= citation.number <= len(version.documents) and citation.number not in numbers:
            numbers.append(citation.number)
    return numbers


def _footnote(version: AnswerVersion, number: int, label: str) -> list[str]:
    passage = version.documents[number - 1]
    texts = [
        c.cited_text for c in version.citations if c.number == number and c.cited_text.strip()
    ] or [passage.text]
    head = f"[^{label}]: **{inline(passage.title or passage.source)}** "
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
    if passage.line_span:
        parts.append(passage.line_span)
    return ", ".join(parts)


def _status_note(version: AnswerVersion, damaged: str = "") -> str:
    if damaged:
        return f"Unreadable: part of this turn is damaged ({inline(damaged)})"
    if version.status == "failed":
        return f"Failed: {inline(version.error or 'unknown error')}"
    if version.status in _STATUS_NOTES:
        return _STATUS_NOTES[version.status]
    note = f"Answered by {inline(version.answerer)}" if version.answerer else "Answered"
    total_ms = version.timings.get("total_ms")
    if isinstance(total_ms, int | float):
        note += f" in {total_ms / 1000:.1f} s"
    if used := usage_text([version.usage]):
        note += f" · {used}"
    return note


def _longest_run(text: str, char: str) -> int:
    return max((len(run) for run in re.findall(f"{re.escape(char)}+", text)), default=0)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")
