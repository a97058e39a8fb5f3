"""The bounds the client keeps on one answer (generation/bounds.py): a server that ignores
max_tokens is cut off at its characters' worth, one that never stops streaming at answer_timeout;
what arrived is kept and the connection is closed. Against the fake server, then exactly."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from atlas_tui import errors
from atlas_tui.generation import Completed, GenerationEvent, TextDelta
from atlas_tui.generation.bounds import CHARS_PER_TOKEN, AnswerCutOff, BoundedStream
from atlas_tui.types import Citation, Passage
from tests.fake_anthropic import Block, FakeAnthropic, Reply


def read(stream) -> tuple[str, BaseException | None]:
    """The text an answer gave before it ended, and how it ended (None: complete)."""
    text = ""
    try:
        for event in stream:
            if isinstance(event, TextDelta):
                text += event.text
    except errors.GenerationError as error:
        return text, error
    return text, None


def test_an_answer_that_never_stops_streaming_is_cut_at_answer_timeout(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply(blocks=(Block(["It starts "]),), fault="trickle"))
    started = time.monotonic()
    text, error = read(claude(answer_timeout=1.0).stream("q", passages))
    took = time.monotonic() - started
    assert isinstance(error, AnswerCutOff)
    assert (
        error.message
        == "The answer was cut off after 1 s (answer_timeout): it was still streaming."
    )
    assert "answer_timeout" in error.hint
    assert 1.0 <= took < 5
    assert text.startswith("It starts more more ")  # what arrived is kept
    assert fake_anthropic.client_gone.wait(10), "the server was left streaming"


@pytest.mark.parametrize("chunks", [("x" * 50, "y" * 50), ("z" * 1_000_000,)], ids=["many", "huge"])
def test_an_answer_longer_than_max_answer_tokens_allows_is_cut_there(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage], chunks: tuple[str, ...]
) -> None:
    fake_anthropic.script(Reply.text(*chunks))
    text, error = read(claude(max_answer_tokens=4).stream("q", passages))
    assert len(text) == 4 * CHARS_PER_TOKEN == 64
    assert text == "".join(chunks)[:64]
    assert isinstance(error, AnswerCutOff)
    assert error.message == (
        "The answer was cut off at 64 characters: the server sent more than max_answer_tokens "
        "asks for."
    )


def test_an_answer_within_its_bounds_is_untouched(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply.text("a" * 60, "b" * 4))
    text, error = read(claude(max_answer_tokens=4, answer_timeout=30).stream("q", passages))
    assert (text, error) == ("a" * 60 + "b" * 4, None)


def test_a_sessions_own_answer_length_sets_the_bound_instead_of_max_answer_tokens(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    # A session asking for more than the config's max_answer_tokens gets all of it ...
    fake_anthropic.script(Reply.text("a" * 100))
    answerer = claude(max_answer_tokens=4, answer_timeout=30)
    assert read(answerer.stream("q", passages, max_tokens=8)) == ("a" * 100, None)
    # ... and one asking for less is cut at its own length, which the error names.
    fake_anthropic.script(Reply.text("b" * 100))
    text, error = read(answerer.stream("q", passages, max_tokens=2))
    assert text == "b" * 32
    assert isinstance(error, AnswerCutOff)
    assert error.message == (
        "The answer was cut off at 32 characters: the server sent more than this session's "
        "answer length asks for."
    )
    assert error.hint == "Raise the session's answer length if answers are meant to be this long."


# --- exactly, over a scripted stream --------------------------------------------------------------


class Scripted:
    """An answer stream of given events; `hold` keeps it open after them until cancelled."""

    def __init__(self, *events: GenerationEvent, hold: bool = False) -> None:
        self.events = events
        self.hold = hold
        self.cancelled = threading.Event()
        self.closed = False

    def __iter__(self) -> Iterator[GenerationEvent]:
        yield from self.events
        if self.hold:
            self.cancelled.wait(30)
            raise errors.CancelledError_("Answer cancelled.")

    def cancel(self) -> None:
        self.cancelled.set()

    def close(self) -> None:
        self.closed = True


def test_the_text_is_cut_at_exactly_max_chars_and_the_stream_cancelled() -> None:
    inner = Scripted(TextDelta("abc"), TextDelta("defg"), TextDelta("h"), Completed())
    stream = BoundedStream(inner, max_chars=6, seconds=30)
    got: list[GenerationEvent] = []
    with pytest.raises(AnswerCutOff, match="at 6 characters"):
        got.extend(stream)
    assert got == [TextDelta("abc"), TextDelta("def")]
    assert inner.cancelled.is_set()


def test_a_delta_that_reaches_max_chars_exactly_passes() -> None:
    events = (TextDelta("abc"), TextDelta("def"), Completed())
    inner = Scripted(*events)
    assert list(BoundedStream(inner, max_chars=6, seconds=30)) == list(events)
    assert not inner.cancelled.is_set()


def test_small_pieces_add_up_to_the_bound_and_a_cut_piece_keeps_its_citations() -> None:
    cite = Citation(2, "c2", "quoted", True)
    inner = Scripted(TextDelta("ab"), TextDelta("cd"), TextDelta("e"), TextDelta("fg", (cite,)))
    got: list[GenerationEvent] = []
    with pytest.raises(AnswerCutOff) as raised:
        got.extend(BoundedStream(inner, max_chars=6, seconds=30))
    assert got == [TextDelta("ab"), TextDelta("cd"), TextDelta("e"), TextDelta("f", (cite,))]
    assert raised.value.hint == (
        "Raise max_answer_tokens in the config file if answers are meant to be this long."
    )


def test_a_cut_on_a_delta_boundary_yields_no_empty_piece() -> None:
    inner = Scripted(TextDelta("abcdef"), TextDelta("g"))
    got: list[GenerationEvent] = []
    with pytest.raises(AnswerCutOff):
        got.extend(BoundedStream(inner, max_chars=6, seconds=30))
    assert got == [TextDelta("abcdef")]


def test_the_clock_stops_with_the_answer_and_a_users_cancel_stays_a_cancel() -> None:
    inner = Scripted(TextDelta("done"), Completed())
    stream = BoundedStream(inner, max_chars=100, seconds=0.2)
    assert len(list(stream)) == 2
    time.sleep(0.4)
    assert not inner.cancelled.is_set()  # a finished answer is never cancelled late

    held = Scripted(TextDelta("partial"), hold=True)
    stream = BoundedStream(held, max_chars=100, seconds=30)
    threading.Timer(0.2, stream.cancel).start()
    with pytest.raises(errors.CancelledError_) as raised:
        list(stream)
    assert not isinstance(raised.value, AnswerCutOff)


def test_time_up_cancels_the_stream_and_says_so() -> None:
    held = Scripted(TextDelta("partial"), hold=True)
    started = time.monotonic()
    with pytest.raises(AnswerCutOff, match=r"after 0.2 s \(answer_timeout\)") as raised:
        list(BoundedStream(held, max_chars=100, seconds=0.2))
    assert 0.2 <= time.monotonic() - started < 5
    assert held.cancelled.is_set()
    assert raised.value.hint == "A slow model may need a larger answer_timeout in the config file."


def test_a_stream_never_read_does_not_keep_the_process_alive() -> None:
    code = (
        "from atlas_tui.generation.bounds import BoundedStream\n"
        "stream = BoundedStream(iter(()), max_chars=1, seconds=60)  # never read, never closed\n"
    )
    BoundedStream(Scripted(), max_chars=1, seconds=60).close()  # (here too: mutmut maps tests)
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)
    assert time.monotonic() - started < 20  # not the 60 s of its clock


def test_closing_closes_the_inner_stream() -> None:
    inner = Scripted()
    with BoundedStream(inner, max_chars=1, seconds=30) as stream:
        assert stream.join(0) is True  # (no reader thread of its own)
    assert inner.closed


def test_join_waits_for_the_inner_streams_reader() -> None:
    class Reading(Scripted):
        def join(self, timeout: float | None = None) -> bool:
            self.waited = timeout
            return False  # still reading

    inner = Reading()
    assert BoundedStream(inner, max_chars=1, seconds=30).join(1.5) is False
    assert inner.waited == 1.5
