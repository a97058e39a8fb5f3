"""Records passed between loaders, chunking and ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from atlas_tui.knowledge.sections import Section


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A file's extracted text and what we know about it."""

    source: str  # path relative to root, "/" separators
    root: str  # absolute ingested root
    kind: str  # markdown | rst | text | code | html | pdf
    title: str
    text: str  # extracted, visible text (spans of chunks refer to this)
    content_hash: str  # sha256 hex of the raw bytes
    mtime: float
    # PDF only: (page number, offset in `text` where that page starts), in order
    page_offsets: tuple[tuple[int, int], ...] = field(default_factory=tuple)
    # the structure, when the loader's parser found it (reST); else the chunker finds it in `text`
    sections: tuple[Section, ...] | None = None


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of a document sized to fit the embedding model's window."""

    text: str
    heading: str  # heading path "A > B > C" ("" when none)
    chunk_index: int
    start: int  # character span in LoadedDocument.text
    end: int
    line_start: int  # 1-based line span in LoadedDocument.text
    line_end: int
    page: int | None = None

    def embedding_text(self, title: str) -> str:
        """What the encoder reads: the heading path gives the passage its context (and a
        word too long for WordPiece is read in pieces, see `tokens.break_long_words`)."""
        from atlas_tui.knowledge.tokens import break_long_words

        context = self.heading or title
        return break_long_words(f"{context}\n{self.text}" if context else self.text)


@dataclass(frozen=True, slots=True)
class Skipped:
    """A path that was not ingested, and why (shown in the final report)."""

    path: str
    reason: str
