"""Research sessions in the app: reopen, resume, start afresh, rename and export.

The transcript on screen is the session's turns: reopening one restores each question, its answer
(as Markdown, citations linked), how it ended, and the last turn's documents in the pane.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from textual.app import SystemCommand

from atlas_tui.errors import AtlasError
from atlas_tui.sessions import Session
from atlas_tui.tui.answering import AnsweringMixin
from atlas_tui.tui.messages import SessionChanged, SessionProblem
from atlas_tui.tui.saving import SavingMixin, documents_dir
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.state import UIState
from atlas_tui.tui.turns import record_from_stored, stored_note
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.transcript import Transcript, TurnView


class SessionViewMixin(AnsweringMixin, SavingMixin):
    """The session part of AtlasApp (which creates `self.keeper` before mounting)."""

    ui_state: UIState

    def _session_error(self, error: AtlasError, title: str = "Sessions") -> None:
        self.notify(error.describe(), title=title, severity="error", markup=False)

    async def _reopen(self, resume: str | None, new_session: bool) -> None:
        """On start: the session asked for, else the last one (unless a new one is wanted)."""
        if not self.keeper.saving:
            self.notify(
                f"Research sessions are not saved in this run: {self.keeper.problem}",
                title="Sessions",
                severity="warning",
                timeout=20,
                markup=False,
            )
            return
        if resume:
            await self._resume(resume)
        elif self.settings.reopen_last_session and not new_session:
            await self._reopen_last_used()

    async def _reopen_last_used(self) -> None:
        """The session last used in the TUI (not one `ask` recorded since), said in the title."""
        last = self.ui_state.last_session
        if not last:
            return
        session = self._open(last, quiet_if_missing=True)
        if session is None:
            self.ui_state.remember_session(None)  # deleted or unreadable: start afresh
            return
        await self._show_session(session)
        self.query_one(Transcript).border_subtitle = "Reopened · ctrl+l for others"

    def _open(self, ref: str, *, quiet_if_missing: bool = False) -> Session | None:
        """The session `ref` made current, or None after saying why it cannot be opened."""
        try:
            session = self.keeper.open_session(ref)
        except AtlasError as error:
            if not (quiet_if_missing and "no session" in error.message):
                self._session_error(error)
            return None
        except (TypeError, ValueError, AttributeError) as error:
            # valid JSON of the wrong shape in a stored turn: say so, never crash on every start
            self._session_error(
                AtlasError(
                    f"Session {ref!r} cannot be read ({type(error).__name__}: {error}).",
                    hint="A new session was started; `atlas-tui export` may recover the rest.",
                )
            )
            return None
        if session is None:
            self.notify("There is no research session yet.", title="Sessions")
        return session

    async def _resume(self, ref: str) -> None:
        session = self._open(ref)
        if session is None:
            return
        await self._show_session(session)
        count = len(session.turns)
        self.notify(
            f"Resumed “{self.keeper.title}” ({count} turn{'' if count == 1 else 's'}).",
            title="Sessions",
            markup=False,
        )

    async def _show_session(self, session: Session) -> None:
        self._cancel_run()
        self.turns.clear()
        views = []
        for stored in session.turns:
            record = record_from_stored(stored, self._next_turn)
            self._next_turn += 1
            self.turns.append(record)
            views.append(TurnView(record, stored_note(record)))
        self._selected_turn, self._citation = None, None
        pane = self.query_one(DocumentsPane)  # first: the pane is filled when the turns show
        if self.turns:
            last = self.turns[-1]
            pane.show(last.turn_id, last.documents, last.cited)
        else:
            pane.show(0, (), set())
        self._show_title()
        self.label_documents()
        await self.query_one(Transcript).restore(views)

    def _show_title(self) -> None:
        transcript = self.query_one(Transcript)
        transcript.show_title(self.keeper.title)
        transcript.border_subtitle = ""
        self.ui_state.remember_session(self.keeper.session_id)

    def on_session_changed(self, message: SessionChanged) -> None:
        self._show_title()

    def on_session_problem(self, message: SessionProblem) -> None:
        self.notify(message.text, title="Sessions", severity="warning", timeout=15, markup=False)

    # --- actions ---------------------------------------------------------------------------------

    async def action_new_session(self) -> None:
        """Start afresh: the next question starts a new stored session."""
        await self._new_session("New session: your next question starts it.")

    async def _new_session(self, note: str) -> None:
        self._cancel_run()
        self.keeper.start_new()
        self.turns.clear()
        await self.query_one(Transcript).clear_turns()
        self.query_one(DocumentsPane).show(0, (), set())
        self._show_title()
        self.label_documents()
        self.screen.set_focus(self.query_one(QueryBox))  # before the next keys
        self.notify(note, markup=False)

    def action_sessions(self) -> None:
        if self.keeper.store is None:
            self.notify(
                f"Research sessions are not saved in this run: {self.keeper.problem}",
                title="Sessions",
                severity="warning",
                markup=False,
            )
            return
        self.push_screen(SessionsScreen(self.keeper.store), self._session_chosen)

    async def _session_chosen(self, session_id: str | None) -> None:
        if session_id is not None and session_id != self.keeper.session_id:
            await self._resume(session_id)
            return
        try:  # the list may have renamed or deleted the session on screen
            if not self.keeper.current_exists():
                await self._new_session("The session on screen was deleted; this is a new one.")
                return
            self.keeper.refresh_title()
        except AtlasError as error:
            self._session_error(error)
        self._show_title()

    def action_rename_session(self) -> None:
        if self.keeper.session_id is None:
            self.notify("There is no session to rename yet: ask a question to start one.")
            return

        def renamed(title: str | None) -> None:
            if not title:
                return
            try:
                self.keeper.rename(title)
            except AtlasError as error:
                self._session_error(error, "Rename")
                return
            self._show_title()

        self.push_screen(
            PromptScreen("Rename the session:", self.keeper.title, allow_empty=False), renamed
        )

    def action_export(self, fmt: str = "md") -> None:
        """Write the session as Markdown or JSON to a path the user confirms."""
        if self.keeper.session_id is None:
            self.notify("Nothing to export yet: ask a question to start a session.")
            return
        default = documents_dir() / self.keeper.export_name(fmt)
        self.ask_path(
            f"Export the session ({fmt.upper()}) to:",
            default,
            partial(self.keeper.export_to, fmt),
            "Exported",
        )

    def session_commands(self) -> Iterable[SystemCommand]:
        yield SystemCommand(
            "Sessions", "List, search, open, rename and delete sessions", self.action_sessions
        )
        yield SystemCommand(
            "New session", "Clear the transcript and start afresh", self.action_new_session
        )
        yield SystemCommand(
            "Rename session", "Give this session a title", self.action_rename_session
        )
        yield SystemCommand(
            "Export session",
            "Write this session as Markdown (questions, answers, cited sources)",
            partial(self.action_export, "md"),
        )
        yield SystemCommand(
            "Export session as JSON",
            "Write everything about this session as JSON",
            partial(self.action_export, "json"),
        )
