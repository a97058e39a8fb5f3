"""What peers' chat apps give their users, as AtlasApp's actions: step through a question's
answers (alt+left / alt+right), pick the session's model (Claude's or an endpoint's), edit the
session's system prompt, find in the transcript (ctrl+f), and open a passage in $EDITOR (e, in the
documents pane and the preview).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from textual import on
from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from atlas_tui.config import OFFLINE_LABEL
from atlas_tui.errors import AtlasError
from atlas_tui.tui.editor import EditRequested, open_in_editor
from atlas_tui.tui.screens.system_prompt import SystemPromptScreen
from atlas_tui.tui.session_view import SessionViewMixin
from atlas_tui.tui.turns import TurnRecord, session_usage, stored_note
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.find_bar import FindBar
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript, TurnView


class PeersMixin(SessionViewMixin):
    """Mixed into AtlasApp: the session view with these actions on top."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+f", "find", "Find", id="find", show=False),  # F1 and the palette list it
        Binding("alt+left", "step_answer(-1)", "Earlier answer", id="previous_answer", show=False),
        Binding("alt+right", "step_answer(1)", "Later answer", id="next_answer", show=False),
    ]

    # --- a question's answers ------------------------------------------------------------------

    def _stepping_target(self) -> TurnRecord | None:
        """The turn whose answers to step through: the one holding focus, else the last one
        answered more than once."""
        focused = self.focused
        if focused is not None:
            for node in focused.ancestors_with_self:
                if isinstance(node, TurnView):
                    return self._record(node.record.turn_id)
        return next((t for t in reversed(self.turns) if len(t.answers) > 1), None)

    async def action_step_answer(self, by: int) -> None:
        record = self._stepping_target()
        if record is None or len(record.answers) < 2:
            self.notify("No question here has more than one answer (ctrl+r regenerates).")
            return
        if record.shown == -1:
            self.notify("Wait for the new answer to finish, or press Esc to cancel it.")
            return
        index = record.shown + by
        if not 0 <= index < len(record.answers):
            edge = "first" if index < 0 else "last"
            self.notify(f"This is the {edge} answer ({record.position}).", timeout=2)
            return
        record.show(index)
        view = self._view(record.turn_id)
        if view is not None:
            await view.show_final(record.answer)
            view.set_note(*stored_note(record))
        pane = self.query_one(DocumentsPane)
        if pane.turn_id == record.turn_id:
            pane.show(record.turn_id, record.documents, record.cited)

    # --- the session's model and system prompt -------------------------------------------------

    def _show_title(self) -> None:
        """(with the session's title) the status line shows its model and usage."""
        super()._show_title()
        self.show_session_options()

    def show_session_options(self) -> None:
        """The status line names the session's model and its usage so far."""
        status = self.query_one(StatusLine)
        status.model = self.keeper.model
        status.route = self.client.label_for(self.keeper.model or None) if self.keeper.model else ""
        status.usage = session_usage(self.turns)

    def set_session_model(self, model: str) -> None:
        try:
            self.keeper.set_options(model=model)
        except AtlasError as error:
            self.notify(error.describe(), title="Model", severity="error", markup=False)
            return
        self.show_session_options()
        who = self.client.label_for(model or None)
        chosen = f"{model} ({who})" if model else f"the configured default ({who})"
        offline = (
            " Offline answers ignore it: set ANTHROPIC_API_KEY."
            if who == OFFLINE_LABEL and model
            else ""
        )
        self.notify(f"Model for this session: {chosen}.{offline}", title="Model", markup=False)

    @property
    def _offline(self) -> bool:
        return self.client.label_for(self.keeper.model or None) == OFFLINE_LABEL

    def action_edit_system_prompt(self) -> None:
        def saved(text: str | None) -> None:
            if text is None:
                return
            try:
                self.keeper.set_options(system_prompt=text)
            except AtlasError as error:
                self.notify(error.describe(), title="System prompt", severity="error")
                return
            what = "saved for this session" if text else "cleared"
            offline = " (offline answers ignore it)" if self._offline else ""
            self.notify(f"System prompt {what}{offline}.", title="System prompt")

        self.push_screen(
            SystemPromptScreen(self.keeper.system_prompt, offline=self._offline), saved
        )

    def peers_commands(self) -> Iterable[SystemCommand]:
        default = self.settings.route()[1]
        current = self.keeper.model or default
        for model, who in self.client.model_choices():
            mark = " (current)" if model == current else ""
            yield SystemCommand(
                f"Model: {model}",
                f"Answer this session's questions with {who}{mark}",
                lambda model=model: self.set_session_model("" if model == default else model),
            )
        yield SystemCommand(
            "System prompt",
            "Edit this session's instructions to Claude (several lines)",
            self.action_edit_system_prompt,
        )
        yield SystemCommand("Find in transcript", "Search the answers (ctrl+f)", self.action_find)
        yield SystemCommand(
            "Earlier answer",
            "Show the previous answer of a regenerated question (alt+left)",
            lambda: self.run_action("step_answer(-1)"),
        )

    # --- find in the transcript ----------------------------------------------------------------

    async def action_find(self) -> None:
        bars = self.query(FindBar)
        if bars:
            bar = bars.first()
        else:
            bar = FindBar(self.query_one(Transcript), id="find")
            await self.query_one("#left").mount(bar, before=self.query_one(QueryBox))
        bar.open()

    @on(FindBar.Closed)
    def _find_closed(self) -> None:
        self.query_one(Transcript).focus()

    # --- open a passage in the editor ----------------------------------------------------------

    def action_edit_passage(self) -> None:
        """(documents pane) open the highlighted passage in $EDITOR at its line."""
        pane = self.query_one(DocumentsPane)
        index = pane.highlighted
        if index is None or not 0 <= index < len(pane.documents):
            self.notify("No document is selected.")
            return
        open_in_editor(self, pane.documents[index])

    def on_edit_requested(self, message: EditRequested) -> None:
        open_in_editor(self, message.passage)
