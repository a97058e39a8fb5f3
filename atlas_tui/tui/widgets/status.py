"""The status line: answerer and model, retrieval mode, filter, the session's usage (tokens in
and out, cost where the model's price is known), index size, and the last answer's speed.

A short notice ("Exported: PATH", "New session…") is said here for a few seconds instead of in a
toast, so nothing is drawn over the panes (`flash`)."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
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
    notice: reactive[str] = reactive("")  # a short notice, over the rest for a few seconds
    _notice_timer: Timer | None = None

    def flash(self, text: str, seconds: float, *, warning: bool = False) -> bool:
        """Say `text` here for `seconds`; False (nothing said) when it does not fit on one line."""
        if "\n" in text or len(text) > self.size.width - 2:
            return False
        if self._notice_timer is not None:
            self._notice_timer.stop()
        self.set_class(warning, "-warning")
        self.notice = text
        self._notice_timer = self.set_timer(seconds, self.unflash)
        return True

    def unflash(self) -> None:
        """The status again, the notice gone."""
        self.notice = ""

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
        if self.notice:
            text.append(" " + terminal_safe(self.notice), style="bold")
            return text
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
