"""The status line: answerer and model, retrieval mode, filter, the session's usage (tokens in
and out, cost where the model's price is known), index size, and the last answer's speed."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from atlas_tui.query import Timings
from atlas_tui.safety import terminal_safe


class StatusLine(Static):
    state: reactive[str] = reactive("warming up…")
    index: reactive[str] = reactive("index: …")
    answerer: reactive[str] = reactive("answerer: …")
    mode: reactive[str] = reactive("hybrid")
    source: reactive[str] = reactive("")
    speed: reactive[str] = reactive("")
    model: reactive[str] = reactive("")  # the session's chosen model, when one is chosen
    route: reactive[str] = reactive("")  # who answers that model: "local qwen3 via Ollama"
    usage: reactive[str] = reactive("")

    def show_timings(self, timings: Timings) -> None:
        """The last answer's speed: time to first token, and tokens a second when measured."""
        speed = []
        if timings.first_token_ms is not None:
            speed.append(f"first token {timings.first_token_ms / 1000:.2f} s")
        if timings.tokens_per_s is not None:
            speed.append(f"{timings.tokens_per_s:.0f} tok/s")
        self.speed = "  ".join(speed)

    def render(self) -> Text:
        """Most needed first, as a narrow terminal cuts from the right: who answers and how
        documents are found, then the session's usage, the index, and the last answer's speed.
        Its parts come from the config, the sessions database and servers: the line is cleaned
        as a whole before it is drawn."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.state:
            text.append(f" {terminal_safe(self.state)} ", style="reverse")
            text.append("  ")
        model, route = self.model, self.route
        if model and route and route != "offline extractive":
            parts = [route]  # who answers the session's model replaces the default
        elif model and self.answerer.startswith("Claude "):
            parts = [f"Claude {model}"]
        else:
            parts = [self.answerer]
            if model:
                offline = " (unused offline)" if self.answerer == "offline extractive" else ""
                parts[0] += f"  │  model: {model}{offline}"
        parts.append(f"mode: {self.mode}")
        if self.source:
            parts.append(f"source: {self.source}")
        if self.usage:
            parts.append(self.usage)
        parts.append(self.index)
        if self.speed:
            parts.append(self.speed)
        text.append(terminal_safe("  │  ".join(parts)))
        return text
