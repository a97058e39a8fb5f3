"""The research tools as the model sees them (`search`, `read`), the checks on what it calls them
with, and the tool results it gets back.

The model's tool input is untrusted: `parse_call` accepts only what the schemas describe and raises
`ToolInputError` with a message for the model otherwise (sent back as an error `tool_result`, so it
can correct itself). Passages are numbered in the order they are first found (`Gathered`); a passage
found again keeps its number and is named, not sent again. So every `search_result` block of the
conversation appears once, in number order, and the API's `search_result_index` (0-based, counted
across the whole request) is the passage's number minus one.

The tools reach the index through `Index`, which the query client passes in: this package knows
nothing of LanceDB.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from atlas_tui.config import SEARCH_MODES
from atlas_tui.generation.prompts import NumberedPassage, search_result_block
from atlas_tui.types import Passage

MAX_INPUT_CHARS = 10_000  # a call's whole input as the model writes it (a search's is < 1,000)
MAX_QUERY_CHARS = 500
MAX_SOURCE_CHARS = 200
MAX_AROUND = 3  # passages a read may add on either side
DEFAULT_AROUND = 1

SEARCH_TOOL: dict[str, Any] = {
    "name": "search",
    "description": (
        "Search the user's indexed documents. Returns the best-matching passages as search "
        "results you can cite. Passages are numbered [n] in the order first found; a passage "
        "found again keeps its number and is named, not repeated. Search again with other words, "
        "or once per part of a question with several parts."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "query": {
                "type": "string",
                "description": "What to look for: keywords, a phrase or a question.",
            },
            "mode": {
                "type": "string",
                "enum": list(SEARCH_MODES),
                "description": (
                    "hybrid (the default): meaning and exact words together; vector: by meaning "
                    "only; keyword: exact words only (names, identifiers, error messages)."
                ),
            },
            "source": {
                "type": "string",
                "description": (
                    "Only search files whose path matches this glob, e.g. 'library/*.rst' or "
                    "'gzip.rst'."
                ),
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    },
}

READ_TOOL: dict[str, Any] = {
    "name": "read",
    "description": (
        "Read around a passage already found: the passages just before and after it in its "
        "file. Use it when a passage is cut off or its context matters."
    ),
    "input_schema": {
        "type": "object",
        "properties": {
            "passage": {
                "type": "integer",
                "minimum": 1,
                "description": "The number n of a passage given as [n].",
            },
            "before": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_AROUND,
                "description": f"Passages to read before it (default {DEFAULT_AROUND}).",
            },
            "after": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_AROUND,
                "description": f"Passages to read after it (default {DEFAULT_AROUND}).",
            },
        },
        "required": ["passage"],
        "additionalProperties": False,
    },
}

TOOLS: tuple[dict[str, Any], ...] = (SEARCH_TOOL, READ_TOOL)


class Index(Protocol):
    """What the tools reach the index through (the query client's side of them)."""

    mode: str  # the search mode used when the model names none
    source: str | None  # a source glob the user limited every search to (None: no limit)

    def search(self, query: str, mode: str, source: str | None) -> Sequence[Passage]:
        """The passages matching `query`, best first."""
        ...

    def read(self, passage: Passage, before: int, after: int) -> Sequence[Passage]:
        """`passage` and up to `before` and `after` passages next to it in its file, in order."""
        ...


@dataclass(frozen=True, slots=True)
class SearchCall:
    query: str
    mode: str | None = None  # None: the index's default
    source: str | None = None


@dataclass(frozen=True, slots=True)
class ReadCall:
    passage: int
    before: int = DEFAULT_AROUND
    after: int = DEFAULT_AROUND


class ToolInputError(ValueError):
    """A tool call that cannot be carried out; the message is for the model (and the trail)."""


def parse_call(name: str, raw_input: str, gathered: int) -> SearchCall | ReadCall:
    """The call the model made, checked; `gathered` is how many passages it can name."""
    if name not in ("search", "read"):
        raise ToolInputError(f"there is no tool {name!r}; use search or read")
    if len(raw_input) > MAX_INPUT_CHARS:
        raise ToolInputError(f"the input is longer than {MAX_INPUT_CHARS:,} characters")
    try:
        arguments = json.loads(raw_input) if raw_input.strip() else {}
    except ValueError:
        raise ToolInputError("the input is not valid JSON (was it cut off?)") from None
    if not isinstance(arguments, dict):
        raise ToolInputError("the input must be a JSON object")
    tool = SEARCH_TOOL if name == "search" else READ_TOOL
    allowed = tool["input_schema"]["properties"]
    unknown = sorted(set(arguments) - set(allowed))
    if unknown:
        raise ToolInputError(f"unknown argument {unknown[0]!r}; {name} takes {', '.join(allowed)}")
    if name == "search":
        return _search_call(arguments)
    return _read_call(arguments, gathered)


def _search_call(arguments: dict[str, Any]) -> SearchCall:
    query = arguments.get("query")
    if not isinstance(query, str) or not query.strip():
        raise ToolInputError("query must be a non-empty string")
    if len(query) > MAX_QUERY_CHARS:
        raise ToolInputError(f"query is longer than {MAX_QUERY_CHARS} characters")
    mode = arguments.get("mode")
    if mode is not None and mode not in SEARCH_MODES:
        raise ToolInputError(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    source = arguments.get("source")
    if source is not None and (not isinstance(source, str) or len(source) > MAX_SOURCE_CHARS):
        raise ToolInputError(f"source must be a glob of at most {MAX_SOURCE_CHARS} characters")
    return SearchCall(query.strip(), mode, (source or "").strip() or None)


def _whole(arguments: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = arguments.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ToolInputError(f"{name} must be a whole number from {low} to {high}")
    return value


def _read_call(arguments: dict[str, Any], gathered: int) -> ReadCall:
    if "passage" not in arguments:
        raise ToolInputError("passage is required: the number n of a passage given as [n]")
    if not gathered:
        raise ToolInputError("there are no passages to read around yet; search first")
    return ReadCall(
        _whole(arguments, "passage", 0, 1, gathered),
        _whole(arguments, "before", DEFAULT_AROUND, 0, MAX_AROUND),
        _whole(arguments, "after", DEFAULT_AROUND, 0, MAX_AROUND),
    )


class Gathered:
    """Every passage the research found, numbered [n] in the order first found."""

    def __init__(self) -> None:
        self.passages: list[Passage] = []
        self._numbers: dict[str, int] = {}  # chunk id -> its number

    def __len__(self) -> int:
        return len(self.passages)

    def __getitem__(self, number: int) -> Passage:
        return self.passages[number - 1]

    def add(self, passages: Sequence[Passage]) -> tuple[tuple[int, ...], list[NumberedPassage]]:
        """The numbers of `passages` (in their order), and those first found now."""
        numbers: list[int] = []
        new: list[NumberedPassage] = []
        for passage in passages:
            number = self._numbers.get(passage.chunk_id)
            if number is None:
                self.passages.append(passage)
                number = self._numbers[passage.chunk_id] = len(self.passages)
                new.append(NumberedPassage(number, passage, passage.text))
            if number not in numbers:
                numbers.append(number)
        return tuple(numbers), new

    def numbered(self) -> list[NumberedPassage]:
        """Every passage as sent: in number order, as the API counts search results."""
        return [NumberedPassage(n, p, p.text) for n, p in enumerate(self.passages, 1)]


def _listed(numbers: Sequence[int]) -> str:
    return " ".join(f"[{n}]" for n in numbers)


def search_content(numbers: Sequence[int], new: Sequence[NumberedPassage]) -> list[dict[str, Any]]:
    """A search's tool result: the new passages as search results, then a line naming all."""
    if not numbers:
        return [{"type": "text", "text": "No passages matched this search."}]
    fresh = [numbered.number for numbered in new]
    earlier = [n for n in numbers if n not in fresh]
    parts = [f"{len(numbers)} passage{'' if len(numbers) == 1 else 's'} matched"]
    if fresh:
        parts.append(f"new (above): {_listed(fresh)}")
    if earlier:
        parts.append(f"found before, not repeated: {_listed(earlier)}")
    line = "; ".join(parts) + "."
    return [*(search_result_block(numbered) for numbered in new), {"type": "text", "text": line}]


def read_content(
    call: ReadCall, numbers: Sequence[int], new: Sequence[NumberedPassage]
) -> list[dict[str, Any]]:
    """A read's tool result: the new passages as search results, then the file's order."""
    if not numbers:
        text = f"Passage [{call.passage}] is no longer in the index (its file was re-ingested)."
        return [{"type": "text", "text": text}]
    line = f"Around [{call.passage}] in its file, in order: {_listed(numbers)}"
    fresh = [numbered.number for numbered in new]
    line += f"; new (above): {_listed(fresh)}" if fresh else "; nothing new"
    if call.passage in numbers:  # fewer neighbours than asked for: the file ends there
        position = numbers.index(call.passage)
        if call.before > position:
            line += f"; the file begins with [{numbers[0]}]"
        if call.after > len(numbers) - 1 - position:
            line += f"; the file ends with [{numbers[-1]}]"
    return [
        *(search_result_block(numbered) for numbered in new),
        {"type": "text", "text": f"{line}."},
    ]


def tool_result(tool_use_id: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": tool_use_id, "content": content}


def error_result(tool_use_id: str, message: str) -> dict[str, Any]:
    return {
        "type": "tool_result",
        "tool_use_id": tool_use_id,
        "is_error": True,
        "content": f"Error: {message}.",
    }
