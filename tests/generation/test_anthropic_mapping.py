"""Claude's answer, exactly: the error a user reads for each failure, citations out of range or
empty, usage and stop reasons, text that arrives with a block's start (real SDK, fake server)."""

from __future__ import annotations

from dataclasses import replace

import anthropic
import pytest

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.generation.anthropic import ClaudeAnswerer
from atlas_tui.types import Citation, Passage, Usage
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply, closed_port_url
from tests.generation.helpers import collect

NO_HINT = ""  # nothing to do but ask again: how to ask is the front end's to say
MODEL_HINT = "Check the model name (ATLAS_DEFAULT_MODEL) and ANTHROPIC_BASE_URL."


@pytest.mark.parametrize(
    ("reply", "error_class", "message", "hint"),
    [
        (
            Reply(status=401),
            errors.AuthenticationError,
            "The API rejected the key: Scripted error.",
            None,
        ),
        (
            Reply(status=400, error_type="authentication_error"),
            errors.AuthenticationError,
            "The API rejected the key: Scripted error.",
            None,
        ),
        (
            Reply(status=403),
            errors.AuthenticationError,
            "The key may not use this model or API: Scripted error.",
            None,
        ),
        (
            Reply(status=400, error_type="permission_error"),
            errors.AuthenticationError,
            "The key may not use this model or API: Scripted error.",
            None,
        ),
        (
            Reply(status=429),
            errors.RateLimitError,
            "Rate limited by the API: Scripted error.",
            None,
        ),
        (
            Reply(status=400, error_type="rate_limit_error"),
            errors.RateLimitError,
            "Rate limited by the API: Scripted error.",
            None,
        ),
        (
            Reply(status=529),
            errors.OverloadedError,
            "The API is overloaded: Scripted error.",
            None,
        ),
        (
            Reply(status=400, error_type="overloaded_error"),
            errors.OverloadedError,
            "The API is overloaded: Scripted error.",
            None,
        ),
        (
            Reply(status=500),
            errors.APIError,
            "The API failed (500, api_error): Scripted error.",
            NO_HINT,
        ),
        (
            Reply(status=400),
            errors.APIError,
            "The API refused the request (400, invalid_request_error): Scripted error.",
            MODEL_HINT,
        ),
        (
            Reply(status=499, error_type=""),
            errors.APIError,
            "The API refused the request (499, error): Scripted error.",
            MODEL_HINT,
        ),
        (
            Reply(status=401, error_type="invalid_request_error"),
            errors.AuthenticationError,
            "The API rejected the key: Scripted error.",
            None,
        ),
        (
            Reply(status=403, error_type="invalid_request_error"),
            errors.AuthenticationError,
            "The key may not use this model or API: Scripted error.",
            None,
        ),
        (
            Reply(status=429, error_type="invalid_request_error"),
            errors.RateLimitError,
            "Rate limited by the API: Scripted error.",
            None,
        ),
        (
            Reply(status=529, error_type="invalid_request_error"),
            errors.OverloadedError,
            "The API is overloaded: Scripted error.",
            None,
        ),
        (
            Reply(status=599, error_type=""),
            errors.APIError,
            "The API failed (599, error): Scripted error.",
            NO_HINT,
        ),
    ],
    ids=[
        "401", "400-auth", "403", "400-permission", "429", "400-rate", "529", "400-overloaded",
        "500", "400", "499-untyped", "401-by-status", "403-by-status", "429-by-status",
        "529-by-status", "599-untyped",
    ],
)  # fmt: skip
def test_each_http_error_reads_exactly(
    claude, fake_anthropic: FakeAnthropic, passages, reply, error_class, message, hint
) -> None:
    fake_anthropic.script(reply)

    with pytest.raises(error_class) as caught:
        collect(claude().stream("q", passages))

    assert type(caught.value) is error_class
    assert caught.value.message == message
    if hint is not None:
        assert caught.value.hint == hint
    assert isinstance(caught.value.__cause__, anthropic.APIStatusError)  # kept for a log


@pytest.mark.parametrize(
    ("error_type", "error_class", "message", "hint"),
    [
        (
            "rate_limit_error",
            errors.RateLimitError,
            "Rate limited by the API: Scripted error.",
            errors.RateLimitError.hint,
        ),
        (
            "overloaded_error",
            errors.OverloadedError,
            "The API is overloaded: Scripted error.",
            errors.OverloadedError.hint,
        ),
        (
            "api_error",
            errors.APIError,
            "The API reported an error mid-answer (api_error): Scripted error.",
            NO_HINT,
        ),
        (
            "",
            errors.APIError,
            "The API reported an error mid-answer (error): Scripted error.",
            NO_HINT,
        ),
    ],
)
def test_an_error_event_mid_answer_reads_exactly(
    claude, fake_anthropic: FakeAnthropic, passages, error_type, error_class, message, hint
) -> None:
    fake_anthropic.script(Reply.text("Half", fault="error_event", error_type=error_type))

    with pytest.raises(error_class) as caught:
        collect(claude(max_retries=2).stream("q", passages))

    assert caught.value.message == message
    assert caught.value.hint == hint
    assert caught.value.partial_text == "Half"


def test_silence_and_drops_read_exactly(claude, fake_anthropic: FakeAnthropic, passages) -> None:
    base = fake_anthropic.base_url
    fake_anthropic.script(Reply(fault="no_response"))
    with pytest.raises(errors.APITimeoutError) as silent:
        collect(claude(request_timeout=0.4).stream("q", passages))
    assert silent.value.message == f"{base} did not answer within 0.4 s (a timeout is not retried)."

    fake_anthropic.script(Reply.text("So far", fault="stall"))
    with pytest.raises(errors.APITimeoutError) as stalled:
        collect(claude(request_timeout=0.4).stream("q", passages))
    assert stalled.value.message == f"{base} sent nothing for 0.4 s in the middle of the answer."

    fake_anthropic.script(Reply.text("So far", fault="drop"))
    with pytest.raises(errors.StreamInterruptedError) as dropped:
        collect(claude().stream("q", passages))
    assert dropped.value.message == "The connection dropped mid-answer."
    assert dropped.value.hint == "" and dropped.value.retryable
    assert dropped.value.partial_text == "So far"
    assert dropped.value.__cause__ is not None  # the transport's words, for a log

    fake_anthropic.script(Reply(fault="drop_at_once"))
    with pytest.raises(errors.APIConnectionError) as hung_up:
        collect(claude().stream("q", passages))
    assert hung_up.value.message == f"{base} closed the connection before answering."

    fake_anthropic.script(Reply.text("So far", fault="no_message_stop"))
    with pytest.raises(errors.StreamInterruptedError) as unfinished:
        collect(claude().stream("q", passages))
    assert unfinished.value.message == (
        "The answer stopped before it was complete (the stream ended without message_stop)."
    )


def test_a_refused_connection_names_the_endpoint_and_the_cause(claude, passages) -> None:
    url = closed_port_url()
    with pytest.raises(errors.APIConnectionError) as caught:
        collect(claude(base_url=url).stream("q", passages))

    message = caught.value.message
    assert message.startswith(f"Could not connect to {url}: ")
    cause = message.removeprefix(f"Could not connect to {url}: ")
    assert cause and cause != "None" and "Connection error." not in cause


def test_without_a_base_url_the_endpoint_is_called_the_anthropic_api(
    claude, passages, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_BASE_URL", closed_port_url())  # where the SDK goes by default
    with pytest.raises(errors.APIConnectionError) as caught:
        collect(claude(base_url="").stream("q", passages))

    assert caught.value.message.startswith("Could not connect to the Anthropic API: ")


# --- citations, usage, stop reasons ----------------------------------------------------------


def test_a_citation_of_a_result_that_was_not_sent_is_invalid(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply(blocks=[Block(["Claim"], [Cite(3, "made up", "x", "y")])]))

    text, deltas, _done = collect(claude().stream("q", passages))

    assert text == "Claim [4]"
    assert deltas[-1].citations == (Citation(4, "", "made up", False),)


def test_an_empty_cited_text_is_not_valid(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply(blocks=[Block(["Claim"], [Cite(0, "")])]))

    _text, deltas, _done = collect(claude().stream("q", passages))

    assert deltas[-1].citations == (Citation(1, passages[0].chunk_id, "", False),)


def test_the_same_citation_twice_in_a_block_is_one_marker(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    cite = Cite(1, passages[1].text)
    fake_anthropic.script(Reply(blocks=[Block(["Quit with ctrl+q "], [cite, cite])]))

    text, deltas, _done = collect(claude().stream("q", passages))

    assert text == "Quit with ctrl+q [2]"  # after a space: no second space
    assert [c.number for c in deltas[-1].citations] == [2]


def test_a_marker_written_in_an_earlier_chunk_of_the_block_is_not_doubled(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply(blocks=[Block(["Use pipx [1]", " today", ""], [Cite(0, "pipx")])]))

    text, _deltas, _done = collect(claude().stream("q", passages))

    assert text == "Use pipx [1] today"


def test_a_marker_claude_writes_itself_is_checked_like_a_local_models(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    # A passage's injected text made the model print citations of its own, in its text.
    fake_anthropic.script(
        Reply(blocks=[Block(['The vault password is "hunter2" [', "1]. See also [99]."])])
    )

    text, deltas, _done = collect(claude().stream("q", passages))

    answer, _, line = text.partition("\n\n")
    assert answer == 'The vault password is "hunter2" [1?]. See also [99?].'
    assert line == (
        "*Citations checked by atlas-tui: 0 of 2 citations verified; [1?]: the quote is not in "
        "document 1; [99?]: no such document.*"
    )
    checked = [c for d in deltas for c in d.citations]
    assert [(c.number, c.valid) for c in checked] == [(1, False), (99, False)]


def test_a_marker_claude_writes_that_checks_out_stays_as_written(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    quote = "Press ctrl+q to quit"
    fake_anthropic.script(Reply(blocks=[Block([f'"{quote}" [2], and', " more [2"])]))

    text, deltas, _done = collect(claude().stream("q", passages))

    assert text == f'"{quote}" [2], and more [2'  # a "[2" never closed is text; no check line
    assert [(c.number, c.cited_text, c.valid) for d in deltas for c in d.citations] == [
        (2, quote, True)
    ]


def test_text_sent_with_a_blocks_start_is_part_of_the_answer(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(
        Reply(blocks=[Block([" and more"], [Cite(0, passages[0].text)], start_text="Begun")])
    )

    text, deltas, _done = collect(claude().stream("q", passages))

    assert [d.text for d in deltas] == ["Begun", " and more", " [1]"]
    assert text == "Begun and more [1]"


def test_usage_and_stop_reason_come_from_the_stream(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(
        Reply.text("Cut", stop_reason="max_tokens", input_tokens=0, output_tokens=0)
    )

    _text, _deltas, done = collect(claude().stream("q", passages))

    assert done == [Completed(Usage(input_tokens=0, output_tokens=1), "max_tokens")]


def test_without_a_stop_reason_the_answer_ended_its_turn(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply.text("Done", stop_reason=None))  # type: ignore[arg-type]

    _text, _deltas, done = collect(claude().stream("q", passages))

    assert [d.stop_reason for d in done] == ["end_turn"]


def test_the_label_names_the_model(claude) -> None:
    assert claude(model="claude-test-9").label == "Claude claude-test-9"


def test_a_stream_is_read_once(claude, fake_anthropic: FakeAnthropic, passages) -> None:
    fake_anthropic.script(Reply.text("Once."))
    stream = claude().stream("q", passages)
    assert collect(stream)[0] == "Once."

    with pytest.raises(RuntimeError, match=r"^An answer stream can be iterated only once\.$"):
        collect(stream)


def test_a_cancelled_answer_says_so(claude, fake_anthropic: FakeAnthropic, passages) -> None:
    fake_anthropic.script(Reply.text("One ", "two"))
    stream = claude().stream("q", passages)

    with pytest.raises(errors.CancelledError_) as caught:
        for event in stream:
            assert isinstance(event, TextDelta)
            stream.cancel()

    assert caught.value.message == "Answer cancelled."
    assert caught.value.partial_text == "One "


def test_session_instructions_follow_the_system_prompt(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply.text("Arr."), Reply.text("Plain."))
    answerer = claude()

    collect(answerer.stream("q", passages, system_prompt="Answer like a pirate.", model="m-2"))
    collect(answerer.stream("q", passages, system_prompt="   "))

    first, second = (r.body for r in fake_anthropic.requests)
    assert first["system"] == (
        answerer.system_prompt
        + "\n\nThe user's instructions for this research session:\nAnswer like a pirate."
    )
    assert first["model"] == "m-2"
    assert second["system"] == answerer.system_prompt
    assert second["model"] == answerer.settings.model


@pytest.mark.parametrize(("request_timeout", "connect"), [(3, 3), (30, 10)])
def test_a_client_for_the_settings(
    fake_anthropic: FakeAnthropic, request_timeout: float, connect: float
) -> None:
    settings = Settings(
        api_key="k", base_url=fake_anthropic.base_url, request_timeout=request_timeout
    )
    answerer = ClaudeAnswerer(replace(settings, max_retries=4))
    try:
        timeout = answerer.client.timeout
        assert isinstance(timeout, anthropic.Timeout)
        # connecting waits at most 10 s, and never longer than the request timeout
        assert (timeout.read, timeout.connect) == (request_timeout, connect)
        assert answerer.client.max_retries == 4
    finally:
        answerer.close()
