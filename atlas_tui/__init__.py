"""atlas-tui: a keyboard-driven research TUI over your own documents.

The public API (the Atlas query client):

    from atlas_tui import create_query_client
    client = create_query_client()
    print(client.query("What is the trimodal methodology in Atlas?"))

Research mode (the model searches the index itself, round after round, then answers):

    client.research(question, callback, on_round=lambda r: print(r.round.steps))
"""

from atlas_tui.config import Settings, load_settings
from atlas_tui.errors import AtlasError
from atlas_tui.query import (
    AtlasQuery,
    Delta,
    Done,
    Event,
    Failed,
    QueryRun,
    Retrieved,
    Round,
    Timings,
    create_query_client,
)
from atlas_tui.types import Citation, Passage, ResearchRound, ToolStep, Turn, Usage

__version__ = "0.1.0"

__all__ = [
    "AtlasError",
    "AtlasQuery",
    "Citation",
    "Delta",
    "Done",
    "Event",
    "Failed",
    "Passage",
    "QueryRun",
    "ResearchRound",
    "Retrieved",
    "Round",
    "Settings",
    "Timings",
    "ToolStep",
    "Turn",
    "Usage",
    "create_query_client",
    "load_settings",
]
