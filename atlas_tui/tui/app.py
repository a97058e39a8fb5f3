"""AtlasApp: the query box, the streaming transcript and the documents pane, over AtlasQuery.

Slow work runs in thread workers (warming the model, answering, ingesting, reading a file for a
preview); they post messages, and the widgets react to messages only. Nothing heavy is imported
on the way to the first paint: the client is lazy and warms in the background.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, ProgressBar

from atlas_tui.config import SEARCH_MODES, Settings, demo_corpus_path
from atlas_tui.errors import AtlasError, ConfigError
from atlas_tui.query import AtlasQuery, QueryRun
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.ingesting import IngestingMixin
from atlas_tui.tui.keeper import SessionKeeper
from atlas_tui.tui.keys import prioritise, split_keymap
from atlas_tui.tui.messages import CitationSelected, ClientReady, SessionChanged, SessionProblem
from atlas_tui.tui.navigation import NavigationMixin
from atlas_tui.tui.notices import index_is_empty, index_summary, no_key_note
from atlas_tui.tui.peers import PeersMixin
from atlas_tui.tui.saving import SavingMixin
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.state import UIState
from atlas_tui.tui.turns import TurnRecord
from atlas_tui.tui.widgets.documents import DocumentsPane, Splitter
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript


class AtlasApp(PeersMixin, IngestingMixin, SavingMixin, NavigationMixin):
    """A keyboard-driven research session over the local index."""

    TITLE = "atlas-tui"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f1", "help", "Help", id="help"),
        Binding("escape", "cancel", "Cancel answer", id="cancel"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+t", "copy_answer", "Copy answer", id="copy_answer"),
        Binding("ctrl+b", "toggle_documents", "Documents pane", id="toggle_documents"),
        Binding("ctrl+s", "cycle_mode", "Search mode", id="cycle_mode"),
        Binding("ctrl+o", "ingest", "Ingest", id="ingest"),
        Binding("ctrl+n", "new_session", "New session", id="new_session", show=False),
        Binding("ctrl+l", "sessions", "Sessions", id="sessions", show=False),
        Binding("f2", "focus_query", "Query box", id="focus_query", show=False),
        Binding("f3", "focus_transcript", "Transcript", id="focus_transcript", show=False),
        Binding("f4", "focus_documents", "Documents", id="focus_documents", show=False),
        Binding("right_square_bracket", "citation(1)", "Next citation", id="next_citation"),
        Binding("left_square_bracket", "citation(-1)", "Previous citation", id="prev_citation"),
        Binding("enter", "open_citation", "Open cited passage", id="open_citation"),
        Binding("shift+up", "select_turn(-1)", "Previous turn", id="prev_turn", show=False),
        Binding("shift+down", "select_turn(1)", "Next turn", id="next_turn", show=False),
        Binding("ctrl+left", "resize_documents(2)", "Wider documents", id="wider", show=False),
        Binding("ctrl+right", "resize_documents(-2)", "Narrower pane", id="narrower", show=False),
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
        self._start_notes: list[str] = []  # said once the screen is up
        self._set_start_theme(settings.theme)
        self.search_mode = settings.search_mode
        self.source_filter = ""
        self.turns: list[TurnRecord] = []
        self._next_turn = 1
        self._warmed = threading.Event()  # set once warming finished (well or not)
        self._stop = threading.Event()  # set on quit: workers give up waiting
        self._stop_ingest = threading.Event()
        self._run: QueryRun | None = None
        self._run_lock = threading.Lock()
        self._answering: int | None = None
        self._key_note_shown = False
        self._selected_turn: int | None = None
        self._citation: tuple[int, int] | None = None
        self._opening = (resume, new_session)
        self.keeper = SessionKeeper(None, problem="not opened yet")  # opened on mount

    # --- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Transcript(id="transcript")
                yield QueryBox(id="query")
            yield Splitter(id="splitter")
            yield DocumentsPane(id="documents")
        yield ProgressBar(id="ingest-progress", show_eta=False)
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._apply_keymap()
        if self.ui_state.problem:
            self._start_notes.append(self.ui_state.problem)
        if self._start_notes:  # one toast: several would push each other off the screen
            notes = "\n".join(self._start_notes)
            self.notify(notes, title="Settings", severity="warning", timeout=15, markup=False)
        self.theme_changed_signal.subscribe(self, self._theme_picked)
        self.query_one("#ingest-progress").display = False
        self.query_one(StatusLine).mode = self.search_mode
        self.query_one(QueryBox).focus()
        self._warm()
        self.keeper = SessionKeeper.open(
            self.settings,
            on_change=lambda: self.post_message(SessionChanged()),
            on_problem=lambda text: self.post_message(SessionProblem(text)),
        )
        self.call_after_refresh(self._reopen, *self._opening)  # after the first paint

    def _apply_keymap(self) -> None:
        known = {  # the app's bindings and its mixins' (e.g. find, previous_answer)
            b.id
            for cls in type(self).__mro__
            if cls.__module__.startswith("atlas_tui.")
            for b in cls.__dict__.get("BINDINGS", ())
            if isinstance(b, Binding) and b.id
        }
        unknown = sorted(set(self.settings.keys) - known)
        if unknown:
            self._start_notes.append(
                f"Unknown actions in [keys] of the config: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}."
            )
        keymap = {k: v for k, v in self.settings.keys.items() if k in known}
        self.set_keymap(keymap)
        # a rebound key also works (and is listed) while typing, unless typing needs it
        free, kept = split_keymap(keymap)
        prioritise(self._bindings, free)
        if kept:
            self._start_notes.append(
                f"While typing a question the query box keeps {', '.join(kept)}; "
                "those keys act from the other panes."
            )

    def _set_start_theme(self, configured: str) -> None:
        """The theme picked in the palette last time, unless the config names another one."""
        theme = self.ui_state.theme_for(configured)
        for candidate in dict.fromkeys((theme, configured)):
            if candidate in self.available_themes:
                self.theme = candidate
                return
            self._start_notes.append(f"Unknown theme “{candidate}”: using {self.theme}.")

    def _theme_picked(self, theme: object) -> None:
        self.ui_state.remember_theme(self.theme, self.settings.theme)

    # --- warming up ------------------------------------------------------------------------------

    @work(thread=True, exit_on_error=False, group="warm")
    def _warm(self) -> None:
        try:
            answerer, extractive = self.client.answerer_label, self.client.extractive
        except AtlasError as error:
            answerer, extractive = f"answerer unavailable: {error.message}", True
        problem, summary = "", "index: ?"
        try:
            self.client.warm()
            stats = self.client.stats()
            summary = index_summary(stats)
            if index_is_empty(stats):
                problem = "The index is empty."
        except AtlasError as error:
            problem, summary = error.describe(), "index: not ready"
        except Exception as error:  # a bug or an unexpected back-end failure: show it, keep going
            self.log.error("warming failed", error)
            problem, summary = f"The index could not be opened: {error}", "index: not ready"
        finally:
            self._warmed.set()
        self.post_message(ClientReady(answerer, extractive, summary, problem))

    def on_client_ready(self, message: ClientReady) -> None:
        if self._stop.is_set():  # quitting: the screen may be gone already
            return
        status = self.query_one(StatusLine)
        status.state = ""
        status.answerer = message.answerer
        status.index = message.index_summary
        if message.extractive and not self._key_note_shown:
            self._key_note_shown = True
            self.show_offline_note()
        if message.problem:
            self._offer_demo(message.problem)
        # What start-up loaded (Textual, the index, the model) lives as long as the app: kept out
        # of the cyclic collector, whose full passes stalled frames by 100-200 ms while an answer
        # streamed (benchmarks/bench_tui.py).
        gc.freeze()

    def show_offline_note(self) -> None:
        """Offline answers: said in the status line always, in a short toast once per install;
        F1 has the whole note."""
        status = self.query_one(StatusLine)
        status.answerer = f"{status.answerer} (no API key; F1)"
        if self.ui_state.first_time("offline-answers"):
            self.notify(
                "No ANTHROPIC_API_KEY: answers quote your documents. F1 says how to get Claude's.",
                title="Offline answers",
                timeout=8,
                markup=False,
            )

    def on_splitter_dragged(self, message: Splitter.Dragged) -> None:
        self.set_documents_width(self.size.width - message.screen_x - 1)

    def _offer_demo(self, problem: str) -> None:
        try:
            demo = demo_corpus_path()
        except ConfigError:
            self.notify(terminal_safe(problem), title="Index", severity="warning", markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.start_ingest([str(demo)])

        self.push_screen(
            ConfirmScreen(
                f"{terminal_safe(problem)}\n\n"
                "Ingest the bundled demo corpus (about atlas-tui itself) now?",
                yes="Ingest the demo",
                no="Not now",
            ),
            answered,
        )

    # --- citations, documents, preview ---------------------------------------------------------

    def on_citation_selected(self, message: CitationSelected) -> None:
        record = self._record(message.turn_id)
        pane = self.query_one(DocumentsPane)
        if record is None:
            return
        if pane.turn_id != record.turn_id:
            pane.show(record.turn_id, record.documents, record.cited)
        if not pane.select_number(message.number):
            self.notify(f"The answer cites [{message.number}], which was not retrieved.")
            return
        self._citation = (record.turn_id, message.number)
        self._show_documents(True)
        self.label_documents()
        pane.focus()

    @on(DocumentsPane.PreviewRequested)
    def _open_preview(self, message: DocumentsPane.PreviewRequested) -> None:
        record = self._record(message.turn_id)
        if record is None or not 1 <= message.number <= len(record.documents):
            return
        passage = record.documents[message.number - 1]
        cited = [c.cited_text for c in record.citations if c.number == message.number]
        self.push_screen(
            PreviewScreen(
                message.number, passage, record.question, cited, self.client.document_text
            )
        )

    # --- actions ---------------------------------------------------------------------------------

    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        for active in self.screen.active_bindings.values():
            if active.binding.description and active.node is self:
                description = active.binding.description
                if active.binding.action == "command_palette":
                    description = "Command palette"  # Textual's own terse footer label
                rows.append((self.get_key_display(active.binding), description))
        self.push_screen(HelpScreen(rows, no_key_note() if self._key_note_shown else ""))

    def _show_documents(self, show: bool) -> None:
        self.query_one(DocumentsPane).display = show

    def action_toggle_documents(self) -> None:
        pane = self.query_one(DocumentsPane)
        pane.display = not pane.display
        if not pane.display and pane.has_focus:
            self.query_one(QueryBox).focus()

    def action_cycle_mode(self) -> None:
        index = SEARCH_MODES.index(self.search_mode) if self.search_mode in SEARCH_MODES else -1
        self.set_mode(SEARCH_MODES[(index + 1) % len(SEARCH_MODES)])

    def set_mode(self, mode: str) -> None:
        self.search_mode = mode
        self.query_one(StatusLine).mode = mode
        self.notify(f"Retrieval mode: {mode}")

    def action_source_filter(self) -> None:
        def chosen(value: str | None) -> None:
            if value is None:
                return
            self.source_filter = value
            self.query_one(StatusLine).source = value
            self.notify(
                f"Source filter: {value}" if value else "Source filter cleared.", markup=False
            )

        self.push_screen(
            PromptScreen(
                "Only search sources matching (a glob; empty clears):",
                self.source_filter,
                "docs/*.md",
            ),
            chosen,
        )

    def action_focus_query(self) -> None:
        self.screen.set_focus(self.query_one(QueryBox))  # now: keys already typed follow it

    def action_focus_transcript(self) -> None:
        self.screen.set_focus(self.query_one(Transcript))

    def action_focus_documents(self) -> None:
        self._show_documents(True)
        self.screen.set_focus(self.query_one(DocumentsPane))

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # ours asks where, and says why it failed
                command = SystemCommand(command.title, command.help, self.action_screenshot_to)
            yield command
        if screen is not self.screen_stack[0]:
            return  # the main screen's commands act on the main screen only
        yield from self.session_commands()
        yield from self.peers_commands()
        yield SystemCommand("Ingest a folder", "Add files to the index", self.action_ingest)
        yield SystemCommand(
            "Ingest the demo corpus", "Index the bundled demo documents", self._ingest_demo
        )
        for mode in SEARCH_MODES:
            yield SystemCommand(
                f"Retrieval mode: {mode}",
                f"Search the index by {mode}",
                lambda mode=mode: self.set_mode(mode),
            )
        yield SystemCommand(
            "Source filter", "Only search sources matching a glob", self.action_source_filter
        )
        yield SystemCommand(
            "Toggle documents pane", "Show or hide the documents", self.action_toggle_documents
        )
        yield SystemCommand(
            "Copy answer", "Copy the last answer with its sources", self.action_copy_answer
        )
        yield SystemCommand(
            "Save answer to a file",
            "Write the answer and its sources as Markdown",
            self.action_save_answer,
        )
        yield SystemCommand("Regenerate", "Answer the last question again", self.action_regenerate)

    # --- leaving ---------------------------------------------------------------------------------

    async def action_quit(self) -> None:
        self.release_workers()
        self.exit()

    def release_workers(self) -> None:
        """Make every thread worker return promptly: a stalled stream must not hang the exit."""
        self._stop.set()
        self._stop_ingest.set()
        self._cancel_run()

    def on_unmount(self) -> None:
        self.release_workers()
        self.keeper.close()  # after the answer being recorded (if any) is stored


def run_app(
    settings: Settings,
    *,
    client: AtlasQuery | None = None,
    resume: str | None = None,
    new_session: bool = False,
) -> None:
    """Run the TUI; `resume` names a session (id, unique prefix or "last") to open."""
    AtlasApp(settings, client, resume=resume, new_session=new_session).run()
