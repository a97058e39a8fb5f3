"""AtlasApp: the query box, the streaming transcript and the documents pane, over AtlasQuery.

Slow work runs in thread workers (warming the model, answering, ingesting, reading a file for a
preview); they post messages, and the widgets react to messages only. Nothing heavy is imported
on the way to the first paint: the client is lazy and warms in the background.
"""

from __future__ import annotations

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
from atlas_tui.tui.messages import CitationSelected, ClientReady, SessionChanged, SessionProblem
from atlas_tui.tui.notices import index_is_empty, index_summary, no_key_note
from atlas_tui.tui.peers import PeersMixin
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen
from atlas_tui.tui.screens.help import HelpScreen
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.turns import TurnRecord, turn_markdown
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript


class AtlasApp(PeersMixin, IngestingMixin):
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
        self.theme = settings.theme
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
        self._opening = (resume, new_session)
        self.keeper = SessionKeeper(None, problem="not opened yet")  # opened on mount

    # --- layout ----------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Transcript(id="transcript")
                yield QueryBox(id="query")
            yield DocumentsPane(id="documents")
        yield ProgressBar(id="ingest-progress", show_eta=False)
        yield StatusLine(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self._apply_keymap()
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
            self.notify(
                f"Unknown actions in [keys] of the config: {', '.join(unknown)}. "
                f"Known: {', '.join(sorted(known))}.",
                severity="warning",
                markup=False,
            )
        self.set_keymap({k: v for k, v in self.settings.keys.items() if k in known})

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
        status = self.query_one(StatusLine)
        status.state = ""
        status.answerer = message.answerer
        status.index = message.index_summary
        if message.extractive and not self._key_note_shown:
            self._key_note_shown = True
            self.notify(no_key_note(), title="Offline answers", timeout=12, markup=False)
        if message.problem:
            self._offer_demo(message.problem)

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
        self._show_documents(True)
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

    def action_copy_answer(self) -> None:
        if not self.turns:
            self.notify("No answer to copy yet.")
            return
        self.copy_to_clipboard(turn_markdown(self.turns[-1]))
        self.notify("Copied the answer and its sources.")

    def action_help(self) -> None:
        rows: list[tuple[str, str]] = []
        for active in self.screen.active_bindings.values():
            if active.binding.description and active.node is self:
                description = active.binding.description
                if active.binding.action == "command_palette":
                    description = "Command palette"  # Textual's own terse footer label
                rows.append((self.get_key_display(active.binding), description))
        self.push_screen(HelpScreen(rows))

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
        self.query_one(QueryBox).focus()

    def action_focus_transcript(self) -> None:
        self.query_one(Transcript).focus()

    def action_focus_documents(self) -> None:
        self._show_documents(True)
        self.query_one(DocumentsPane).focus()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
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
