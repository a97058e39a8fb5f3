"""The offline extractive answerer: quotes, cites, says what it is, never invents."""

from __future__ import annotations

import pytest

from atlas_tui.config import Settings
from atlas_tui.endpoints import Endpoint
from atlas_tui.errors import CancelledError_
from atlas_tui.generation import TextDelta, make_answerer
from atlas_tui.generation.extractive import NOTHING_ANSWERS, NOTHING_RETRIEVED, ExtractiveAnswerer
from atlas_tui.types import Passage
from tests.fake_anthropic import Reply
from tests.fake_ollama import FakeOllama
from tests.generation.helpers import answer, cited


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
    assert len(citations) >= 2
    for delta in deltas[1:]:
        (citation,) = delta.citations
        assert citation.valid
        assert citation.cited_text in passages[citation.number - 1].text
        assert delta.text == f"> {citation.cited_text} [{citation.number}]\n\n"


def test_passages_without_the_questions_terms_are_not_quoted(make_passage) -> None:
    passages = [
        make_passage("The weather was mild that year in the valley.", score=0.9),
        make_passage("To rotate the logs, run atlas rotate-logs weekly.", score=0.5),
        make_passage("Logs are kept in the state folder.", score=0.5),
    ]

    _text, deltas = answer("how to rotate logs", passages)

    assert [c.number for d in deltas for c in d.citations] == [2]  # not the weather, not padding


def test_says_so_plainly_when_nothing_was_retrieved() -> None:
    text, deltas = answer("anything", [])

    assert NOTHING_RETRIEVED in text
    assert all(not d.citations for d in deltas)


def test_says_so_plainly_when_no_passage_is_relevant(passages: list[Passage]) -> None:
    text, deltas = answer("zebra migration patterns", passages)

    assert NOTHING_ANSWERS in text
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


EXIT = "How do I exit the application?"  # no word in common with "Press ctrl+q to quit."


def test_the_offline_answerer_made_without_a_key_finds_answers_by_meaning(
    passages: list[Passage], encode
) -> None:
    assert NOTHING_ANSWERS in answer(EXIT, passages)[0]  # by terms alone: nothing
    events = list(make_answerer(Settings(), encode).stream(EXIT, passages))
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text.startswith("_Offline extractive answer (no API key configured)")
    assert "> Press ctrl+q to quit. [2]" in text


def test_the_offline_fallback_of_an_unreachable_endpoint_finds_answers_by_meaning(
    fake_ollama: FakeOllama, passages: list[Passage], encode
) -> None:
    fake_ollama.script(Reply(fault="no_response"))
    ollama = Endpoint("ollama", fake_ollama.base_url, ("qwen3",), label="Ollama")
    answerer = make_answerer(Settings(endpoints=(ollama,), request_timeout=0.5), encode)
    events = list(answerer.stream(EXIT, passages))
    assert "> Press ctrl+q to quit. [2]" in "".join(
        e.text for e in events if isinstance(e, TextDelta)
    )


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


# --- what a reader notices: whole excerpts, fewer quotes, document order, honest misses ---------


def test_a_lead_in_is_quoted_with_the_code_block_it_introduces(make_passage, encode) -> None:
    deploy = make_passage(
        "Deployments go through the release pipeline.\n\n"
        "To deploy the widget service run the following:\n\n"
        "```\nmake deploy SERVICE=widget ENV=staging\n```\n\n"
        "The cafeteria on the third floor opens at nine.",
        score=0.8,
    )
    text, deltas = answer("How do I deploy the widget service to staging?", [deploy], encode)

    assert (
        "> To deploy the widget service run the following:\n>\n> ```\n"
        "> make deploy SERVICE=widget ENV=staging\n> ```\n>\n> [1]\n" in text
    )
    assert "cafeteria" not in text
    quoted = [c.cited_text for d in deltas for c in d.citations]
    assert all(part in deploy.text for part in quoted)


def test_a_lead_in_is_quoted_with_the_list_it_introduces(make_passage, encode) -> None:
    steps = make_passage(
        "Rotating the keys takes three steps:\n\n- revoke the old key\n- issue a new key\n"
        "- restart the gateway\n\nKeys are stored in the vault.",
    )
    text, _deltas = answer("What are the steps to rotate the keys?", [steps], encode)

    assert "> Rotating the keys takes three steps:\n> - revoke the old key\n" in text
    assert "> - restart the gateway\n" in text


def test_a_table_row_is_quoted_with_its_header(make_passage, encode) -> None:
    table = make_passage(
        "Retention periods differ by kind of data.\n\n"
        "| Data | Kept for |\n|------|----------|\n| logs | 30 days |\n| metrics | 13 months |\n"
        "| traces | 7 days |\n",
    )
    text, _deltas = answer("How long are metrics kept?", [table], encode)

    assert "> | Data | Kept for |\n> |------|----------|\n> | metrics | 13 months |\n" in text
    assert "traces" not in text


def test_quotes_follow_the_documents_order_not_their_scores(make_passage, encode) -> None:
    first = make_passage(
        "The lighthouse lamp is lit at dusk by the keeper. The weather was mild that year.",
        score=0.9,
    )
    second = make_passage(
        "The keeper of the lighthouse lights the lamp at dusk and trims its wick every evening.",
        score=0.6,
    )
    text, deltas = answer(
        "When does the keeper light the lighthouse lamp?", [first, second], encode
    )

    assert cited(deltas) == [1, 2]
    assert text.index("lit at dusk") < text.index("trims its wick")


def test_neighbouring_sentences_become_one_quote(make_passage, encode) -> None:
    passage = make_passage(
        "Snapshots of the index are taken nightly at two. Snapshots of the index are kept for a "
        "week before deletion. Unrelated: the parking lot closes at ten.",
    )
    text, deltas = answer(
        "When are index snapshots taken and how long are they kept?", [passage], encode
    )

    assert (
        "> Snapshots of the index are taken nightly at two. Snapshots of the index are kept for "
        "a week before deletion. [1]\n" in text
    )
    assert len([d for d in deltas if d.citations]) == 1
    assert "parking" not in text


def test_no_padding_with_sentences_unrelated_to_the_question(make_passage, encode) -> None:
    passages = [
        make_passage(
            "Press ctrl+q to quit the application at any time. The index lives in the data "
            "folder. Themes can be changed in the settings. The help screen lists every key.",
            score=0.9,
        ),
        make_passage("Exports are written as Markdown or JSON files.", score=0.8),
    ]
    text, deltas = answer("How do I quit the application?", passages, encode)

    assert "> Press ctrl+q to quit the application at any time. [1]" in text
    assert cited(deltas) == [1]
    assert "Exports" not in text and "Themes" not in text


def test_when_nothing_answers_it_says_so_and_points_at_the_documents(passages, encode) -> None:
    text, deltas = answer("What is the capital city of Mongolia?", passages, encode)

    assert NOTHING_ANSWERS in text
    assert "documents pane" in NOTHING_ANSWERS
    assert all(not d.citations for d in deltas)


def test_meaning_finds_the_answer_in_other_words(make_passage, encode) -> None:
    passages = [
        make_passage("By passing frozen=True to the decorator you can emulate immutability."),
        make_passage("Instances hold their field values in slots when slots=True is passed."),
    ]
    text, _deltas = answer("How do I make instances immutable?", passages, encode)

    assert "frozen=True" in text


def test_a_quoted_sentence_cannot_open_a_code_block(make_passage) -> None:
    passage = make_passage(
        "Backticks are fine. ```inline backticks``` start this backticks sentence."
    )

    text, _deltas = answer("inline backticks sentence", [passage])

    assert "> \\```inline backticks``` start this backticks sentence. [1]" in text
    assert "\n> ```" not in text
