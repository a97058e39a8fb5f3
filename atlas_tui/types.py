"""Plain records shared by every layer (a leaf module: imports nothing of atlas_tui)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Passage:
    """One retrieved chunk of a document, as the query client and the UI see it."""

    chunk_id: str
    text: str
    source: str  # path relative to the ingested root, always with "/" separators
    root: str  # the ingested root folder (absolute)
    title: str
    heading: str  # heading path, "Guide > Install > Linux"; "" when none
    score: float  # relevance, higher is better, in [0, 1]
    chunk_index: int = 0
    start: int = 0  # character span of the chunk in the file's extracted text
    end: int = 0
    line_start: int = 0  # 1-based line span (0 when unknown)
    line_end: int = 0
    page: int | None = None  # PDF page, 1-based
    rank: int = 0  # 1-based position in the result list

    @property
    def path(self) -> str:
        """Absolute path of the source file."""
        return f"{self.root.rstrip('/')}/{self.source}" if self.root else self.source

    @property
    def line_span(self) -> str:
        """ "line 42", "lines 42–50", or "" when the lines are not known."""
        if not self.line_start:
            return ""
        if self.line_end <= self.line_start:
            return f"line {self.line_start}"
        return f"lines {self.line_start}–{self.line_end}"

    def metadata(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("text")
        data["path"] = self.path
        return data


@dataclass(frozen=True, slots=True)
class Citation:
    """A claim in the answer pointing at document `number` (1-based, as shown: [1], [2])."""

    number: int
    chunk_id: str
    cited_text: str = ""
    valid: bool = True  # the cited text was found in the chunk it names


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Turn:
    """One earlier exchange of a session, sent to the model as conversation."""

    question: str
    answer: str
    passages: tuple[Passage, ...] = field(default_factory=tuple)
    answerer: str = ""  # the label of what answered ("offline extractive", "Claude ..."), if known


@dataclass(frozen=True, slots=True)
class ToolStep:
    """One tool call the model made in research mode, as carried out (or refused).

    Passages are named by the number [n] they have in the answer (their place among every passage
    the research gathered, in the order found).
    """

    tool: str  # "search" or "read" (or the unknown name the model used)
    query: str = ""  # search: what was searched for
    mode: str = ""  # search: hybrid, vector or keyword
    source: str = ""  # search: the source glob it was limited to ("" for every file)
    passage: int = 0  # read: the passage [n] widened
    before: int = 0  # read: passages asked for before it and after it
    after: int = 0
    found: tuple[int, ...] = ()  # the passages it returned, in order
    new: tuple[int, ...] = ()  # those it found first
    error: str = ""  # why the call was refused ("" when it was carried out)

    def describe(self) -> str:
        """One line for a transcript: `searched "gzip text mode" (hybrid) -> 6 passages, 2 new`.
        The query is the model's text: show the line through the UI's own escaping."""
        if self.error:
            return f"{self.tool} refused: {self.error}"
        count = f"{len(self.found)} passage{'' if len(self.found) == 1 else 's'}"
        result = f"{count}, {len(self.new)} new" if self.found else "no passages"
        if self.tool == "read":
            around = f"[{self.passage}] ({self.before} before, {self.after} after)"
            return f"read around {around} -> {result}"
        where = f", in {self.source}" if self.source else ""
        return f'searched "{" ".join(self.query.split())}" ({self.mode}{where}) -> {result}'


@dataclass(frozen=True, slots=True)
class ResearchRound:
    """One round of research: the model's tool calls in one reply, and what they found."""

    number: int  # 1-based
    steps: tuple[ToolStep, ...] = ()
    note: str = ""  # what the model wrote before its calls (not part of the answer)
    input_tokens: int = 0  # this round's request, as the model counted it
    output_tokens: int = 0
    tool_ms: float = 0.0  # the client's own time on the calls (searching, reading)
