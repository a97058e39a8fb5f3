"""Passage selection (budget, near-duplicates), the system prompt file, the history messages."""

from __future__ import annotations

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import ConfigError
from atlas_tui.generation.prompts import (
    DEFAULT_SYSTEM_PROMPT,
    PASSAGE_OVERHEAD_TOKENS,
    build_messages,
    estimate_tokens,
    history_messages,
    load_system_prompt,
    select_passages,
)
from atlas_tui.types import Turn

WORDS = [
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
]


def prose(seed: int, words: int = 80) -> str:
    """Distinct text per seed (so passages are not near-duplicates of each other)."""
    return " ".join(f"{WORDS[(seed * 7 + i) % len(WORDS)]}{seed}{i}" for i in range(words))


def test_the_best_passages_that_fit_the_budget_are_kept_in_the_users_numbering(
    make_passage,
) -> None:
    passages = [make_passage(prose(i), score=score) for i, score in enumerate([0.2, 0.9, 0.5, 0.7])]
    one = estimate_tokens(passages[0].text) + PASSAGE_OVERHEAD_TOKENS

    chosen = select_passages(passages, token_budget=2 * one + one // 2)

    assert [c.number for c in chosen] == [2, 4]  # the two highest scores, shown as [2] and [4]
    assert [c.passage for c in chosen] == [passages[1], passages[3]]


def test_a_big_budget_keeps_everything(make_passage) -> None:
    passages = [make_passage(prose(i)) for i in range(4)]

    assert [c.number for c in select_passages(passages, 100_000)] == [1, 2, 3, 4]


def test_a_best_passage_longer_than_the_budget_is_cut_not_dropped(make_passage) -> None:
    big = make_passage(prose(1, words=2000), score=0.9)
    small = make_passage(prose(2, words=10), score=0.1)

    chosen = select_passages([big, small], token_budget=200)

    assert [c.number for c in chosen] == [1]
    assert big.text.startswith(chosen[0].text)
    assert estimate_tokens(chosen[0].text) + PASSAGE_OVERHEAD_TOKENS <= 200


def test_overlapping_chunks_of_one_file_are_near_duplicates(make_passage) -> None:
    text = prose(1, words=200)
    first = make_passage(text[:900], source="a.md", start=0, end=900, score=0.6)
    overlapping = make_passage(text[300:1200], source="a.md", start=300, end=1200, score=0.8)
    next_chunk = make_passage(text[800:1700], source="a.md", start=800, end=1700, score=0.5)

    chosen = select_passages([first, overlapping, next_chunk], 100_000)

    # the better-scored of the two overlapping chunks stays; the small overlap of the next is fine
    assert [c.number for c in chosen] == [2, 3]


def test_the_same_text_in_two_files_is_a_near_duplicate(make_passage) -> None:
    text = prose(3)
    original = make_passage(text, source="a.md", score=0.9)
    copy = make_passage("Copied: " + text.replace("alpha", "ALPHA", 1), source="b.md", score=0.8)
    other = make_passage(prose(4), source="c.md", score=0.1)

    assert [c.number for c in select_passages([original, copy, other], 100_000)] == [1, 3]


def test_empty_passages_are_skipped(make_passage) -> None:
    assert [c.number for c in select_passages([make_passage("  \n"), make_passage("x")], 99)] == [2]


def test_default_system_prompt_keeps_documents_as_data() -> None:
    prompt = load_system_prompt(Settings())

    assert prompt == DEFAULT_SYSTEM_PROMPT
    assert "not instructions" in prompt
    assert "say so plainly" in prompt


def test_prompt_file_replaces_the_prompt(tmp_path) -> None:
    path = tmp_path / "prompt.txt"
    path.write_text("Be terse. Ünïcode is fine.", encoding="utf-8")

    assert (
        load_system_prompt(Settings(system_prompt_file=str(path))) == "Be terse. Ünïcode is fine."
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [(None, "Cannot read"), (b"   \n", "is empty"), (b"\xff\xfe\xfa bad", "Cannot read")],
    ids=["missing", "empty", "not-utf8"],
)
def test_an_unusable_prompt_file_is_a_clear_config_error(tmp_path, content, words) -> None:
    path = tmp_path / "prompt.txt"
    if content is not None:
        path.write_bytes(content)

    with pytest.raises(ConfigError, match=words) as caught:
        load_system_prompt(Settings(system_prompt_file=str(path)))

    assert str(path) in caught.value.message
    assert "system_prompt_file" in caught.value.hint


def test_history_is_bounded_and_loses_its_old_markers() -> None:
    turns = [Turn(f"q{i}", f"a{i} [1][2] done [3].") for i in range(5)]

    messages = history_messages(turns, max_turns=2)

    assert messages == [
        {"role": "user", "content": "q3"},
        {"role": "assistant", "content": "a3 done."},
        {"role": "user", "content": "q4"},
        {"role": "assistant", "content": "a4 done."},
    ]
    assert history_messages(turns, max_turns=0) == []


def test_history_skips_unanswered_turns() -> None:
    assert history_messages([Turn("cancelled before any text", "")], max_turns=4) == []


def test_offline_answers_are_not_the_models_turns_but_their_questions_are_mentioned() -> None:
    turns = [
        Turn("What is Atlas?", "Atlas is a research tool [1].", answerer="Claude claude-x"),
        Turn("Who wrote it?", "_Offline extractive answer_\n\n> Ada wrote it. [2]", answerer=""),
        Turn("Where is it kept?", "> In the vault. [1]", answerer="offline extractive"),
    ]

    messages = build_messages("And when?", [], turns, max_turns=4)

    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert "In the vault" not in str(messages)  # the offline answer is not sent as Claude's
    note = messages[-1]["content"][-2]["text"]
    assert "- Where is it kept?" in note and "not by you" in note
    assert messages[-1]["content"][-1] == {"type": "text", "text": "And when?"}
    # an offline turn older than max_turns is not mentioned either
    assert "Where is it kept?" not in str(build_messages("q", [], turns[2:] + turns[:1], 1))
    assert build_messages("q", [], turns, max_turns=0)[-1]["content"] == [
        {"type": "text", "text": "(No documents were retrieved for this question.)"},
        {"type": "text", "text": "q"},
    ]
