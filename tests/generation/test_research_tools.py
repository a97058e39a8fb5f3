"""Research mode's parts that need no server: checking the model's tool input, numbering what is
found, the tool results' words, the trail's lines and the budget."""

from __future__ import annotations

import json

import pytest

from atlas_tui.generation.research import Budget
from atlas_tui.generation.research_tools import (
    MAX_INPUT_CHARS,
    MAX_QUERY_CHARS,
    MAX_SOURCE_CHARS,
    READ_TOOL,
    SEARCH_TOOL,
    Gathered,
    ReadCall,
    SearchCall,
    ToolInputError,
    error_result,
    parse_call,
    read_content,
    search_content,
    tool_result,
)
from atlas_tui.types import Passage, ToolStep, Usage


def passage(n: int) -> Passage:
    return Passage(f"c{n}", f"text {n}", f"f{n}.md", "/kb", f"T{n}", "", 0.5)


def search(**arguments: object) -> SearchCall | ReadCall:
    return parse_call("search", json.dumps(arguments), 0)


def read(gathered: int = 4, **arguments: object) -> SearchCall | ReadCall:
    return parse_call("read", json.dumps(arguments), gathered)


def test_the_schemas_name_what_parse_call_accepts() -> None:
    assert set(SEARCH_TOOL["input_schema"]["properties"]) == {"query", "mode", "source"}
    assert SEARCH_TOOL["input_schema"]["required"] == ["query"]
    assert SEARCH_TOOL["input_schema"]["properties"]["mode"]["enum"] == [
        "hybrid",
        "vector",
        "keyword",
    ]
    assert set(READ_TOOL["input_schema"]["properties"]) == {"passage", "before", "after"}
    assert READ_TOOL["input_schema"]["required"] == ["passage"]


def test_a_search_call_is_read_with_its_defaults() -> None:
    assert search(query="  gzip text  ") == SearchCall("gzip text", None, None)
    assert search(query="q", mode="keyword", source=" lib/*.rst ") == SearchCall(
        "q", "keyword", "lib/*.rst"
    )
    assert search(query="q", source="  ") == SearchCall("q", None, None)
    assert search(query="q", mode=None) == SearchCall("q", None, None)
    assert search(query="x" * MAX_QUERY_CHARS).query == "x" * MAX_QUERY_CHARS
    assert search(query="q", source="s" * MAX_SOURCE_CHARS).source == "s" * MAX_SOURCE_CHARS


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({}, "query must be a non-empty string"),
        ({"query": "x" * (MAX_QUERY_CHARS + 1)}, "query is longer than 500 characters"),
        ({"query": "q", "source": "s" * (MAX_SOURCE_CHARS + 1)}, "at most 200 characters"),
        ({"query": "q", "source": 3}, "source must be a glob"),
        ({"query": "q", "mode": 1}, "mode must be one of hybrid, vector, keyword, not 1"),
    ],
)
def test_a_bad_search_call_is_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ToolInputError, match=message):
        search(**arguments)


def test_an_empty_input_reads_as_no_arguments() -> None:
    with pytest.raises(ToolInputError, match=r"^query must be a non-empty string$"):
        parse_call("search", "  ", 0)


def test_a_read_call_is_read_with_its_defaults() -> None:
    assert read(passage=2) == ReadCall(2, 1, 1)
    assert read(passage=4, before=0, after=3) == ReadCall(4, 0, 3)
    assert read(gathered=1, passage=1, before=3, after=0) == ReadCall(1, 3, 0)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"passage": 5}, "^passage must be a whole number from 1 to 4$"),
        ({"passage": 0}, "^passage must be a whole number from 1 to 4$"),
        ({"passage": 1.0}, "^passage must be a whole number from 1 to 4$"),
        ({"passage": False}, "^passage must be a whole number from 1 to 4$"),
        ({"passage": 1, "before": 4}, "^before must be a whole number from 0 to 3$"),
        ({"passage": 1, "after": -1}, "^after must be a whole number from 0 to 3$"),
        ({"passage": 1, "around": 2}, "^unknown argument 'around'; read takes passage, before"),
    ],
)
def test_a_bad_read_call_is_refused(arguments: dict[str, object], message: str) -> None:
    with pytest.raises(ToolInputError, match=message):
        read(**arguments)


def test_unknown_arguments_are_named_in_order() -> None:
    with pytest.raises(ToolInputError, match=r"^unknown argument 'a'; search takes query"):
        search(query="q", z=1, a=2)


def test_gathered_numbers_passages_in_the_order_first_found() -> None:
    gathered = Gathered()
    numbers, new = gathered.add([passage(1), passage(2), passage(1)])
    assert numbers == (1, 2)  # a passage listed twice is named once
    assert [(n.number, n.passage.chunk_id, n.text) for n in new] == [
        (1, "c1", "text 1"),
        (2, "c2", "text 2"),
    ]
    numbers, new = gathered.add([passage(3), passage(2)])
    assert numbers == (3, 2) and [n.number for n in new] == [3]
    assert len(gathered) == 3 and gathered[3] == passage(3) and gathered[1] == passage(1)
    assert [(n.number, n.passage) for n in gathered.numbered()] == [
        (1, passage(1)),
        (2, passage(2)),
        (3, passage(3)),
    ]
    assert gathered.add([]) == ((), [])


def test_search_content_sends_new_passages_and_names_the_rest() -> None:
    gathered = Gathered()
    gathered.add([passage(1)])
    numbers, new = gathered.add([passage(2), passage(1)])
    blocks = search_content(numbers, new)
    assert [b["type"] for b in blocks] == ["search_result", "text"]
    assert blocks[0]["title"] == "[2] T2"
    assert blocks[1]["text"] == (
        "2 passages matched; new (above): [2]; found before, not repeated: [1]."
    )
    numbers, new = gathered.add([passage(1)])
    assert search_content(numbers, new) == [
        {"type": "text", "text": "1 passage matched; found before, not repeated: [1]."}
    ]


def test_read_content_says_where_the_file_begins_and_ends() -> None:
    gathered = Gathered()
    gathered.add([passage(1), passage(2)])
    numbers, new = gathered.add([passage(3), passage(2), passage(4)])
    both = read_content(ReadCall(2, 1, 1), numbers, new)
    assert [b["title"] for b in both if b["type"] == "search_result"] == ["[3] T3", "[4] T4"]
    assert (
        both[-1]["text"] == "Around [2] in its file, in order: [3] [2] [4]; new (above): [3] [4]."
    )
    numbers, new = gathered.add([passage(2), passage(4)])
    short = read_content(ReadCall(2, 2, 3), numbers, new)
    assert short[-1]["text"] == (
        "Around [2] in its file, in order: [2] [4]; nothing new; the file begins with [2]; "
        "the file ends with [4]."
    )
    last = read_content(ReadCall(2, 1, 1), (3, 2), [])  # nothing after [2]
    assert last[-1]["text"] == (
        "Around [2] in its file, in order: [3] [2]; nothing new; the file ends with [2]."
    )
    middle = read_content(ReadCall(2, 1, 2), (3, 2, 4), [])
    assert middle[-1]["text"].endswith("; the file ends with [4].")
    none_asked = read_content(ReadCall(2, 0, 1), numbers, [])
    assert none_asked[-1]["text"] == "Around [2] in its file, in order: [2] [4]; nothing new."
    replaced = read_content(ReadCall(1, 1, 1), (3,), [])  # the chunk itself was re-ingested
    assert replaced[-1]["text"] == "Around [1] in its file, in order: [3]; nothing new."
    assert read_content(ReadCall(1, 1, 1), (), []) == [
        {
            "type": "text",
            "text": "Passage [1] is no longer in the index (its file was re-ingested).",
        }
    ]


def test_results_and_errors_as_sent() -> None:
    assert tool_result("t1", [{"type": "text", "text": "x"}]) == {
        "type": "tool_result",
        "tool_use_id": "t1",
        "content": [{"type": "text", "text": "x"}],
    }
    assert error_result("t2", "bad") == {
        "type": "tool_result",
        "tool_use_id": "t2",
        "is_error": True,
        "content": "Error: bad.",
    }


def test_each_step_is_one_line() -> None:
    assert (
        ToolStep(
            "search", query="gzip\n  text", mode="hybrid", found=(1, 2, 3), new=(3,)
        ).describe()
        == 'searched "gzip text" (hybrid) -> 3 passages, 1 new'
    )
    assert (
        ToolStep("search", query="q", mode="keyword", source="lib/*", found=(4,)).describe()
        == 'searched "q" (keyword, in lib/*) -> 1 passage, 0 new'
    )
    assert ToolStep("search", query="q", mode="vector").describe() == (
        'searched "q" (vector) -> no passages'
    )
    assert ToolStep("read", passage=2, before=0, after=3, found=(2, 5), new=(5,)).describe() == (
        "read around [2] (0 before, 3 after) -> 2 passages, 1 new"
    )
    assert ToolStep("read", error="passage is required").describe() == (
        "read refused: passage is required"
    )


# --- the budget ----------------------------------------------------------------------------------


def budget(**changes: object) -> Budget:
    values: dict[str, object] = {
        "rounds": 3,
        "tokens": 10_000,
        "cost_usd": 1.0,
        "answer_tokens": 1_000,
        "price": None,
    }
    values.update(changes)
    return Budget(**values)  # type: ignore[arg-type]


def test_the_cap_stops_at_its_number_of_rounds() -> None:
    assert budget().stop(2, Usage(), 0) == ""
    assert budget().stop(3, Usage(), 0) == "the cap of 3 rounds"
    assert budget(rounds=1).stop(1, Usage(), 0) == "the cap of 1 round"


def test_another_round_needs_room_for_itself_and_the_answer_after_it() -> None:
    # 3,000 used + 2 x 3,000 ahead + 1,000 for the answer = exactly the budget: allowed
    assert budget().stop(1, Usage(2_500, 500), 3_000) == ""
    assert budget().stop(1, Usage(2_500, 501), 3_000) == (
        "another would pass the token budget: 3,001 of 10,000 tokens used"
    )
    assert budget().stop(1, Usage(2_500, 500), 3_001) != ""


def test_the_cost_budget_counts_only_for_a_priced_model() -> None:
    priced = budget(tokens=10**9, cost_usd=0.05, price=(2.0, 10.0))
    # spent: (10,000 x 2 + 1,000 x 10) / 1e6 = $0.03; ahead: (2 x 2,500 x 2 + 1,000 x 10) / 1e6
    assert priced.stop(1, Usage(10_000, 1_000), 2_500) == ""
    assert priced.stop(1, Usage(10_000, 1_000), 2_501) == (
        "another would pass the cost budget: $0.0300 of $0.05 spent"
    )
    assert budget(tokens=10**9, cost_usd=0.05).stop(1, Usage(10**6, 10**6), 10**6) == ""


def test_the_cost_budget_is_counted_in_whole_dollars_per_million_tokens() -> None:
    # $0.03 spent and $0.02 ahead: exactly $0.05, a hair over a budget a hair under it
    priced = budget(tokens=10**9, cost_usd=0.05 - 1e-8, price=(2.0, 10.0))
    assert priced.stop(1, Usage(10_000, 1_000), 2_500).startswith("another would pass the cost")


def test_an_input_over_its_length_limit_is_refused_before_it_is_read() -> None:
    padded = '{"query": "q"}' + " " * (MAX_INPUT_CHARS - 14)
    assert len(padded) == MAX_INPUT_CHARS and parse_call("search", padded, 0) == SearchCall("q")
    with pytest.raises(ToolInputError, match=r"^the input is longer than 10,000 characters$"):
        parse_call("search", padded + " ", 0)
