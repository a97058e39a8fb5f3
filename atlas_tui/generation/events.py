"""The SDK's raw stream events as our events (`TextDelta`s, then one `Completed`).

Claude's citations arrive as `citations_delta` events naming a search result by index. Each becomes
a `Citation` for the document [n] the user sees, checked against that passage's text. The markers
are written when the cited text block ends (`content_block_stop`): the API sends a block's
citations before its text, so a marker placed on arrival would precede the claim it supports; at the
block's end it follows the claim, like a footnote. Markers the model already wrote are not doubled.

Markers the model writes into its text itself are not Claude's citations: a passage's injected
text could make it print a "[3]" for a claim no document makes. They pass the same check as on
the compatible profile (`CitationChecker`): the document must be one it was given, and a quote
before the marker must be in it; one that fails shows as [n?], and the answer ends with the line
saying why (only then: an answer whose own markers all check out ends as Claude wrote it).

A compatible server (Ollama, llama.cpp) sends plain text: `CompatibleTranslator` runs the same
events through a `CitationChecker`, which verifies the model's own [n] markers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from atlas_tui.generation import Completed, GenerationEvent, TextDelta
from atlas_tui.generation.citing import CitationChecker, summary
from atlas_tui.generation.prompts import NumberedPassage
from atlas_tui.types import Citation, Usage


class Translator:
    """Turns the SDK's raw stream events into our events, citations mapped to documents [n]."""

    def __init__(self, chosen: Sequence[NumberedPassage], *, check_written: bool = True) -> None:
        self._chosen = list(chosen)
        # the model's own [n] markers, checked (the compatible profile checks them after this)
        self._checker = CitationChecker(chosen) if check_written else None
        self.text = ""
        self.stopped = False
        self._block_text = ""
        self._block_citations: list[Citation] = []
        self._input_tokens = 0
        self._output_tokens = 0
        self._stop_reason = "end_turn"

    def feed(self, event: Any) -> list[GenerationEvent]:
        kind = event.type
        if kind == "message_start":
            self._input_tokens = event.message.usage.input_tokens or 0
            self._output_tokens = event.message.usage.output_tokens or 0
        elif kind == "content_block_start":
            self._block_text, self._block_citations = "", []
            block = event.content_block
            if block.type == "text" and block.text:
                return self._written(block.text)
        elif kind == "content_block_delta":
            return self._delta(event.delta)
        elif kind == "content_block_stop":
            held = self._checker.flush() if self._checker else []
            return [*(self._text_delta(d.text, d.citations) for d in held), *self._markers()]
        elif kind == "message_delta":
            self._stop_reason = event.delta.stop_reason or self._stop_reason
            self._output_tokens = event.usage.output_tokens or self._output_tokens
            self._input_tokens = event.usage.input_tokens or self._input_tokens
        elif kind == "message_stop":
            self.stopped = True
            usage = Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens)
            return [*self._check_line(), Completed(usage=usage, stop_reason=self._stop_reason)]
        return []

    def _written(self, text: str) -> list[GenerationEvent]:
        """Text the model wrote, its own [n] markers checked."""
        if self._checker is None:
            return [self._text_delta(text)]
        return [self._text_delta(d.text, d.citations) for d in self._checker.feed(text)]

    def _check_line(self) -> list[GenerationEvent]:
        """The line saying why a marker the model wrote failed its check (when one did)."""
        if self._checker is None or not self._checker.failed:
            return []
        return [self._text_delta(f"\n\n*{summary(self._checker.checked)}*")]

    def _delta(self, delta: Any) -> list[GenerationEvent]:
        if delta.type == "text_delta" and delta.text:
            return self._written(delta.text)
        if delta.type == "citations_delta" and delta.citation.type == "search_result_location":
            self._block_citations.append(self._citation(delta.citation))
        return []

    def _text_delta(self, text: str, citations: tuple[Citation, ...] = ()) -> TextDelta:
        self.text += text
        self._block_text += text
        return TextDelta(text, citations)

    def _citation(self, location: Any) -> Citation:
        index = location.search_result_index
        cited = location.cited_text or ""
        if not 0 <= index < len(self._chosen):
            return Citation(number=index + 1, chunk_id="", cited_text=cited, valid=False)
        numbered = self._chosen[index]
        valid = bool(_normalise(cited)) and _normalise(cited) in _normalise(numbered.passage.text)
        return Citation(numbered.number, numbered.passage.chunk_id, cited, valid)

    def _markers(self) -> list[GenerationEvent]:
        if not self._block_citations:
            return []
        citations = tuple(dict.fromkeys(self._block_citations))
        written = {int(n) for n in re.findall(r"\[(\d+)\]", self._block_text)}
        numbers = dict.fromkeys(c.number for c in citations if c.number not in written)
        markers = "".join(f"[{n}]" for n in numbers)
        if markers and not self._block_text[-1:].isspace():
            markers = " " + markers
        self._block_citations = []
        return [self._text_delta(markers, citations)]


def _normalise(text: str) -> str:
    return " ".join(text.split())


class CompatibleTranslator:
    """Plain-text answers with [n] markers, each verified as it streams (see `citing`)."""

    def __init__(self, chosen: Sequence[NumberedPassage]) -> None:
        self._events = Translator(chosen, check_written=False)  # checked here, with its summary
        self._checker = CitationChecker(chosen)
        self.text = ""  # what the reader was given so far

    @property
    def stopped(self) -> bool:
        return self._events.stopped

    @property
    def checker(self) -> CitationChecker:
        return self._checker

    def feed(self, event: Any) -> list[GenerationEvent]:
        out: list[GenerationEvent] = []
        for item in self._events.feed(event):
            if isinstance(item, TextDelta):
                out.extend(self._checker.feed(item.text))
            else:
                out.extend(self._checker.finish())
                out.append(item)
        self.text += "".join(item.text for item in out if isinstance(item, TextDelta))
        return out
