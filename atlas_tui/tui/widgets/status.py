"""The status line: answerer and model, retrieval mode, filter, the session's usage (tokens in
and out, cost where the model's price is known), index size, and the last answer's speed."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

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

    def render(self) -> Text:
        """Most needed first, as a narrow terminal cuts from the right: who answers and how
        documents are found, then the session's usage, the index, and the last answer's speed."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.state:
            text.append(f" {terminal_safe(self.state)} ", style="reverse")
            text.append("  ")
        model, route = terminal_safe(self.model), terminal_safe(self.route)
        if model and route and route != "offline extractive":
            text.append(route)  # who answers the session's model replaces the default
        elif model and self.answerer.startswith("Claude "):
            text.append(f"Claude {model}")
        else:
            text.append(terminal_safe(self.answerer))
            if model:
                offline = " (unused offline)" if self.answerer == "offline extractive" else ""
                text.append(f"  │  model: {model}{offline}")
        text.append(f"  │  mode: {self.mode}")
        if self.source:
            text.append(f"  │  source: {terminal_safe(self.source)}")
        if self.usage:
            text.append("  │  " + self.usage)
        text.append("  │  " + terminal_safe(self.index))
        if self.speed:
            text.append("  │  " + self.speed)
        return text
