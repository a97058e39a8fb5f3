"""One research request read: its answer text, held back where it may be a note, and the tool
calls it ends with (see research.py for the whole loop).

`RoundStream` is a single answer's `ClaudeStream` with a translator that also reports where each
content block starts and the `tool_use` blocks (their input streamed as `input_json_delta`s).
`read_reply` reads one: the first text block of the reply is held back until the reply shows what
it is. Followed by a tool call it is the round's note (shown with the round, not part of the
answer); followed by more text, longer than `HOLD_CHARS`, or ending a reply without tool calls, it
is the answer, and the rest streams as it comes. A failure or a cancel releases what was held, so
no text is lost.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from atlas_tui import errors
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.generation.anthropic import ClaudeStream
from atlas_tui.generation.events import Translator
from atlas_tui.generation.prompts import NumberedPassage
from atlas_tui.generation.research_tools import MAX_INPUT_CHARS
from atlas_tui.types import Usage

HOLD_CHARS = 300  # a note before tool calls is a sentence or two; longer text is the answer


@dataclass(frozen=True, slots=True)
class BlockStart:
    kind: str  # text | tool_use | ...


@dataclass(frozen=True, slots=True)
class ToolRequest:
    id: str
    name: str
    input_json: str  # as the model wrote it (checked by `parse_call`)


@dataclass(slots=True)
class _Call:
    """A `tool_use` block being read."""

    id: str
    name: str
    given: dict[str, Any]  # an input sent whole in the block's start (some servers do)
    parts: list[str] = field(default_factory=list)
    length: int = 0


class ToolTranslator(Translator):
    """The single answer's translator, which also reports where each content block starts and
    the `tool_use` blocks (their input streamed as `input_json_delta`s). An input is kept up to
    one character past `MAX_INPUT_CHARS`: enough for `parse_call` to refuse it, and a server
    streaming an endless input costs no memory."""

    def __init__(self, chosen: Sequence[NumberedPassage]) -> None:
        super().__init__(chosen)
        self._tool: _Call | None = None

    def feed(self, event: Any) -> list[Any]:
        kind = event.type
        if kind == "content_block_start":
            block = event.content_block
            self._tool = None
            if block.type == "tool_use":
                self._tool = _Call(block.id, block.name, dict(block.input or {}))
            return [BlockStart(block.type), *super().feed(event)]
        call = self._tool
        if call is not None:
            if kind == "content_block_delta" and event.delta.type == "input_json_delta":
                piece = event.delta.partial_json[: MAX_INPUT_CHARS + 1 - call.length]
                call.parts.append(piece)
                call.length += len(piece)
                return []
            if kind == "content_block_stop":  # (the next block's start resets `_tool`)
                raw = "".join(call.parts) or (json.dumps(call.given) if call.given else "")
                return [ToolRequest(call.id, call.name, raw)]
        return super().feed(event)


class RoundStream(ClaudeStream):
    """One research request, read like a single answer."""

    def _translator_for(self, compatible: bool) -> Translator:
        return ToolTranslator(self._chosen)


class Holder:
    """The first text block of a reply, held back until the reply shows what it is."""

    def __init__(self, active: bool) -> None:
        self.holding = active
        self.held: list[TextDelta] = []
        self.noted: list[str] = []

    def block(self, kind: str) -> list[TextDelta]:
        if not self.holding or not self.held:
            return []
        if kind == "text":  # more prose: the reply is the answer
            return self.release()
        self.noted.extend(delta.text for delta in self.held)  # a tool call follows: a note
        self.held = []
        return []

    def text(self, delta: TextDelta) -> list[TextDelta]:
        if not self.holding:
            return [delta]
        self.held.append(delta)
        if sum(len(d.text) for d in self.held) > HOLD_CHARS:
            return self.release()
        return []

    def release(self) -> list[TextDelta]:
        out, self.held, self.holding = self.held, [], False
        return out

    def note(self) -> str:
        return "".join([*self.noted, *(d.text for d in self.held)]).strip()


@dataclass(slots=True)
class Reply:
    calls: list[ToolRequest] = field(default_factory=list)
    note: str = ""
    words: str = ""  # the model's own text (without the markers the translator adds)
    usage: Usage = field(default_factory=Usage)
    stop_reason: str = "end_turn"


def read_reply(stream: Iterable[Any], *, hold: bool) -> Generator[TextDelta, None, Reply]:
    """The reply's answer text as it is released (`hold`: whether its first text block may be a
    note), then what the model asked for."""
    reply = Reply()
    holder = Holder(active=hold)
    words: list[str] = []
    try:
        for event in stream:
            if isinstance(event, BlockStart):
                yield from holder.block(event.kind)
            elif isinstance(event, TextDelta):
                if not event.citations:
                    words.append(event.text)
                yield from holder.text(event)
            elif isinstance(event, ToolRequest):
                reply.calls.append(event)
            elif isinstance(event, Completed):
                reply.usage, reply.stop_reason = event.usage, event.stop_reason
    except errors.GenerationError:
        yield from holder.release()  # what was held is kept with the partial answer
        raise
    if not reply.calls:
        yield from holder.release()
    reply.note, reply.words = holder.note(), "".join(words)
    return reply


def assistant_turn(reply: Reply) -> dict[str, Any]:
    """The model's reply as sent back: its words, then its tool calls (an input that was not a
    JSON object goes back as an empty one: the API takes nothing else)."""
    content: list[dict[str, Any]] = []
    if reply.words.strip():
        content.append({"type": "text", "text": reply.words})
    for call in reply.calls:
        content.append(
            {
                "type": "tool_use",
                "id": call.id,
                "name": call.name,
                "input": _json_object(call.input_json),
            }
        )
    return {"role": "assistant", "content": content}


def _json_object(text: str) -> dict[str, Any]:
    """`text` read as a JSON object; {} for anything else (empty, cut short, not an object)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
