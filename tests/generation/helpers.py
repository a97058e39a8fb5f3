"""Helpers for the generation tests: reading an answerer's events."""

from __future__ import annotations

from collections.abc import Iterable

from atlas_tui.config import Settings
from atlas_tui.generation import Completed, GenerationEvent, TextDelta
from atlas_tui.generation.extractive import ExtractiveAnswerer
from atlas_tui.types import Passage


def collect(events: Iterable[GenerationEvent]) -> tuple[str, list[TextDelta], list[Completed]]:
    deltas: list[TextDelta] = []
    done: list[Completed] = []
    for event in events:
        (deltas if isinstance(event, TextDelta) else done).append(event)  # type: ignore[arg-type]
    return "".join(d.text for d in deltas), deltas, done


def answer(
    question: str, passages: list[Passage], encode=None, **settings
) -> tuple[str, list[TextDelta]]:
    answerer = ExtractiveAnswerer(Settings(**settings), encode)
    events = list(answerer.stream(question, passages))
    assert isinstance(events[-1], Completed)
    deltas = [e for e in events[:-1] if isinstance(e, TextDelta)]
    assert len(deltas) == len(events) - 1
    return "".join(d.text for d in deltas), deltas


def cited(deltas: list[TextDelta]) -> list[int]:
    return [c.number for d in deltas for c in d.citations[:1]]
