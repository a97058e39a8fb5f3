"""Small modal dialogs: a yes/no question and a one-line text prompt (the app's only two)."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """A question with two buttons; y / n (and Escape for no) answer it from the keyboard.

    `danger` marks the yes button as destructive and focuses no, so a stray Enter keeps things.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", show=False),
        Binding("n,escape", "answer(False)", "No", id="confirm.cancel"),
    ]

    def __init__(
        self, question: str | Text, yes: str = "Yes", no: str = "No", *, danger: bool = False
    ) -> None:
        super().__init__()
        self.question, self.yes, self.no, self.danger = question, yes, no, danger

    def compose(self) -> ComposeResult:
        question = self.question if isinstance(self.question, Text) else Text(self.question)
        with Vertical(classes="dialog"):
            yield Static(question, classes="dialog-text")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes, variant="error" if self.danger else "primary", id="yes")
                yield Button(self.no, id="no")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#no" if self.danger else "#yes"))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one line of text; Enter accepts, Esc cancels (None).

    With `allow_empty=False` an empty answer is refused with a note instead of accepted; `check`
    (the answer -> why it is refused, or None) refuses others the same way.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "dismiss(None)", "Cancel", id="prompt.cancel")
    ]

    def __init__(
        self,
        question: str,
        value: str = "",
        placeholder: str = "",
        *,
        allow_empty: bool = True,
        check: Callable[[str], str | None] = lambda value: None,
    ) -> None:
        super().__init__()
        self.question, self.value, self.placeholder = question, value, placeholder
        self.allow_empty = allow_empty
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question), classes="dialog-text")
            yield Input(value=self.value, placeholder=self.placeholder)
            yield Static(Text("Enter accepts · Escape cancels"), classes="dialog-help")

    def on_mount(self) -> None:
        self.set_focus(self.query_one(Input))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        value = event.value.strip()
        if not (value or self.allow_empty):
            self.notify("Type something, or press Escape to cancel.", severity="warning")
        elif (refused := self.check(value)) is not None:
            self.notify(refused, severity="warning", markup=False)
        else:
            self.dismiss(value)
