"""A second fake server: the Anthropic Messages API as Ollama's compatibility layer speaks it.

It is `FakeAnthropic` (the same genuine SSE wire format, scripting and faults) with Ollama's
differences: a request holding a `search_result` block is refused with a 400 naming the unknown
block type (Ollama converts each content block to its own message format and knows no such type;
the wording here is ours), no `citations_delta` is ever sent (scripting one is a test bug), any
`Authorization: Bearer` key is accepted and ignored, and `GET /v1/models` answers in the OpenAI
list shape Ollama serves there (`{"object": "list", "data": [{"id": ..., "object": "model"}]}`)
when `models` is set.

Use the `fake_ollama` fixture (import it into a conftest) or `with FakeOllama() as server:`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fake_anthropic import FakeAnthropic, Reply

UNKNOWN_BLOCK_MESSAGE = "unknown content block type: search_result"


class FakeOllama(FakeAnthropic):
    def reject(self, body: dict[str, Any]) -> str | None:
        for message in body.get("messages", []):
            content = message.get("content")
            if isinstance(content, list) and any(
                isinstance(b, dict) and b.get("type") == "search_result" for b in content
            ):
                return UNKNOWN_BLOCK_MESSAGE
        return None

    def script(self, *replies: Reply) -> None:
        if any(block.citations for reply in replies for block in reply.blocks):
            raise ValueError("Ollama sends no citations_delta: script plain text.")
        super().script(*replies)

    def get(self, path: str) -> dict[str, Any] | None:
        if path != "/v1/models" or self.models is None:
            return None
        row = {"object": "model", "created": 0, "owned_by": "library"}
        return {"object": "list", "data": [{"id": m, **row} for m in self.models]}


@pytest.fixture
def fake_ollama() -> Iterator[FakeOllama]:
    with FakeOllama() as server:
        yield server
