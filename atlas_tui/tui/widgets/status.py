"""The status line: answerer and model, retrieval mode (and research mode, when on), filter, a
research run's rounds, tokens and cost so far, the session's usage (tokens in and out, cost where
the model's price is known), index size, and the last answer's speed.

A short notice ("Exported: PATH", "New session…") is said here for a few seconds instead of in a
toast, so nothing is drawn over the panes (`flash`)."""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from atlas_tui.query import Timings
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.notices import short_index


class StatusLine(Static):
    state: reactive[str] = reactive("warming up…")
    index: reactive[str] = reactive("index: …")
    answerer: reactive[str] = reactive("answerer: …")
    mode: reactive[str] = reactive("hybrid")
    source: reactive[str] = reactive("")
    research: reactive[bool] = reactive(False)  # the session's research toggle
    progress: reactive[str] = reactive("")  # a research run's rounds, tokens and cost so far
    speed: reactive[str] = reactive("")
    model: reactive[str] = reactive("")  # the session's chosen model, when one is chosen
    route: reactive[str] = reactive("")  # who answers that model: "local qwen3 via Ollama"
    usage: reactive[str] = reactive("")
    sampling: reactive[str] = reactive("")  # the session's own temperature and answer length
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

    def parts(self) -> list[str]:
        """The line's items, most needed first (a narrow terminal loses them from the right):
        who answers and how documents are found, the session's usage, the index, the last
        answer's speed; while an ingest runs, the index first (embedded vs all, as it grows).
        They come from the config, the sessions database and servers: cleaned."""
        model, route = self.model, self.route
        if model and route and route != "offline extractive":
            parts = [route]  # who answers the session's model replaces the default
        elif model and self.answerer.startswith("Claude "):
            parts = [f"Claude {model}"]
        else:
            parts = [self.answerer]
            if model:
                offline = " (unused offline)" if self.answerer == "offline extractive" else ""
                parts.append(f"model: {model}{offline}")
        if self.sampling:
            parts.append(self.sampling)
        if self.progress:  # a research run's: before the rest, so 80 columns still show it
            parts.append(self.progress)
        parts.append(f"mode: {self.mode}" + (" · research" if self.research else ""))
        if self.source:
            parts.append(f"source: {self.source}")
        if self.usage:
            parts.append(self.usage)
        if self.state.startswith("ingesting"):
            parts.insert(0, short_index(self.index))
        else:
            parts.append(self.index)
        if self.speed:
            parts.append(self.speed)
        return [terminal_safe(part) for part in parts]

    def render(self) -> Text:
        """The notice being said, else the ingest's state and as many whole items as fit."""
        text = Text(no_wrap=True, overflow="ellipsis")
        if self.notice:
            text.append(" " + terminal_safe(self.notice), style="bold")
            return text
        if self.state:
            text.append(f" {terminal_safe(self.state)} ", style="reverse")
            text.append("  ")
        room = self.size.width - text.cell_len if self.size.width else None
        # beside an ingest's progress, a count cut mid-number ("index: 317") would mislead
        text.append(fitted(self.parts(), room, whole=self.state.startswith("ingesting")))
        return text


def fitted(
    parts: list[str], room: int | None, separator: str = "  │  ", *, whole: bool = False
) -> str:
    """As many whole parts as `room` cells hold, then … for the rest (never a part cut). When
    not even the first fits, it is shown cut by the edge, unless `whole`: then only "…"."""
    line = separator.join(parts)
    if room is None or cell_len(line) <= room:
        return line
    kept: list[str] = []
    for part in parts:
        if cell_len(separator.join([*kept, part]) + " …") > room:
            break
        kept.append(part)
    if kept:
        return separator.join(kept) + " …"
    return "…" if whole else parts[0]
