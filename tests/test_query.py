"""The public query client over a real index: extractive offline, and Claude via the fake server."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from atlas_tui import Delta, Done, Failed, Retrieved, Turn, create_query_client
from atlas_tui.config import Settings
from atlas_tui.errors import (
    AuthenticationError,
    CancelledError_,
    IndexMissingError,
    StreamInterruptedError,
)
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.query import AtlasQuery, coverage
from atlas_tui.types import Passage
from tests.fake_anthropic import Block, Cite, FakeAnthropic, Reply

QUESTION = "What is the trimodal methodology in Atlas?"


@pytest.fixture
def offline(research_index: str) -> AtlasQuery:
    return create_query_client(db_path=research_index)


def test_retrieve_only_returns_origin_shaped_documents(offline: AtlasQuery) -> None:
    docs = offline.retrieve_only(QUESTION, max_results=2)
    assert 1 <= len(docs) <= 2
    best = docs[0]
    assert set(best) == {"content", "metadata", "relevance_score"}
    assert best["metadata"]["source"] == "trimodal.md"
    assert {"source", "title", "heading"} <= set(best["metadata"])
    scores = [d["relevance_score"] for d in docs]
    assert scores == sorted(scores, reverse=True)


def test_retrieval_knobs(offline: AtlasQuery) -> None:
    only_cafe = offline.retrieve_only(QUESTION, source="notes/*")
    assert only_cafe and {d["metadata"]["source"] for d in only_cafe} == {"notes/it's a café.md"}
    assert offline.retrieve_only(QUESTION, min_relevance_score=1.01) == []
    keyword = offline.retrieve_only("espresso descaling", use_hybrid_search=False)
    assert keyword[0]["metadata"]["source"] == "notes/it's a café.md"


def test_offline_query_streaming_calls_back_with_growing_text(offline: AtlasQuery) -> None:
    calls: list[tuple[str, str]] = []
    answer = offline.query_streaming(QUESTION, lambda delta, full: calls.append((delta, full)))
    assert len(calls) >= 2
    full = ""
    for delta, seen in calls:
        full += delta
        assert seen == full
    assert answer == full
    assert "extractive" in answer.lower() and "[1]" in answer
    assert "bottom-up implementation" in answer
    assert offline.query(QUESTION) == answer


def test_events_come_in_order_with_timings(offline: AtlasQuery) -> None:
    events = list(offline.events(QUESTION))
    assert isinstance(events[0], Retrieved) and events[0].documents
    assert all(isinstance(e, Delta) for e in events[1:-1])
    done = events[-1]
    assert isinstance(done, Done) and done.extractive
    assert done.answer == "".join(e.text for e in events[1:-1])
    assert done.citations, "an extractive answer cites what it quotes"
    for citation in done.citations:
        document = events[0].documents[citation.number - 1]
        assert citation.chunk_id == document.chunk_id
        assert citation.cited_text and citation.cited_text in document.text
    assert done.timings.retrieval_ms > 0 and done.timings.first_token_ms is not None


def test_query_with_context(offline: AtlasQuery) -> None:
    result = offline.query_with_context(QUESTION, max_results=3)
    assert result["context"]["query"] == QUESTION
    assert result["context"]["documents"][0]["metadata"]["source"] == "trimodal.md"
    assert "[1]" in result["response"]


def test_claude_answer_with_citations(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(
        Reply(
            blocks=(
                Block(
                    ["Atlas combines ", "three modes of work."], [Cite(0, "three modes of work")]
                ),
            )
        )
    )
    events = list(claude_client.events(QUESTION))
    retrieved, done = events[0], events[-1]
    assert isinstance(retrieved, Retrieved) and isinstance(done, Done)
    assert done.answer.startswith("Atlas combines three modes of work.")
    assert "[1]" in done.answer
    assert [(c.number, c.valid) for c in done.citations] == [(1, True)]
    assert done.citations[0].chunk_id == retrieved.documents[0].chunk_id
    body = fake_anthropic.last_body
    blocks = [b for b in body["messages"][-1]["content"] if b["type"] == "search_result"]
    assert len(blocks) == len(retrieved.documents)
    assert all(b["citations"]["enabled"] for b in blocks)
    assert not done.extractive and done.usage.output_tokens == 7


def test_claude_rejected_key(claude_client: AtlasQuery, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Reply(status=401))
    failed = list(claude_client.events(QUESTION))[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, AuthenticationError)
    fake_anthropic.script(Reply(status=401))
    with pytest.raises(AuthenticationError):
        claude_client.query(QUESTION)


def test_dropped_stream_keeps_partial_text(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply.text("The first half ", "of an answer", fault="drop"))
    failed = list(claude_client.events(QUESTION))[-1]
    assert isinstance(failed, Failed) and isinstance(failed.error, StreamInterruptedError)
    assert failed.partial_text == "The first half of an answer"


def test_follow_up_sends_history(claude_client: AtlasQuery, fake_anthropic: FakeAnthropic) -> None:
    fake_anthropic.script(Reply.text("It is about lamps."))
    earlier = Turn("Tell me about lighthouses", "Keepers trim the wick [1].")
    list(claude_client.events("and how often?", history=[earlier]))
    messages = fake_anthropic.last_body["messages"]
    assert messages[0] == {"role": "user", "content": "Tell me about lighthouses"}
    assert messages[1] == {"role": "assistant", "content": "Keepers trim the wick."}  # no [1]
    assert messages[2]["role"] == "user" and len(messages) == 3
    assert messages[2]["content"][-1] == {"type": "text", "text": "and how often?"}


def test_offline_answers_are_never_sent_as_claudes_own_turns(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply.text("Monthly."))
    offline = Turn(
        "What does the café machine need?",
        "_Offline extractive answer (no API key configured): the most relevant passages, "
        "quoted._\n\n> The espresso machine needs descaling. [1]",
        answerer="offline extractive",
    )
    earlier = Turn("Tell me about lighthouses", "Keepers trim the wick [1].", answerer="Claude x")
    list(claude_client.events("and how often?", history=[earlier, offline]))

    messages = fake_anthropic.last_body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1] == {"role": "assistant", "content": "Keepers trim the wick."}
    assert "Offline extractive" not in json.dumps(messages)
    assert "descaling" not in json.dumps(messages[:2])
    note = messages[2]["content"][-2]["text"]
    assert "- What does the café machine need?" in note and "not by you" in note


def test_cancel_while_server_stalls_is_prompt(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.script(Reply.text("Partial ", fault="stall"))
    run = claude_client.events(QUESTION)
    seen: list[object] = []
    first_delta = threading.Event()

    def consume() -> None:
        for event in run:
            seen.append(event)
            if isinstance(event, Delta):
                first_delta.set()

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()
    assert fake_anthropic.stalled.wait(10) and first_delta.wait(10)
    started = time.monotonic()
    run.cancel()
    worker.join(5)
    assert not worker.is_alive(), "cancel did not stop a stalled stream"
    assert time.monotonic() - started < 5
    last = seen[-1]
    assert isinstance(last, Failed) and isinstance(last.error, CancelledError_)
    assert last.partial_text == "Partial "


def test_missing_index_is_a_clear_failure(tmp_path) -> None:
    client = create_query_client(db_path=str(tmp_path / "nowhere"))
    events = list(client.events(QUESTION))
    assert len(events) == 1 and isinstance(events[0], Failed)
    assert isinstance(events[0].error, IndexMissingError)
    assert "atlas-tui ingest" in events[0].error.describe()


def test_follow_up_retrieval_uses_context_only_when_the_question_leans_on_it(
    offline: AtlasQuery,
) -> None:
    earlier = (Turn("Tell me about the lighthouse keeper", "They trim the wick [1]."),)

    def first_source(question: str) -> str:
        retrieved = next(iter(offline.events(question, history=earlier)))
        assert isinstance(retrieved, Retrieved)
        return retrieved.documents[0].source

    assert first_source("and how often does that happen?") == "lighthouse.md"
    assert first_source("What does the espresso machine at the café need?") == (
        "notes/it's a café.md"
    )


def test_a_short_question_is_a_follow_up_only_when_that_loses_nothing_it_asks(
    offline: AtlasQuery,
) -> None:
    earlier = (Turn("What does the lighthouse keeper do every evening?", "Trims the wick [1]."),)
    searched: list[str] = []
    original = offline.retrieve

    def recording(text: str, **knobs: Any) -> list[Passage]:
        searched.append(text)
        return original(text, **knobs)

    offline.retrieve = recording  # type: ignore[method-assign]
    joined = "What does the lighthouse keeper do every evening?\n{}"

    def ids(passages: list[Passage]) -> list[str]:
        return [p.chunk_id for p in passages]

    # short, saying "it", and about something else: the lighthouse passages do not hold
    # "descaled", so it is searched alone
    changed = offline.retrieve_turn("how is it descaled?", earlier)
    assert searched == ["how is it descaled?", joined.format("how is it descaled?")]
    assert changed[0].source == "notes/it's a café.md"
    assert ids(changed) == ids(original("how is it descaled?"))
    # a real follow-up: the previous question's passages hold "dawn" as well, so they stay
    followed = offline.retrieve_turn("and at dawn?", earlier)
    assert followed[0].source == "lighthouse.md"
    assert ids(followed) == ids(original(joined.format("and at dawn?")))
    # a question that stands on its own is searched once, alone
    searched.clear()
    offline.retrieve_turn("Which acid descales an espresso machine?", earlier)
    assert searched == ["Which acid descales an espresso machine?"]


def test_coverage_weighs_the_first_passages_most() -> None:
    about = Passage("a", "Press Ctrl+S to cycle the search mode.", "k.md", "/kb", "Keys", "", 0.5)
    other = Passage("b", "The ingest command reads a folder.", "i.md", "/kb", "Ingest", "", 0.5)
    assert coverage("what does ctrl+s do", [about, other]) > coverage(
        "what does ctrl+s do", [other, about]
    )
    assert coverage("why?", [other]) == 1.0  # nothing of its own to lose
    assert coverage("what does ctrl+s do", []) == 0.0


class GatedKnowledge(KnowledgeBase):
    """The real knowledge base, whose search waits for the test's go-ahead (to cancel during it)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.searching = threading.Event()
        self.go_on = threading.Event()

    def search(self, query: str, **options: Any) -> list[Passage]:
        self.searching.set()
        assert self.go_on.wait(30)
        return super().search(query, **options)


def test_cancel_during_retrieval_asks_nothing(
    research_index: str, fake_anthropic: FakeAnthropic
) -> None:
    settings = Settings(db_path=research_index, api_key="sk-test", base_url=fake_anthropic.base_url)
    knowledge = GatedKnowledge(settings)
    run = AtlasQuery(settings, knowledge=knowledge).events(QUESTION)
    seen: list[object] = []
    worker = threading.Thread(target=lambda: seen.extend(run), daemon=True)
    worker.start()
    assert knowledge.searching.wait(30)

    run.cancel()
    knowledge.go_on.set()
    worker.join(30)

    assert not worker.is_alive()
    assert [type(e) for e in seen] == [Retrieved, Failed]
    assert isinstance(seen[-1], Failed) and seen[-1].cancelled
    assert fake_anthropic.requests == []  # the answer was never asked for


def test_cancel_before_the_stream_attaches(
    claude_client: AtlasQuery, fake_anthropic: FakeAnthropic
) -> None:
    run = claude_client.events(QUESTION)
    first = next(run)
    assert isinstance(first, Retrieved)

    run.cancel()  # between the documents and the answer: no stream exists yet
    rest = list(run)

    assert len(rest) == 1 and isinstance(rest[0], Failed) and rest[0].cancelled
    assert rest[0].partial_text == ""
    assert fake_anthropic.requests == []


def test_a_stream_attached_after_cancel_is_cancelled_at_once(research_index: str) -> None:
    from atlas_tui.generation.extractive import ExtractiveAnswerer

    run = AtlasQuery(Settings(db_path=research_index)).events(QUESTION)
    run.cancel()
    stream = ExtractiveAnswerer(Settings()).stream(QUESTION, [])
    run.attach(stream)

    with pytest.raises(CancelledError_):
        list(stream)
