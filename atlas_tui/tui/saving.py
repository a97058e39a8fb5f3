"""Getting text out of the app: copying a turn (system clipboard tool, else OSC 52), saving an
answer, a session export or a screenshot to a path the user confirms (a failure says why)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from textual import work

from atlas_tui.config import user_data_dir
from atlas_tui.errors import AtlasError
from atlas_tui.tui.clipboard import copy_text, system_copy
from atlas_tui.tui.keeper import SessionKeeper
from atlas_tui.tui.navigation import NavigationMixin
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.turns import TurnRecord


def documents_dir() -> Path:
    """Where files the user asks for go: ~/Documents when it exists, else the data dir."""
    documents = Path.home() / "Documents"
    return documents if documents.is_dir() else user_data_dir()


class SavingMixin(NavigationMixin):
    """The copying and saving part of AtlasApp."""

    keeper: SessionKeeper
    turns: list[TurnRecord]

    def action_copy_answer(self) -> None:
        """Copy the turn selected in the transcript, else the last one, with its cited sources."""
        record = self.selected_record() or (self.turns[-1] if self.turns else None)
        if record is None:
            self.notify("No answer to copy yet.")
            return
        text = copy_text(record)
        self.copy_to_clipboard(text)  # OSC 52, and the app's own clipboard
        self._copy_to_system(text, self._turn_number(record.turn_id))

    @work(thread=True, exit_on_error=False, group="clipboard")
    def _copy_to_system(self, text: str, number: int) -> None:
        copied = system_copy(text)
        what = f"turn {number}" if number != len(self.turns) else "the answer"
        if copied.tool:
            message = f"Copied {what} and its cited sources (with {copied.tool})."
            self.call_from_thread(self.notify, message, markup=False)
            return
        message = (
            f"Copied {what} by OSC 52 only ({copied.problem or 'no clipboard tool found'}): "
            "it may not arrive (e.g. tmux without set-clipboard). Or: ctrl+p, Save answer."
        )
        self.call_from_thread(self.notify, message, severity="warning", markup=False)

    def action_save_answer(self) -> None:
        record = self.selected_record() or (self.turns[-1] if self.turns else None)
        if record is None:
            self.notify("No answer to save yet.")
            return
        text = copy_text(record)
        number = self._turn_number(record.turn_id)
        name = f"atlas-answer-{self.keeper.session_id or 'unsaved'}-{number}.md"

        def write(path: Path) -> None:
            path.write_text(text, encoding="utf-8")

        self.ask_path("Save the answer (Markdown) to:", documents_dir() / name, write, "Saved")

    def ask_path(
        self, question: str, default: Path, write: Callable[[Path], object], done: str
    ) -> None:
        """Prompt for a file path (with `default`), then `write(path)`; a failure says why."""

        def chosen(value: str | None) -> None:
            if not value:
                return
            path = Path(value).expanduser()
            try:
                if path.is_dir():
                    path = path / default.name
                path.parent.mkdir(parents=True, exist_ok=True)
                write(path)
            except OSError as error:
                self.notify(
                    f"Cannot write {path}: {error.strerror or error}",
                    severity="error",
                    markup=False,
                )
                return
            except AtlasError as error:
                self.notify(error.describe(), severity="error", markup=False)
                return
            self.notify(f"{done}: {path}", markup=False)

        self.push_screen(PromptScreen(question, str(default), allow_empty=False), chosen)

    def action_screenshot_to(self) -> None:
        name = "atlas-tui-screenshot.svg"

        def write(path: Path) -> None:
            path.write_text(self.export_screenshot(), encoding="utf-8")

        self.ask_path(
            "Save an SVG screenshot to:", documents_dir() / name, write, "Screenshot saved"
        )
