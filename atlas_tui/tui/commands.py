"""The command palette's commands on the main screen (beside Textual's own: theme, keys, quit...).

The app adds them only while the main screen is the one shown: on another screen they would act on
a screen the user does not see.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.app import SystemCommand

from atlas_tui.config import SEARCH_MODES
from atlas_tui.tui.widgets.ingest_bar import IngestBar

if TYPE_CHECKING:
    from atlas_tui.tui.main_screen import MainScreen

# What each retrieval mode finds, for a person choosing one.
MODES = {
    "hybrid": "By meaning and by the words, ranked together (the default)",
    "vector": "By meaning only: finds what is said in other words",
    "keyword": "By the words themselves (BM25): names, codes, exact terms",
}


def price_note(price: tuple[float, float] | None, who: str) -> str:
    """ " ($2 / $10 per million tokens in / out)" for a priced Claude model; "" otherwise (a
    local model costs nothing; a Claude model without a price says so)."""
    if not who.startswith("Claude "):
        return ""
    if price is None:
        return " (no price known: [prices] in the config adds one)"
    return f" (${price[0]:g} / ${price[1]:g} per million tokens in / out)"


def main_commands(screen: MainScreen) -> list[SystemCommand]:
    """What the palette offers on the main screen, beside Textual's own commands."""
    settings, client = screen.atlas.settings, screen.atlas.client
    sessions = screen.sessions
    default = settings.route()[1]
    current = screen.conversation.session.model or default
    prices = settings.prices
    models = [
        SystemCommand(
            f"Model: {model}",
            f"Answer this session's questions with {who}{price_note(prices.get(model), who)}"
            + (" (current)" if model == current else ""),
            partial(sessions.set_model, "" if model == default else model),
        )
        for model, who in client.model_choices()
    ]
    mode = screen.conversation.retrieval.mode
    modes = [
        SystemCommand(
            f"Retrieval mode: {name}",
            MODES[name] + (" (current)" if name == mode else ""),
            partial(screen.set_mode, name),
        )
        for name in SEARCH_MODES
    ]
    return [
        SystemCommand(
            "Sessions", "List, search, open, rename and delete sessions", sessions.browse
        ),
        SystemCommand(
            "New session", "Clear the transcript and start afresh", sessions.start_afresh
        ),
        SystemCommand("Rename session", "Give this session a title", sessions.rename),
        SystemCommand(
            "Export session",
            "Write this session as Markdown (questions, answers, cited sources)",
            partial(sessions.export, "md"),
        ),
        SystemCommand(
            "Export session as JSON",
            "Write everything about this session as JSON",
            partial(sessions.export, "json"),
        ),
        *models,
        SystemCommand(
            "System prompt",
            "Edit this session's instructions to Claude (several lines)",
            sessions.edit_system_prompt,
        ),
        SystemCommand(
            "Temperature",
            "This session's sampling temperature, 0 to 1 (lower is steadier)",
            sessions.set_temperature,
        ),
        SystemCommand(
            "Answer length",
            "The longest answer this session's model may give, in tokens",
            sessions.set_answer_length,
        ),
        SystemCommand("Find in transcript", "Search the answers (ctrl+f)", screen.action_find),
        SystemCommand(
            "Earlier answer",
            "Show the previous answer of a regenerated question (alt+left)",
            partial(screen.action_step_answer, -1),
        ),
        SystemCommand("Ingest a folder", "Add files to the index", screen.action_ingest),
        SystemCommand(
            "Ingest the demo corpus",
            "Index the bundled demo documents",
            screen.query_one(IngestBar).start_demo,
        ),
        *modes,
        SystemCommand(
            "Source filter", "Only search sources matching a glob", screen.action_source_filter
        ),
        SystemCommand(
            "Toggle documents pane",
            "Show or hide the documents",
            screen.action_toggle_documents,
        ),
        SystemCommand(
            "Copy answer", "Copy the last answer with its sources", screen.action_copy_answer
        ),
        SystemCommand(
            "Save answer to a file",
            "Write the answer and its sources as Markdown",
            screen.action_save_answer,
        ),
        SystemCommand("Regenerate", "Answer the last question again", screen.action_regenerate),
    ]
