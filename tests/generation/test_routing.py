"""The router's fallback: a local endpoint that cannot answer before saying anything gives way to
the offline answer (labelled), one that fails mid-answer keeps its partial text as an error, and a
cancel is a cancel, never a fallback. The real SDK against the fake Ollama server."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.generation.routing import RoutedAnswerer
from atlas_tui.types import Passage
from tests.fake_anthropic import Reply
from tests.fake_ollama import FakeOllama


def router(server: FakeOllama, **settings: Any) -> RoutedAnswerer:
    ollama = Endpoint("ollama", server.base_url, ("qwen3",), label="Ollama")
    return RoutedAnswerer(Settings(endpoints=(ollama,), **settings), None)


def test_a_silent_local_server_times_out_into_the_offline_answer(
    fake_ollama: FakeOllama, passages: list[Passage]
) -> None:
    fake_ollama.script(Reply(fault="no_response"))
    events = list(router(fake_ollama, request_timeout=0.5).stream("How to install?", passages))
    first, *rest = events
    assert isinstance(first, TextDelta)
    assert first.text.startswith("*Ollama is not answering (")
    assert "did not answer within 0.5 s" in first.text
    done = events[-1]
    assert isinstance(done, Completed)
    assert (done.answerer, done.extractive, done.model) == ("offline extractive", True, "")
    assert "".join(e.text for e in rest if isinstance(e, TextDelta)).startswith(
        "_Offline extractive answer"
    )


def test_a_local_server_failing_mid_answer_keeps_the_text_and_does_not_fall_back(
    fake_ollama: FakeOllama, passages: list[Passage]
) -> None:
    fake_ollama.script(Reply.text("Install it with ", "pipx ", fault="drop"))
    seen = ""
    with pytest.raises(errors.StreamInterruptedError) as caught:
        for event in router(fake_ollama).stream("How to install?", passages):
            if isinstance(event, TextDelta):
                seen += event.text
    assert seen and "pipx" in caught.value.partial_text
    assert "Offline" not in seen


def test_cancelling_a_local_answer_is_a_cancel_not_a_fallback(
    fake_ollama: FakeOllama, passages: list[Passage]
) -> None:
    fake_ollama.script(Reply(fault="no_response"))
    stream = router(fake_ollama, request_timeout=20).stream("How to install?", passages)

    def cancel_once_the_server_holds_the_request() -> None:
        if fake_ollama.stalled.wait(10):
            stream.cancel()

    canceller = threading.Thread(target=cancel_once_the_server_holds_the_request, daemon=True)
    canceller.start()
    try:
        with pytest.raises(errors.CancelledError_):
            list(stream)
    finally:
        fake_ollama.release()
        canceller.join(10)
