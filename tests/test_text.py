"""One-line text cut with exactly one ellipsis (atlas_tui/text.py)."""

from __future__ import annotations

import pytest

from atlas_tui.text import one_line, shorten


def test_short_text_is_folded_to_one_line_and_kept_whole() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    assert shorten("Open a\ngzip file.", 40) == "Open a gzip file."


def test_a_cut_falls_between_words_with_one_ellipsis() -> None:
    text = "otherwise, it defaults to the empty string, and in this case the original"
    cut = shorten(text, 40)
    assert cut == "otherwise, it defaults to the empty…"
    assert len(cut) <= 40


@pytest.mark.parametrize(
    "text",
    [
        "gzip.open(filename, mode='rb', ... more words after the cut point here",
        "gzip.open(filename, mode='rb', … more words after the cut point here",
        "Then the text goes on, and on, ..., and on after the cut point here",
    ],
)
def test_a_cut_meeting_the_texts_own_ellipsis_shows_one(text: str) -> None:
    cut = shorten(text, 36)
    assert cut.endswith("…") and not cut.endswith(("……", "...…", ". …", " …", ",…"))
    assert cut.count("…") + cut.count("...") == 1


def test_one_long_word_is_cut_inside_it() -> None:
    assert shorten("x" * 50, 10) == "x" * 9 + "…"


@pytest.mark.parametrize("limit", range(4, 70))
def test_every_cut_fits_ends_a_word_and_leaves_out_no_word_that_would_fit(limit: int) -> None:
    text = "Open a gzip-compressed file in binary or text mode, returning a file object."
    cut = shorten(text, limit)
    assert len(cut) <= limit
    if len(text) <= limit:
        assert cut == text
        return
    kept = cut.removesuffix("…")
    assert cut.endswith("…") and text.startswith(kept)
    words = text.split(" ")
    whole = [w for i, w in enumerate(words) if len(" ".join(words[: i + 1])) + 1 <= limit]
    if whole and len(" ".join(whole)) > (limit - 1) // 2:  # a word boundary in the second half
        assert kept == " ".join(whole).rstrip(",.")
