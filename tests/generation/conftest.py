"""Fixtures for the answerers: passages, and Claude pointed at the fake Messages API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from atlas_tui.config import Settings
from atlas_tui.generation.anthropic import ClaudeAnswerer
from atlas_tui.types import Passage
from tests.fake_anthropic import FakeAnthropic, fake_anthropic

__all__ = ["fake_anthropic"]

PassageFactory = Callable[..., Passage]


@pytest.fixture(scope="session")
def encode() -> Callable[[list[str]], Any]:
    """The real embedding model, as the query client injects it (texts -> unit vectors)."""
    from atlas_tui.knowledge.embedding import get_embedder

    embedder = get_embedder()
    return lambda texts: embedder.encode_documents(texts)


@pytest.fixture
def make_passage() -> PassageFactory:
    counter = iter(range(1, 1000))

    def make(text: str, **fields: Any) -> Passage:
        n = next(counter)
        values: dict[str, Any] = {
            "chunk_id": f"chunk-{n}",
            "text": text,
            "source": f"docs/file{n}.md",
            "root": "/kb",
            "title": f"File {n}",
            "heading": "",
            "score": 0.5,
            "start": 0,
            "end": len(text),
        }
        values.update(fields)
        return Passage(**values)

    return make


@pytest.fixture
def passages(make_passage: PassageFactory) -> list[Passage]:
    return [
        make_passage(
            "Install atlas-tui with pipx install atlas-tui. It needs Python 3.11 or newer.",
            source="guide/install.md",
            title="Installing",
            heading="Guide > Install",
            score=0.9,
        ),
        make_passage(
            "Press ctrl+q to quit. The index lives in the user data folder.",
            source="guide/usage.md",
            title="Usage",
            score=0.7,
        ),
        make_passage(
            "Markup stays text: [bold red]not a style[/] and <script>alert(1)</script>.",
            source="notes/markup.md",
            title="Markup",
            score=0.4,
        ),
    ]


@pytest.fixture
def claude(fake_anthropic: FakeAnthropic) -> Iterator[Callable[..., ClaudeAnswerer]]:
    """A factory of ClaudeAnswerers talking to the fake server (no retries unless asked)."""
    made: list[ClaudeAnswerer] = []

    def make(**overrides: Any) -> ClaudeAnswerer:
        values: dict[str, Any] = {
            "api_key": "sk-ant-test",
            "base_url": fake_anthropic.base_url,
            "max_retries": 0,
            "request_timeout": 10.0,
        }
        values.update(overrides)
        answerer = ClaudeAnswerer(Settings(**values))
        made.append(answerer)
        return answerer

    yield make
    for answerer in made:
        answerer.close()
