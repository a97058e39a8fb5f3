"""Edit the research session's own system prompt: several lines of instructions sent to Claude
with every question of the session (after atlas-tui's rules on citing and on documents)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Static, TextArea


class SystemPromptScreen(ModalScreen[str | None]):
    """ctrl+s saves the text (empty clears it); Escape leaves it unchanged (None)."""

    DEFAULT_CSS = """
    SystemPromptScreen { align: center middle; }
    SystemPromptScreen #system-prompt-box { width: 90%; max-width: 100; height: auto; }
    SystemPromptScreen #system-prompt { height: 12; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", id="system_prompt.save", priority=True),
        Binding("escape", "dismiss(None)", "Cancel", id="system_prompt.cancel"),
    ]

    def __init__(self, value: str, *, offline: bool) -> None:
        super().__init__()
        self.value = value
        self.offline = offline

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="system-prompt-box"):
            yield Static(
                Text("System prompt for this session (sent to Claude with every question):"),
                classes="dialog-text",
            )
            yield TextArea(self.value, id="system-prompt", soft_wrap=True, tab_behavior="focus")
            note = "ctrl+s saves (empty clears it) · Escape cancels"
            if self.offline:
                note += "\nOffline answers quote the documents and ignore this prompt."
            yield Static(Text(note), classes="dialog-help", id="system-prompt-help")
        yield Footer()

    def on_mount(self) -> None:
        area = self.query_one(TextArea)
        self.set_focus(area)
        area.move_cursor(area.document.end)

    def action_save(self) -> None:
        self.dismiss(self.query_one(TextArea).text.strip())
