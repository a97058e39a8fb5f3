"""Research mode for the query client: the index as the model's tools, and the line that begins
the answer when the model cannot call tools.

The research itself is generation/research.py's. It reaches the index only through `IndexTools`
(the `Index` protocol there; generation knows nothing of LanceDB), made here from the client and
the question's knobs: the search mode and source limit the user chose become the searches'
default mode and fixed limit, and the other knobs (result count, minimum score, filter) apply to
every search.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from atlas_tui.config import OFFLINE_LABEL
from atlas_tui.types import Passage

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery


class IndexTools:
    """The index as research's tools see it (`generation.research_tools.Index`)."""

    def __init__(self, client: AtlasQuery, knobs: dict[str, Any]) -> None:
        knobs = dict(knobs)
        mode = knobs.pop("mode", None)
        hybrid = knobs.pop("use_hybrid_search", None)
        if mode is None and hybrid is not None:  # as `AtlasQuery.retrieve` reads them
            mode = "hybrid" if hybrid else "vector"
        self.mode: str = mode or client.settings.search_mode
        self.source: str | None = knobs.pop("source", None) or None
        self._client = client
        self._knobs = knobs  # filter, max_results, min_relevance_score

    def search(self, query: str, mode: str, source: str | None) -> Sequence[Passage]:
        return self._client.retrieve(query, mode=mode, source=source, **self._knobs)

    def read(self, passage: Passage, before: int, after: int) -> Sequence[Passage]:
        return self._client.knowledge.around(passage, before, after)


def no_tools_line(label: str) -> str:
    """The line that begins an answer research mode could not give: who answers cannot call
    tools (`label`: who answers, as the status line says it)."""
    who = (
        "the offline extractive answerer"
        if label == OFFLINE_LABEL
        else f"{label} (on the compatible profile)"
    )
    return (
        f"*Research mode needs a model that can call tools, which {who} cannot; this answer "
        "comes from one search.*\n\n"
    )
