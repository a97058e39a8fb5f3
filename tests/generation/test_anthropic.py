"""Claude through the real anthropic SDK, against the fake Messages API on 127.0.0.1."""

from __future__ import annotations

import threading
import time

import pytest

from atlas_tui import errors
from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.generation.anthropic import ClaudeAnswerer
from atlas_tui.generation.prompts import DEFAULT_SYSTEM_PROMPT, select_passages
from atlas_tui.types import Passage, Turn, Usage
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply, closed_port_url
from tests.generation.helpers import collect


def test_request_carries_model_prompt_search_results_question_and_history(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply.text("Fine."))
    history = [
        Turn("Too old?", "Yes, far too old [1]."),
        Turn("How do I install it?", "With pipx [1][2]."),
    ]
    answerer = claude(model="claude-test-model", max_answer_tokens=321, history_turns=1)

    collect(answerer.stream("And how do I quit?", passages, history))

    request = fake_anthropic.requests[-1]
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == "Bearer sk-ant-test"
    body = request.body
    assert body["model"] == "claude-test-model"
    assert body["max_tokens"] == 321
    assert body["stream"] is True
    assert body["system"] == DEFAULT_SYSTEM_PROMPT
    earlier, current = body["messages"][:-1], body["messages"][-1]
    # only the newest turn (history_turns=1), its markers removed: they numbered other sources
    assert earlier == [
        {"role": "user", "content": "How do I install it?"},
        {"role": "assistant", "content": "With pipx."},
    ]
    assert current["role"] == "user"
    *results, question = current["content"]
    assert question == {"type": "text", "text": "And how do I quit?"}
    assert [r["type"] for r in results] == ["search_result"] * 3
    assert all(r["citations"] == {"enabled": True} for r in results)
    assert [r["content"] for r in results] == [[{"type": "text", "text": p.text}] for p in passages]
    assert results[0]["source"] == "guide/install.md § Guide > Install"
    assert results[0]["title"] == "[1] Installing"
    assert results[1]["source"] == "guide/usage.md"


def test_deltas_arrive_in_order_with_citations_mapped_and_checked(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(
        Reply(
            blocks=[
                Block(["You install it ", "with "]),
                Block(["pipx"], [Cite(0, passages[0].text)]),
                Block([" and quit with ctrl+q"], [Cite(1, passages[1].text), Cite(2, "invented")]),
                Block(["."]),
            ],
            input_tokens=120,
            output_tokens=17,
        )
    )

    text, deltas, done = collect(claude().stream("How?", passages))

    assert [d.text for d in deltas] == [
        "You install it ",
        "with ",
        "pipx",
        " [1]",
        " and quit with ctrl+q",
        " [2][3]",
        ".",
    ]
    assert text == "You install it with pipx [1] and quit with ctrl+q [2][3]."
    first, second = deltas[3].citations, deltas[5].citations
    assert [(c.number, c.chunk_id, c.valid) for c in first] == [(1, passages[0].chunk_id, True)]
    assert [(c.number, c.chunk_id, c.valid) for c in second] == [
        (2, passages[1].chunk_id, True),
        (3, passages[2].chunk_id, False),  # "invented" is not in passage 3
    ]
    assert done == [Completed(Usage(input_tokens=120, output_tokens=17), "end_turn")]


def test_citation_text_is_checked_with_whitespace_normalised(
    claude, fake_anthropic: FakeAnthropic, make_passage
) -> None:
    passage = make_passage("Line one\n   continues here.  And more.")
    fake_anthropic.script(Reply(blocks=[Block(["Claim"], [Cite(0, "Line one continues here.")])]))

    _text, deltas, _done = collect(claude().stream("q", [passage]))

    assert [c.valid for d in deltas for c in d.citations] == [True]


def test_markers_the_model_wrote_are_not_doubled(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(
        Reply(
            blocks=[
                Block(["Use pipx [1]."], [Cite(0, passages[0].text), Cite(1, passages[1].text)])
            ]
        )
    )

    text, deltas, _done = collect(claude().stream("q", passages))

    assert text == "Use pipx [1]. [2]"
    assert [c.number for c in deltas[-1].citations] == [1, 2]


def test_numbers_stay_those_the_user_sees_when_a_duplicate_is_dropped(
    claude, fake_anthropic: FakeAnthropic, make_passage
) -> None:
    first = make_passage("The cache is rebuilt nightly by the scheduler job.", score=0.9)
    copy = make_passage("The cache is rebuilt nightly by the scheduler job.", score=0.8)
    third = make_passage("Logs rotate weekly and keep four files.", score=0.7)
    fake_anthropic.script(Reply(blocks=[Block(["Weekly"], [Cite(1, third.text)])]))

    text, deltas, _done = collect(claude().stream("q", [first, copy, third]))

    sent = fake_anthropic.last_body["messages"][-1]["content"][:-1]
    assert [r["title"] for r in sent] == ["[1] File 1", "[3] File 3"]
    assert text == "Weekly [3]"
    assert [(c.number, c.chunk_id) for c in deltas[-1].citations] == [(3, third.chunk_id)]


def test_markup_in_passages_and_answers_passes_through_unchanged(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    answer = "It says [bold red]not a style[/] and <script>alert(1)</script> ``` [link](x)"
    fake_anthropic.script(Reply(blocks=[Block([answer], [Cite(2, passages[2].text)])]))

    text, deltas, _done = collect(claude().stream("What does it say?", passages))

    assert text == answer + " [3]"
    assert deltas[-1].citations[0].valid
    sent = fake_anthropic.last_body["messages"][-1]["content"][2]["content"][0]["text"]
    assert sent == passages[2].text


def test_prompt_file_replaces_the_system_prompt(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage], tmp_path
) -> None:
    prompt = tmp_path / "prompt.md"
    prompt.write_text("Answer like a pirate, from the sources only.", encoding="utf-8")
    fake_anthropic.script(Reply.text("Arr."))

    collect(claude(system_prompt_file=str(prompt)).stream("q", passages))

    assert fake_anthropic.last_body["system"] == "Answer like a pirate, from the sources only."


def test_without_a_key_the_skip_check_sends_no_credential(
    claude, fake_anthropic: FakeAnthropic, passages: list[Passage]
) -> None:
    fake_anthropic.script(Reply.text("Via the gateway."))

    text, _deltas, _done = collect(
        claude(api_key="", skip_api_key_check=True).stream("q", passages)
    )

    assert text == "Via the gateway."
    headers = fake_anthropic.requests[-1].headers
    assert "authorization" not in headers and "x-api-key" not in headers


# --- failures -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "error_class", "words"),
    [
        (Reply(status=401), errors.AuthenticationError, "rejected the key"),
        (Reply(status=429), errors.RateLimitError, "Rate limited"),
        (Reply(status=529), errors.OverloadedError, "overloaded"),
        (Reply(status=400), errors.APIError, "400"),
        (Reply(status=500), errors.APIError, "500"),
    ],
    ids=["401", "429", "529", "400", "500"],
)
def test_http_errors_become_clear_errors(
    claude, fake_anthropic: FakeAnthropic, passages, reply, error_class, words
) -> None:
    fake_anthropic.script(reply)

    with pytest.raises(error_class) as caught:
        collect(claude().stream("q", passages))

    assert words in caught.value.message
    assert "Scripted error." in caught.value.message
    assert caught.value.hint or caught.value.retryable  # what to do, or the front end's "ask again"
    assert caught.value.partial_text == ""


@pytest.mark.parametrize(
    ("reply", "error_class", "says"),
    [
        (
            Reply.text("Half ", "an answer", fault="error_event"),
            errors.OverloadedError,
            "The API is overloaded: Scripted error.",
        ),
        (
            Reply.text("Half ", "an answer", fault="error_event", error_type="api_error"),
            errors.APIError,
            "The API reported an error mid-answer (api_error): Scripted error.",
        ),
        (
            Reply.text("Half ", "an answer", fault="drop"),
            errors.StreamInterruptedError,
            "The connection dropped mid-answer.",
        ),
        (
            Reply.text("Half ", "an answer", fault="drop_unchunked"),
            errors.StreamInterruptedError,
            "without message_stop",
        ),
        (
            Reply.text("Half ", "an answer", fault="no_message_stop"),
            errors.StreamInterruptedError,
            "without message_stop",
        ),
    ],
    ids=["error-event-overloaded", "error-event-api", "drop", "drop-unchunked", "no-message-stop"],
)
def test_mid_stream_failures_keep_the_partial_answer(
    claude, fake_anthropic: FakeAnthropic, passages, reply, error_class, says
) -> None:
    fake_anthropic.script(reply)
    seen: list[str] = []

    with pytest.raises(error_class) as caught:
        for event in claude().stream("q", passages):
            assert isinstance(event, TextDelta)  # no Completed before the failure
            seen.append(event.text)

    assert seen == ["Half ", "an answer"]
    assert caught.value.partial_text == "Half an answer"
    assert type(caught.value) is error_class  # not a broader or narrower kind
    assert says in caught.value.message


def test_rate_limit_is_retried_by_the_sdk_then_answers(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply(status=429, headers={"retry-after-ms": "1"}), Reply.text("Done."))

    text, _deltas, _done = collect(claude(max_retries=1).stream("q", passages))

    assert text == "Done."
    assert len(fake_anthropic.requests) == 2


def test_overloaded_after_the_sdk_retries(claude, fake_anthropic: FakeAnthropic, passages) -> None:
    busy = Reply(status=529, headers={"retry-after-ms": "1"})
    fake_anthropic.script(busy, busy)

    with pytest.raises(errors.OverloadedError) as caught:
        collect(claude(max_retries=1).stream("q", passages))

    assert caught.value.message == "The API is overloaded (after 1 retry): Scripted error."

    assert len(fake_anthropic.requests) == 2


def test_connection_refused(claude, passages) -> None:
    with pytest.raises(errors.APIConnectionError) as caught:
        collect(claude(base_url=closed_port_url()).stream("q", passages))

    assert "127.0.0.1" in caught.value.message


def test_silence_mid_answer_times_out_keeping_the_text(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply.text("So far", fault="stall"))

    with pytest.raises(errors.APITimeoutError) as caught:
        collect(claude(request_timeout=0.3).stream("q", passages))

    assert caught.value.partial_text == "So far"


def test_no_response_at_all_times_out_once_not_once_per_retry(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply(fault="no_response"), Reply(fault="no_response"))
    started = time.monotonic()

    with pytest.raises(errors.APITimeoutError, match=r"did not answer within 0\.5 s"):
        collect(claude(request_timeout=0.5, max_retries=2).stream("q", passages))

    assert time.monotonic() - started < 1.4  # one timeout, not three plus backoff
    assert len(fake_anthropic.requests) == 1


def test_overloaded_replies_are_still_retried(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply(status=529), Reply.text("Answered on the retry."))

    text, _deltas, _done = collect(claude(max_retries=1).stream("q", passages))

    assert text == "Answered on the retry."
    assert len(fake_anthropic.requests) == 2


# --- cancelling -----------------------------------------------------------------------------------


def test_cancel_during_a_stall_is_prompt_and_hangs_up(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply.text("Partial ", "answer", fault="stall"))
    stream = claude(request_timeout=60).stream("q", passages)
    cancelled_at: list[float] = []
    both_seen = threading.Event()

    def cancel_once_stalled() -> None:
        assert fake_anthropic.stalled.wait(10) and both_seen.wait(10)
        cancelled_at.append(time.perf_counter())
        stream.cancel()

    canceller = threading.Thread(target=cancel_once_stalled)
    canceller.start()
    seen: list[str] = []
    with pytest.raises(errors.CancelledError_) as caught:
        for event in stream:
            seen.append(event.text)  # type: ignore[union-attr]
            if len(seen) == 2:
                both_seen.set()  # the reader now waits on a server that says nothing
    stopped_at = time.perf_counter()
    canceller.join(5)

    assert stopped_at - cancelled_at[0] < 1.5
    assert seen == ["Partial ", "answer"]
    assert caught.value.partial_text == "Partial answer"
    assert fake_anthropic.client_gone.wait(5), "the HTTP connection was not closed"


def test_cancel_mid_stream_between_deltas(claude, fake_anthropic: FakeAnthropic, passages) -> None:
    fake_anthropic.script(Reply.text("One ", "two ", "three"))
    stream = claude().stream("q", passages)
    seen: list[str] = []

    with pytest.raises(errors.CancelledError_) as caught:
        for event in stream:
            seen.append(event.text)  # type: ignore[union-attr]
            stream.cancel()

    assert seen == ["One "]
    assert caught.value.partial_text == "One "


def test_cancel_before_iterating_sends_nothing(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    stream = claude().stream("q", passages)
    stream.cancel()

    with pytest.raises(errors.CancelledError_):
        collect(stream)

    assert fake_anthropic.requests == []


def test_leaving_early_closes_the_connection(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply.text("First", fault="stall"))

    with claude().stream("q", passages) as stream:
        for _event in stream:
            break

    assert fake_anthropic.client_gone.wait(5), "the HTTP connection was not closed"


def test_cancel_while_the_sdk_waits_to_retry_stops_the_retry(
    claude, fake_anthropic: FakeAnthropic, passages
) -> None:
    fake_anthropic.script(Reply(status=429, headers={"retry-after-ms": "400"}), Reply.text("No"))
    stream = claude(max_retries=1).stream("q", passages)

    def cancel_after_first_attempt() -> None:
        assert fake_anthropic.wait_for_requests(1)
        stream.cancel()

    canceller = threading.Thread(target=cancel_after_first_attempt)
    canceller.start()
    with pytest.raises(errors.CancelledError_):
        collect(stream)
    canceller.join(5)

    assert stream.join(5), "the reader thread did not finish"
    assert len(fake_anthropic.requests) == 1  # the retry was never sent


def test_a_sessions_answer_length_and_temperature_reach_the_request(claude, passages) -> None:
    """max_tokens caps any model's answer; a temperature goes to an endpoint's server only
    (Anthropic's Messages API, and its SDK, take none)."""
    answerer = claude(max_answer_tokens=1024)
    chosen = select_passages(passages, 10_000)
    plain = answerer.request("q", chosen)
    assert plain["max_tokens"] == 1024 and "extra_body" not in plain
    capped = answerer.request("q", chosen, max_tokens=300, temperature=0.2)
    assert capped["max_tokens"] == 300 and "extra_body" not in capped  # Claude: no temperature
    local = ClaudeAnswerer(Settings(), Endpoint("ollama", "http://127.0.0.1:9", ("qwen3",)))
    sent = local.request("q", chosen, temperature=0.2)
    assert sent["extra_body"] == {"temperature": 0.2} and sent["max_tokens"] == 1024
