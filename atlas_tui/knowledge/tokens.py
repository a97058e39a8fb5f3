"""Counting the embedding model's word-pieces fast, with its own `tokenizer.json` (no torch)."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from pathlib import Path

from atlas_tui.errors import EmbeddingModelError

TokenCounter = Callable[[str], int]
"""Counts word-pieces of a text, without the special tokens."""

# Characters Python calls whitespace that the BERT normaliser deletes instead (so the words on
# either side would merge): around them, counts of pieces no longer add up.
IRREGULAR_SPACE = re.compile(r"[\x0b\x0c\x1c-\x1f\x85]")

# WordPiece turns a "word" (a run between spaces and punctuation) longer than 100 characters into
# one [UNK]: the encoder would see nothing of a token-less blob. Such runs are read in pieces of
# at most 100 characters, as if a space stood between them (`break_long_words`), by the counter
# and the encoder alike; the chunker cuts them at the same places.
MAX_WORD_CHARS = 100
LONG_WORD = re.compile(rf"[^\W_]{{{MAX_WORD_CHARS + 1},}}")


def break_long_words(text: str) -> str:
    """`text` with a space after every 100 characters of a longer word (else unchanged)."""
    if not LONG_WORD.search(text):
        return text
    return LONG_WORD.sub(lambda m: " ".join(_pieces(m.group())), text)


def _pieces(word: str) -> list[str]:
    return [word[i : i + MAX_WORD_CHARS] for i in range(0, len(word), MAX_WORD_CHARS)]


def _original_offsets(text: str, offsets: list[int]) -> list[int]:
    """Map offsets in `break_long_words(text)` back to offsets in `text`."""
    inserted: list[int] = []  # positions in the broken text of the spaces we inserted
    shift = 0
    for match in LONG_WORD.finditer(text):
        for k in range(1, (len(match.group()) - 1) // MAX_WORD_CHARS + 1):
            inserted.append(match.start() + k * MAX_WORD_CHARS + shift)
            shift += 1
    return [offset - bisect.bisect_right(inserted, offset) for offset in offsets]


class WordPieceCounter:
    """A `TokenCounter` over a Hugging Face `tokenizers` tokenizer.

    `additive` is True: with a BERT pre-tokenizer (split on whitespace and punctuation), the count
    of texts joined by whitespace is the sum of their counts, which lets the chunker count each
    paragraph once instead of re-counting every candidate chunk.
    """

    additive = True

    def __init__(self, tokenizer_file: Path) -> None:
        from tokenizers import Tokenizer  # Rust; imports in tens of milliseconds

        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()

    def __call__(self, text: str) -> int:
        return len(self._tokenizer.encode(break_long_words(text), add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        encodings = self._tokenizer.encode_batch_fast(
            [break_long_words(t) for t in texts], add_special_tokens=False
        )
        return [len(encoding.ids) for encoding in encodings]

    def token_starts(self, text: str) -> list[int]:
        """Character offset in `text` where each word-piece starts (in order)."""
        broken = break_long_words(text)
        encoding = self._tokenizer.encode(broken, add_special_tokens=False)
        starts = [start for start, _ in encoding.offsets]
        return starts if broken is text else _original_offsets(text, starts)


def load_token_counter(model_path: str | Path) -> TokenCounter:
    """A fast word-piece counter from the model's `tokenizer.json` (a file, or a model folder)."""
    path = Path(model_path)
    if path.is_dir():
        candidates = [path / "tokenizer.json", *sorted(path.rglob("tokenizer.json"))]
        path = next((c for c in candidates if c.is_file()), path / "tokenizer.json")
    if not path.is_file():
        raise EmbeddingModelError(f"No tokenizer.json found at {model_path}")
    try:
        return WordPieceCounter(path)
    except Exception as exc:  # the tokenizers library raises a bare Exception on bad files
        raise EmbeddingModelError(f"Cannot read the tokenizer {path}: {exc}") from exc


def count_all(counter: TokenCounter, texts: Sequence[str]) -> list[int]:
    """Counts of many texts, in one batch when the counter can."""
    batch = getattr(counter, "count_batch", None)
    if batch is not None and len(texts) > 1:
        return list(batch(texts))
    return [counter(text) for text in texts]
