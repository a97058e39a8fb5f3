"""AtlasApp: the application around the main screen.

The app holds what lives as long as it runs: the settings, the query client (lazy: nothing heavy is
imported on the way to the first paint, and it warms in the background), the conversation the main
screen shows, what the TUI remembers between launches, the keymap and the toasts. The main screen
(main_screen.py) composes the layout and owns its keys; every other screen (sessions, help, a
preview, a dialog) is pushed over it and owns its own keys by construction.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import ClassVar

from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.notifications import Notification, Notify, SeverityLevel
from textual.screen import Screen
from textual.widgets import Input, TextArea

from atlas_tui.config import Settings
from atlas_tui.conversation import Conversation, Retrieval
from atlas_tui.errors import AtlasError
from atlas_tui.query import AtlasQuery
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.commands import main_commands
from atlas_tui.tui.editor import EditRequested, open_in_editor
from atlas_tui.tui.keys import binding_ids, prioritise, split_keymap
from atlas_tui.tui.main_screen import MainScreen
from atlas_tui.tui.messages import ClientReady, Flash
from atlas_tui.tui.notices import index_is_empty, index_summary
from atlas_tui.tui.saving import ask_path, documents_dir
from atlas_tui.tui.state import UIState

TYPING_WINDOW_S = 0.5  # a key this recent holds back the streaming answer's next update
MAX_TOASTS = 2  # more would stack over the answer; the oldest goes first
NOTICES_KEPT = 200  # what the app said, newest last (`notices`)


class AtlasApp(App[None]):
    """A keyboard-driven research session over the local index."""

    TITLE = "atlas-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    ]

    def __init__(
        self,
        settings: Settings,
        client: AtlasQuery | None = None,
        *,
        resume: str | None = None,
        new_session: bool = False,
    ) -> None:
        """`resume`: a session id, a unique prefix of one, or "last"; `new_session`: do not
        reopen the last session."""
        super().__init__()
        self.settings = settings
        self.client = client if client is not None else AtlasQuery(settings)
        self.ui_state = UIState.load()
        self.conversation = Conversation(
            self.client, settings, retrieval=Retrieval(mode=settings.search_mode), origin="tui"
        )
        self.warmed = threading.Event()  # set once the client warmed up (well or not)
        self.notices: deque[Notification] = deque(maxlen=NOTICES_KEPT)  # every toast shown
        self.start_notes: list[str] = []  # said in one toast once the screen is up
        self._opening = (resume, new_session)
        self._last_key_at = 0.0
        self._set_start_theme(settings.theme)

    def get_default_screen(self) -> MainScreen:
        self.main = MainScreen(*self._opening)
        return self.main

    def on_mount(self) -> None:
        self._apply_keymap()
        if self.ui_state.problem:
            self.start_notes.append(self.ui_state.problem)
        if self.start_notes:  # one toast: several would push each other off the screen
            notes = "\n".join(self.start_notes)
            self.notify(notes, title="Settings", severity="warning", timeout=15, markup=False)
        self.theme_changed_signal.subscribe(self, self._theme_picked)
        self._warm()

    @work(thread=True, exit_on_error=False, group="warm")
    def _warm(self) -> None:
        """Load the embedding model and open the index; the main screen says how it went."""
        client = self.client
        try:
            answerer, extractive = client.answerer_label, client.extractive
        except AtlasError as error:
            answerer, extractive = f"answerer unavailable: {error.message}", True
        problem, summary = "", "index: ?"
        try:
            client.warm()
            stats = client.stats()
            summary = index_summary(stats)
            if index_is_empty(stats):
                problem = "The index is empty."
        except AtlasError as error:
            problem, summary = error.describe(), "index: not ready"
        except Exception as error:  # a bug or an unexpected back-end failure: show it, keep going
            self.log.error("warming failed", error)
            problem, summary = f"The index could not be opened: {error}", "index: not ready"
        finally:
            self.warmed.set()
        self.main.post_message(ClientReady(answerer, extractive, summary, problem))

    # --- keys ------------------------------------------------------------------------------------

    def _apply_keymap(self) -> None:
        known = binding_ids([MainScreen, *(widget for _, widget in MainScreen.WIDGET_KEYS)])
        unknown = sorted(set(self.settings.keys) - known)
        if unknown:
            self.start_notes.append(
                f"Unknown actions in [keys] of the config: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}."
            )
        keymap = {k: v for k, v in self.settings.keys.items() if k in known}
        self.set_keymap(keymap)
        # a rebound key also works (and is listed) while typing, unless typing needs it
        free, kept = split_keymap(keymap)
        prioritise(self.main, free)
        if kept:
            self.start_notes.append(
                f"While typing a question the query box keeps {', '.join(kept)}; "
                "those keys act from the other panes."
            )

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._last_key_at = time.monotonic()  # (read by the answer worker: typing_now)
            if self.screen is self.main and not isinstance(self.focused, TextArea | Input):
                self.main.typing_goes_to_the_box(event)
        await super().on_event(event)

    def typing_now(self) -> bool:
        """Whether the user is typing (a key within `TYPING_WINDOW_S`): typing comes first."""
        return time.monotonic() - self._last_key_at < TYPING_WINDOW_S

    # --- the theme -------------------------------------------------------------------------------

    def _set_start_theme(self, configured: str) -> None:
        """The theme picked in the palette last time, unless the config names another one."""
        theme = self.ui_state.theme_for(configured)
        for candidate in dict.fromkeys((theme, configured)):
            if candidate in self.available_themes:
                self.theme = candidate
                return
            self.start_notes.append(f"Unknown theme “{candidate}”: using {self.theme}.")

    def _theme_picked(self, theme: object) -> None:
        self.ui_state.remember_theme(self.theme, self.settings.theme)

    # --- toasts, the editor, the palette ---------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast, keeping at most MAX_TOASTS on screen so they never stack over the answer.
        Every toast, from any screen, passes the one terminal filter: a session title or a file
        name in a message must not reach the terminal as an escape sequence. Each is kept in
        `notices` too (what the app said, newest last)."""
        shown = Notification(
            terminal_safe(message),
            terminal_safe(title),
            severity,
            self.NOTIFICATION_TIMEOUT if timeout is None else timeout,
            markup=markup,
        )
        self.notices.append(shown)
        if severity != "error" and self.screen is self.main:
            self.main.post_message(Flash(shown))  # in the status line if it fits, else a toast
        else:
            self.toast(shown)

    def toast(self, notification: Notification) -> None:
        """Show a notification as a toast (thread-safe, as App.notify)."""
        self.post_message(Notify(notification))
        self.call_later(self._trim_toasts)  # after the notification is added

    def clear_notifications(self) -> None:
        """Every notice gone: the toasts, and the one in the status line."""
        super().clear_notifications()
        if self.main.is_mounted:
            self.main.status.unflash()

    def _trim_toasts(self) -> None:
        for old in list(self._notifications)[:-MAX_TOASTS]:
            self._unnotify(old)

    def on_edit_requested(self, message: EditRequested) -> None:
        """e in the documents pane or a preview: the passage in $EDITOR, the app suspended."""
        open_in_editor(self, message.passage)

    def get_system_commands(self, screen: Screen) -> list[SystemCommand]:  # type: ignore[override]
        commands = []
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # ours asks where, and says why it failed
                command = SystemCommand(command.title, command.help, self.action_screenshot_to)
            commands.append(command)
        if screen is self.main:  # the main screen's commands act on the main screen only
            commands += main_commands(self.main)
        return commands

    def action_screenshot_to(self) -> None:
        def write(path: object) -> None:
            path.write_text(self.export_screenshot(), encoding="utf-8")  # type: ignore[attr-defined]

        default = documents_dir() / "atlas-tui-screenshot.svg"
        ask_path(self, "Save an SVG screenshot to:", default, write, "Screenshot saved")

    # --- leaving ---------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.release_workers()
        self.exit()

    def release_workers(self) -> None:
        """Make every thread worker return promptly: a stalled stream must not hang the exit."""
        self.main.release_workers()

    def on_unmount(self) -> None:
        self.release_workers()
        self.conversation.close()  # after the answer being recorded (if any) is stored


def run_app(
    settings: Settings,
    *,
    client: AtlasQuery | None = None,
    resume: str | None = None,
    new_session: bool = False,
) -> None:
    """Run the TUI; `resume` names a session (id, unique prefix or "last") to open."""
    AtlasApp(settings, client, resume=resume, new_session=new_session).run()
