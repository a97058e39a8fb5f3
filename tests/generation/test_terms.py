"""The terms a question and a passage are matched on (the offline answerer's quotes, the query
client's coverage check): which words count, and which forms of a word match each other."""

from __future__ import annotations

import pytest

from atlas_tui.generation.terms import terms


@pytest.mark.parametrize(
    ("asked", "written"),
    [
        ("index", "indexes"),
        ("parse", "parsed"),
        ("copy", "copies"),
        ("library", "libraries"),
        ("class", "classes"),
        ("match", "matches"),
        ("hash", "hashes"),
        ("buzz", "buzzes"),
        ("file", "files"),
        ("case", "cases"),
        ("cache", "caching"),
        ("encode", "encoding"),
        ("status", "statuses"),
        ("date", "dates"),
    ],
)
def test_a_word_matches_its_plural_and_verb_forms(asked: str, written: str) -> None:
    assert terms(asked) == terms(written) != set()


@pytest.mark.parametrize(
    ("word", "other"),
    [
        ("news", "new"),  # a short word keeps its last letter
        ("string", "str"),  # "-ing" of a short word is not a suffix
        ("speed", "spe"),  # nor is "-ed"
        ("analysis", "analysi"),  # a word in -is, -us or -ss is not a plural
        ("status", "statu"),
        ("class", "clas"),
        ("path", "pat"),
    ],
)
def test_a_word_is_not_cut_into_another(word: str, other: str) -> None:
    assert terms(word) == {word}
    assert terms(word) != terms(other)


def test_stopwords_are_not_terms_wherever_they_are() -> None:
    assert terms("What do you want to make of a date?") == terms("date")
    assert terms("the dates of the files") == terms("date file")


def test_an_identifier_matches_its_parts() -> None:
    assert terms("date string") < terms("date_string")
    assert terms("sys.path") == {"sys.path", "sys", "path"}
    # a part shorter than three letters or a stopword is no term of its own
    assert terms("os.environ") == {"os.environ", "environ"}
    assert terms("get_data") == {"get_data", "data"}


def test_a_hyphenated_name_also_matches_without_its_hyphen() -> None:
    assert terms("SHA-256") == {"sha-256", "sha256"}
    assert terms("sha256") <= terms("SHA-256")


def test_symbols_of_a_name_are_kept_and_trailing_punctuation_is_not() -> None:
    assert terms("C++ and C#") == {"c++", "c#"}
    assert terms("Use os.path.") == {"os.path", "path"}
