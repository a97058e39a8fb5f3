"""The status line: index size, answerer and model, retrieval mode, filter, the last answer's
speed, and the session's usage (tokens in and out, cost where the model's price is known)."""

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
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.state:
            text.append(f" {terminal_safe(self.state)} ", style="reverse")
            text.append("  ")
        text.append(terminal_safe(self.index))
        model, route = terminal_safe(self.model), terminal_safe(self.route)
        if model and route and route != "offline extractive":
            text.append(f"  │  {route}")  # the session's model replaces the default
        elif model and self.answerer.startswith("Claude "):
            text.append(f"  │  Claude {model}")
        else:
            text.append("  │  " + terminal_safe(self.answerer))
            if model:
                offline = " (unused offline)" if self.answerer == "offline extractive" else ""
                text.append(f"  │  model: {model}{offline}")
        text.append(f"  │  mode: {self.mode}")
        if self.source:
            text.append(f"  │  source: {terminal_safe(self.source)}")
        if self.usage:  # before the speed: on a narrow terminal the speed is cut first
            text.append("  │  " + self.usage)
        if self.speed:
            text.append("  │  " + self.speed)
        return text
