"""The research session on the main screen: reopened at start (or the one asked for), resumed
from the sessions screen, started afresh, renamed and exported; its model and system prompt.

`SessionView` acts on its screen's public parts (the conversation, the transcript, the documents
pane, the status line): the screen's keys and palette commands call it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from atlas_tui.config import OFFLINE_LABEL
from atlas_tui.conversation import Conversation
from atlas_tui.errors import AtlasError
from atlas_tui.sessions import Session
from atlas_tui.sessions.export import sampling_text
from atlas_tui.tui.saving import ask_path, documents_dir
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.screens.sessions import SessionsScreen
from atlas_tui.tui.screens.system_prompt import SystemPromptScreen

if TYPE_CHECKING:
    from atlas_tui.tui.main_screen import MainScreen


class SessionView:
    def __init__(self, screen: MainScreen) -> None:
        self.screen = screen
        self.notify = screen.notify

    @property
    def conversation(self) -> Conversation:
        return self.screen.conversation

    def error(self, error: AtlasError, title: str = "Sessions") -> None:
        self.notify(error.describe(), title=title, severity="error", markup=False)

    def not_saved(self, timeout: float | None = None) -> None:
        self.notify(
            f"Research sessions are not saved in this run: {self.conversation.problem}",
            title="Sessions",
            severity="warning",
            timeout=timeout,
            markup=False,
        )

    async def reopen(self, resume: str | None, new_session: bool) -> None:
        """On start: the session asked for, else the last one (unless a new one is wanted)."""
        if not self.conversation.saving:
            self.not_saved(timeout=20)
            return
        if resume:
            await self._resume(resume)
        elif self.screen.atlas.settings.reopen_last_session and not new_session:
            await self._reopen_last_used()

    async def _reopen_last_used(self) -> None:
        """The session last used in the TUI (not one `ask` recorded since), said in the title."""
        state = self.screen.atlas.ui_state
        if not state.last_session:
            return
        session = self._open(state.last_session, quiet_if_missing=True)
        if session is None:
            state.remember_session(None)  # deleted or unreadable: start afresh
            return
        await self._show_session()
        self.screen.transcript.border_subtitle = "Reopened · ctrl+l for others"

    def _open(self, ref: str, *, quiet_if_missing: bool = False) -> Session | None:
        """The session `ref` put on screen, or None after saying why it cannot be opened."""
        try:
            session = self.conversation.open_session(ref)
        except AtlasError as error:
            if not (quiet_if_missing and "no session" in error.message):
                self.error(error)
            return None
        except (TypeError, ValueError, AttributeError) as error:
            # valid JSON of the wrong shape in a stored turn: say so, never crash on every start
            self.error(
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
        await self._show_session()
        count = len(session.turns)
        self.notify(
            f"Resumed “{self.conversation.session.title}” "
            f"({count} turn{'' if count == 1 else 's'}).",
            title="Sessions",
            markup=False,
        )

    async def _show_session(self) -> None:
        """The conversation's session on screen: its turns, the last turn's documents."""
        conversation = self.conversation
        self.screen.status.speed = ""  # the last answer's speed was another session's
        turns = conversation.turns
        if turns:  # first: the pane is filled when the turns show
            self.screen.documents.show(turns[-1].id, turns[-1].documents, turns[-1].cited)
        else:
            self.screen.documents.show(0, (), set())
        self.show_title()
        self.screen.label_documents()
        await self.screen.transcript.restore(turns, conversation.session.token)

    def show_title(self) -> None:
        """The transcript names the session; the status line its model and usage."""
        session = self.conversation.session
        self.screen.transcript.show_title(session.title)
        self.screen.transcript.border_subtitle = ""
        self.screen.atlas.ui_state.remember_session(session.id)
        self.show_options()

    def show_options(self) -> None:
        """The status line names the session's model and its usage so far."""
        model = self.conversation.session.model
        status = self.screen.status
        status.model = model
        status.route = self.screen.atlas.client.label_for(model or None) if model else ""
        status.usage = self.conversation.usage()
        session = self.conversation.session
        status.sampling = sampling_text(session.temperature, session.max_tokens)

    async def start_afresh(self) -> None:
        """Start afresh: the next question starts a new stored session."""
        await self.new_session("New session: your next question starts it.")

    async def new_session(self, note: str) -> None:
        self.conversation.new_session()
        self.screen.status.speed = ""  # the last answer's speed was another session's
        await self.screen.transcript.clear_turns()
        self.screen.documents.show(0, (), set())
        self.show_title()
        self.screen.label_documents()
        self.screen.action_focus_query()  # before the next keys
        self.notify(note, markup=False)

    def browse(self) -> None:
        try:
            library = self.conversation.library()
        except AtlasError:
            self.not_saved()
            return
        self.screen.app.push_screen(SessionsScreen(library), self._chosen)

    async def _chosen(self, session_id: str | None) -> None:
        conversation = self.conversation
        if session_id is not None and session_id != conversation.session.id:
            await self._resume(session_id)
            return
        try:  # the list may have renamed or deleted the session on screen
            if not conversation.current_exists():
                await self.new_session("The session on screen was deleted; this is a new one.")
                return
            conversation.refresh_title()
        except AtlasError as error:
            self.error(error)
        self.show_title()

    def rename(self) -> None:
        conversation = self.conversation
        if conversation.session.id is None:
            self.notify("There is no session to rename yet: ask a question to start one.")
            return

        def renamed(title: str | None) -> None:
            if not title:
                return
            try:
                conversation.rename(title)
            except AtlasError as error:
                self.error(error, "Rename")
                return
            self.show_title()

        self.screen.app.push_screen(
            PromptScreen("Rename the session:", conversation.session.title, allow_empty=False),
            renamed,
        )

    def export(self, fmt: str = "md") -> None:
        """Write the session as Markdown or JSON to a path the user confirms."""
        conversation = self.conversation
        if conversation.session.id is None:
            self.notify("Nothing to export yet: ask a question to start a session.")
            return
        default = documents_dir() / conversation.export_name(fmt)
        write = partial(conversation.export_to, fmt)
        ask_path(
            self.screen.app, f"Export the session ({fmt.upper()}) to:", default, write, "Exported"
        )

    # --- the session's model and system prompt ---------------------------------------------------

    def set_model(self, model: str) -> None:
        try:
            self.conversation.set_options(model=model)
        except AtlasError as error:
            self.notify(error.describe(), title="Model", severity="error", markup=False)
            return
        self.show_options()
        who = self.screen.atlas.client.label_for(model or None)
        chosen = f"{model} ({who})" if model else f"the configured default ({who})"
        offline = (
            " Offline answers ignore it: set ANTHROPIC_API_KEY."
            if who == OFFLINE_LABEL and model
            else ""
        )
        self.notify(f"Model for this session: {chosen}.{offline}", title="Model", markup=False)

    def set_temperature(self) -> None:
        """Ask for the session's temperature (0 to 1; empty: the model's default)."""
        session = self.conversation.session

        def chosen(value: str | None) -> None:
            if value is not None:
                self._set_sampling(float(value) if value else None, session.max_tokens)

        shown = "" if session.temperature is None else f"{session.temperature:g}"
        self.screen.app.push_screen(
            PromptScreen(
                "Temperature for this session's answers (0 to 1, lower is steadier; "
                "empty: the model's default):",
                shown,
                "0.3",
                check=temperature_problem,
            ),
            chosen,
        )

    def set_answer_length(self) -> None:
        """Ask for the session's answer length cap, in tokens (empty: the configured one)."""
        session = self.conversation.session
        configured = self.screen.atlas.settings.max_answer_tokens

        def chosen(value: str | None) -> None:
            if value is not None:
                self._set_sampling(session.temperature, int(value) if value else None)

        self.screen.app.push_screen(
            PromptScreen(
                f"Longest answer for this session, in tokens (empty: {configured:,}, the "
                "configured max_answer_tokens):",
                "" if session.max_tokens is None else str(session.max_tokens),
                str(configured),
                check=length_problem,
            ),
            chosen,
        )

    def _set_sampling(self, temperature: float | None, max_tokens: int | None) -> None:
        try:
            self.conversation.set_sampling(temperature=temperature, max_tokens=max_tokens)
        except AtlasError as error:
            self.notify(error.describe(), title="Answers", severity="error", markup=False)
            return
        self.show_options()
        said = sampling_text(temperature, max_tokens) or "the defaults"
        model = self.conversation.session.model
        who = self.screen.atlas.client.label_for(model or None)
        if self._offline:
            said += " (offline answers ignore them)"
        elif temperature is not None and who.startswith("Claude "):
            said += " (Claude's API takes no temperature: local models use it)"
        self.notify(f"This session's answers: {said}.", title="Answers", markup=False)

    @property
    def _offline(self) -> bool:
        model = self.conversation.session.model
        return self.screen.atlas.client.label_for(model or None) == OFFLINE_LABEL

    def edit_system_prompt(self) -> None:
        def saved(text: str | None) -> None:
            if text is None:
                return
            try:
                self.conversation.set_options(system_prompt=text)
            except AtlasError as error:
                self.notify(error.describe(), title="System prompt", severity="error")
                return
            what = "saved for this session" if text else "cleared"
            offline = " (offline answers ignore it)" if self._offline else ""
            self.notify(f"System prompt {what}{offline}.", title="System prompt")

        prompt = self.conversation.session.system_prompt
        self.screen.app.push_screen(SystemPromptScreen(prompt, offline=self._offline), saved)


MAX_ANSWER_TOKENS = 1_000_000  # as the config's max_answer_tokens allows


def temperature_problem(text: str) -> str | None:
    """Why `text` is not a temperature (a number from 0 to 1, or empty), else None."""
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    return None if 0 <= value <= 1 else f"The temperature must be a number from 0 to 1: {text!r}."


def length_problem(text: str) -> str | None:
    """Why `text` is not an answer length (a whole number of tokens, or empty), else None."""
    if not text:
        return None
    if text.isdigit() and 1 <= int(text) <= MAX_ANSWER_TOKENS:
        return None
    return (
        f"The answer length must be a whole number of tokens, 1 to {MAX_ANSWER_TOKENS:,}: {text!r}."
    )
