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
