"""The offline extractive answerer: quotes, cites, says what it is, never invents."""

from __future__ import annotations

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import CancelledError_
from atlas_tui.generation import Completed, TextDelta, make_answerer
from atlas_tui.generation.extractive import NOTHING_RELEVANT, NOTHING_RETRIEVED, ExtractiveAnswerer
from atlas_tui.types import Passage


def answer(question: str, passages: list[Passage], **settings) -> tuple[str, list[TextDelta]]:
    events = list(ExtractiveAnswerer(Settings(**settings)).stream(question, passages))
    assert isinstance(events[-1], Completed)
    deltas = [e for e in events[:-1] if isinstance(e, TextDelta)]
    assert len(deltas) == len(events) - 1
    return "".join(d.text for d in deltas), deltas


def test_quotes_the_relevant_sentences_with_their_citations(passages: list[Passage]) -> None:
    text, deltas = answer("How do I quit?", passages)

    assert text.startswith(
        "_Offline extractive answer (no API key configured): the most relevant passages, quoted._"
    )
    assert "> Press ctrl+q to quit. [2]" in text
    citations = [c for d in deltas for c in d.citations]
    assert citations[0].number == 2
    assert citations[0].chunk_id == passages[1].chunk_id
    assert citations[0].cited_text == "Press ctrl+q to quit."
    assert len(deltas) >= 2  # streamed in pieces, not one block


def test_every_quote_is_verbatim_from_the_passage_it_cites(passages: list[Passage]) -> None:
    _text, deltas = answer("install python index folder markup", passages)

    citations = [c for d in deltas for c in d.citations]
    assert len(citations) >= 3
    for delta in deltas[1:]:
        (citation,) = delta.citations
        assert citation.valid
        assert citation.cited_text in passages[citation.number - 1].text
        assert delta.text == f"> {citation.cited_text} [{citation.number}]\n\n"


def test_better_matches_come_first(make_passage) -> None:
    passages = [
        make_passage("The weather was mild that year in the valley.", score=0.9),
        make_passage("To rotate the logs, run atlas rotate-logs weekly.", score=0.5),
        make_passage("Logs are kept in the state folder.", score=0.5),
    ]

    _text, deltas = answer("how to rotate logs", passages)

    assert [c.number for d in deltas for c in d.citations] == [2, 3]


def test_says_so_plainly_when_nothing_was_retrieved() -> None:
    text, deltas = answer("anything", [])

    assert NOTHING_RETRIEVED in text
    assert all(not d.citations for d in deltas)


def test_says_so_plainly_when_no_passage_is_relevant(passages: list[Passage]) -> None:
    text, deltas = answer("zebra migration patterns", passages)

    assert NOTHING_RELEVANT in text
    assert all(not d.citations for d in deltas)


def test_markup_in_passages_passes_through_unchanged(passages: list[Passage]) -> None:
    text, _deltas = answer("markup style script", passages)

    assert (
        "> Markup stays text: [bold red]not a style[/] and <script>alert(1)</script>. [3]" in text
    )


def test_with_a_key_but_forced_offline_it_does_not_claim_there_is_no_key(passages) -> None:
    text, _deltas = answer("quit", passages, api_key="sk-ant-x", provider="extractive")

    assert text.startswith("_Offline extractive answer: ")


def test_cancel_mid_stream_keeps_the_partial_text(passages: list[Passage]) -> None:
    stream = ExtractiveAnswerer(Settings()).stream("install quit markup", passages)
    seen = ""

    with pytest.raises(CancelledError_) as caught:
        for event in stream:
            assert isinstance(event, TextDelta)
            seen += event.text
            stream.cancel()

    assert caught.value.partial_text == seen
    assert seen.startswith("_Offline extractive answer")


def test_without_a_key_the_answerer_is_extractive_and_labelled() -> None:
    answerer = make_answerer(Settings())

    assert answerer.extractive is True
    assert answerer.label == "offline extractive"


def test_with_a_key_the_answerer_is_claude() -> None:
    answerer = make_answerer(Settings(api_key="sk-ant-x", model="claude-x"))

    assert answerer.extractive is False
    assert answerer.label == "Claude claude-x"


def test_hard_wrapped_prose_is_quoted_as_whole_sentences(make_passage) -> None:
    wrapped = make_passage(
        "Intro line.\n\nThe trimodal methodology in Atlas combines\n"
        "bottom-up implementation, top-down design and\nholistic integration. Another sentence "
        "follows here about nothing much.\n- a list item about the trimodal methodology works too",
        score=0.9,
    )
    text, deltas = answer("What is the trimodal methodology?", [wrapped])
    assert (
        "> The trimodal methodology in Atlas combines bottom-up implementation, top-down design "
        "and holistic integration. [1]" in text
    )
    quoted = [c.cited_text for d in deltas for c in d.citations]
    assert all(q in wrapped.text for q in quoted)  # the citation stays verbatim
    assert "> - a list item about the trimodal methodology works too [1]" in text
