"""The main screen: the transcript over the query box, the documents pane beside them, the ingest
bar and the status line; its keys, and what crosses from one pane to another.

It shows the app's `Conversation`: a question submitted becomes an `Answer` whose events run in a
thread worker and come back as messages (documents, text batches, the end); each handler lets the
answer take its event in, then draws it. The screen owns its bindings: a screen pushed over it
(sessions, help, a preview, a dialog) has its own keys, by construction. Features live in the
widgets they serve: turn selection, citation and answer stepping and find in the transcript,
previews and the editor in the documents pane, ingesting in the ingest bar.
"""

from __future__ import annotations

import gc
import threading
from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from atlas_tui.config import SEARCH_MODES
from atlas_tui.conversation import Answer, Conversation, ConversationTurn, turn_markdown
from atlas_tui.errors import AtlasError
from atlas_tui.query import Done, Round
from atlas_tui.tui.keys import bindings_of
from atlas_tui.tui.messages import (
    AnswerDone,
    AnswerFailed,
    AnswerShown,
    CitationSelected,
    ClientReady,
    DocumentsRetrieved,
    Flash,
    IndexSized,
    IngestFinished,
    IngestProgress,
    QuerySubmitted,
    RoundDone,
    SessionChanged,
    SessionProblem,
)
from atlas_tui.tui.notices import index_summary, no_key_note, research_progress
from atlas_tui.tui.saving import copy_text, save_text
from atlas_tui.tui.screens.dialogs import PromptScreen
from atlas_tui.tui.screens.help import TYPING, HelpScreen, key_rows, other_screens
from atlas_tui.tui.screens.preview import PreviewScreen
from atlas_tui.tui.session_view import SessionView
from atlas_tui.tui.widgets.documents import DocumentsPane, Splitter
from atlas_tui.tui.widgets.find_bar import FindBar
from atlas_tui.tui.widgets.ingest_bar import IngestBar
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript

if TYPE_CHECKING:
    from atlas_tui.tui.app import AtlasApp

WARM_WAIT_S = 60.0  # how long saying research mode is on waits for the client to warm
WAIT_STEP_S = 0.1  # how often that wait looks for a quit
NARROW = 100  # a screen narrower than this gives the transcript more of its width


class MainScreen(Screen[None]):
    AUTO_FOCUS = None  # the query box takes the focus on mount
    BINDINGS: ClassVar[list[BindingType]] = [
        # Quit is the app's (it acts on every screen); listed here first, as the footer shows it.
        Binding("ctrl+q", "app.quit", "Quit", id="quit", priority=True),
        Binding("ctrl+f", "find", "Find", id="find", show=False),  # F1 and the palette list it
        Binding("alt+left", "step_answer(-1)", "Earlier answer", id="previous_answer", show=False),
        Binding("alt+right", "step_answer(1)", "Later answer", id="next_answer", show=False),
        Binding("f1", "help", "Help", id="help"),
        Binding("escape", "cancel", "Cancel answer", id="cancel"),
        Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate"),
        Binding("ctrl+t", "copy_answer", "Copy answer", id="copy_answer"),
        Binding("ctrl+b", "toggle_documents", "Documents pane", id="toggle_documents"),
        Binding("ctrl+s", "cycle_mode", "Search mode", id="cycle_mode"),
        # research mode: named in the palette with its key, and in the status line when on
        Binding("f5", "toggle_research", "Research mode", id="toggle_research", show=False),
        Binding("ctrl+o", "ingest", "Ingest", id="ingest"),
        # Shown (and acting) only while an ingest runs (check_action); a priority binding, so it
        # acts while typing too (the query box's ctrl+x, cut, is one it may take: keys.py).
        Binding("ctrl+x", "stop_ingest", "Stop ingest", id="stop_ingest", priority=True),
        Binding("ctrl+n", "new_session", "New session", id="new_session", show=False),
        Binding("ctrl+l", "sessions", "Sessions", id="sessions", show=False),
        Binding("f2", "focus_query", "Query box", id="focus_query", show=False),
        Binding("f3", "focus_transcript", "Transcript", id="focus_transcript", show=False),
        Binding("f4", "focus_documents", "Documents", id="focus_documents", show=False),
        Binding("ctrl+left", "resize_documents(2)", "Wider documents", id="wider", show=False),
        Binding("ctrl+right", "resize_documents(-2)", "Narrower pane", id="narrower", show=False),
    ]
    # The widgets whose own keys F1 lists and a config's [keys] may rebind, with where they act.
    WIDGET_KEYS: ClassVar[tuple[tuple[str, type], ...]] = (
        ("Transcript", Transcript),
        ("Documents pane", DocumentsPane),
        ("Find bar (ctrl+f)", FindBar),
    )

    def __init__(self, resume: str | None = None, new_session: bool = False) -> None:
        super().__init__()
        self.sessions = SessionView(self)
        self._opening = (resume, new_session)
        self._stop = threading.Event()  # set on quit: workers give up waiting
        self._stop_ingest = threading.Event()
        self._key_note_shown = False

    # --- what it shows ---------------------------------------------------------------------------

    @property
    def atlas(self) -> AtlasApp:
        return cast("AtlasApp", self.app)

    @property
    def conversation(self) -> Conversation:
        return self.atlas.conversation

    @property
    def transcript(self) -> Transcript:
        return self.query_one(Transcript)

    @property
    def documents(self) -> DocumentsPane:
        return self.query_one(DocumentsPane)

    @property
    def status(self) -> StatusLine:
        return self.query_one(StatusLine)

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield Transcript(
                    self.conversation, self.atlas.warmed, self.atlas.typing_now, id="transcript"
                )
                yield QueryBox(id="query")
            yield Splitter(id="splitter")
            yield DocumentsPane(id="documents")
        yield IngestBar(self.atlas.client, self._stop_ingest, id="ingest-progress")
        yield StatusLine(id="status")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        self.set_class(event.size.width < NARROW, "-narrow")  # the documents pane gives way

    def on_mount(self) -> None:
        self.status.mode = self.conversation.retrieval.mode or ""
        self.set_focus(self.query_one(QueryBox))
        conversation = self.conversation
        conversation.on_change = lambda: self.post_message(SessionChanged())
        conversation.on_problem = lambda text: self.post_message(SessionProblem(text))
        conversation.open_store()
        self.call_after_refresh(self.sessions.reopen, *self._opening)  # after the first paint

    def on_client_ready(self, message: ClientReady) -> None:
        if self._stop.is_set():  # quitting: the screen may be gone already
            return
        status = self.status
        status.state = ""
        status.answerer = message.answerer
        status.index = message.index_summary
        offline = message.extractive and not self._key_note_shown
        self._key_note_shown |= offline

        def note() -> None:  # the toast, once no dialog is up for it to cover
            if offline:
                self.show_offline_note()

        if message.problem:
            self.query_one(IngestBar).offer_demo(message.problem, then=note)
        else:
            note()
            self._resume_pending()
        # What start-up loaded (Textual, the index, the model) lives as long as the app: kept out
        # of the cyclic collector, whose full passes stalled frames by 100-200 ms while an answer
        # streamed (benchmarks/bench_tui.py).
        gc.freeze()

    def show_offline_note(self) -> None:
        """Offline answers: said in the status line always, in a short toast once per install;
        F1 has the whole note."""
        status = self.status
        status.answerer = f"{status.answerer} (no API key; F1)"
        if self.atlas.ui_state.first_time("offline-answers"):
            self.notify(
                "No ANTHROPIC_API_KEY: answers quote your documents. F1 says how to get Claude's.",
                title="Offline answers",
                timeout=8,
                markup=False,
            )

    # --- asking and answering (the transcript streams them; see Transcript.answer) --------------

    async def on_query_submitted(self, message: QuerySubmitted) -> None:
        answer = self.conversation.ask(message.text)
        self.transcript.border_subtitle = ""  # "Reopened · …" was about the start
        await self.transcript.add_turn(answer.turn)
        self.transcript.answer(answer)

    def on_documents_retrieved(self, message: DocumentsRetrieved) -> None:
        turn = message.answer.turn
        if message.answer.current:
            self.documents.show(turn.id, turn.documents, set())
            self.label_documents()

    def on_round_done(self, message: RoundDone) -> None:
        """Research mode: every passage so far, grouped by round; the run's rounds and cost."""
        turn = message.answer.turn
        if not message.answer.current:
            return
        self.documents.show(turn.id, turn.documents, set(), turn.on_screen.rounds)
        self.label_documents()
        assert isinstance(message.event, Round)
        self.status.progress = research_progress(message.event, self.atlas.settings.research_rounds)

    def on_answer_done(self, message: AnswerDone) -> None:
        if not message.answer.current:
            return
        self._documents_follow(message.answer.turn.id)
        assert isinstance(message.event, Done)
        self.status.show_timings(message.event.timings)
        self.status.usage = self.conversation.usage()
        self._answer_ended(message.answer)

    def on_answer_failed(self, message: AnswerFailed) -> None:
        if message.answer.current:
            self._answer_ended(message.answer)

    def _answer_ended(self, answer: Answer) -> None:
        self.status.progress = ""  # the session's usage says it now
        self._measure_index()
        if (view := self.transcript.turn(answer.turn.id)) is not None:
            view.finished = True  # last: whoever waits for it sees the whole turn on screen

    @work(thread=True, exit_on_error=False, group="index")
    def _measure_index(self) -> None:
        """The status line's index size, again after each answer: on a shared index other
        machines ingest meanwhile, and the answer may cite documents the count left out."""
        try:
            summary = index_summary(self.atlas.client.stats())
        except AtlasError as error:  # (the answer said what is wrong; the count stays)
            self.log.warning("the index size was not measured again", error)
            return
        self.post_message(IndexSized(summary))

    def on_index_sized(self, message: IndexSized) -> None:
        if not self._stop.is_set():
            self.status.index = message.index

    def action_cancel(self) -> None:
        self.conversation.cancel()  # the answer's worker says how it ended

    async def action_regenerate(self) -> None:
        try:
            answer = self.conversation.regenerate()
        except AtlasError as error:
            self.notify(error.message, markup=False)
            return
        view = self.transcript.turn(answer.turn.id)
        if view is not None:
            await view.reset()
        self.transcript.answer(answer)

    # --- citations, documents, preview -----------------------------------------------------------

    def on_citation_selected(self, message: CitationSelected) -> None:
        turn = self.conversation.turn(message.turn_id)
        if turn is None:
            return
        pane = self.documents
        if pane.turn_id != turn.id:
            pane.show(turn.id, turn.documents, turn.cited, turn.on_screen.rounds)
        if not pane.select_number(message.number):
            self.notify(f"The answer cites [{message.number}], which was not retrieved.")
            return
        self.transcript.citation = (turn.id, message.number)
        pane.display = True
        self.label_documents()
        if message.focus:
            self.set_focus(pane)

    def on_answer_shown(self, message: AnswerShown) -> None:
        self._documents_follow(message.turn_id)

    def _documents_follow(self, turn_id: int) -> None:
        """The pane, when it shows this turn's documents, shows those of its answer on screen."""
        turn = self.conversation.turn(turn_id)
        if turn is not None and self.documents.turn_id == turn_id:
            self.documents.show(turn_id, turn.documents, turn.cited, turn.on_screen.rounds)

    @on(DocumentsPane.PreviewRequested)
    def _open_preview(self, message: DocumentsPane.PreviewRequested) -> None:
        turn = self.conversation.turn(message.turn_id)
        if turn is None or not 1 <= message.number <= len(turn.documents):
            return
        passage = turn.documents[message.number - 1]
        cited = [c.cited_text for c in turn.citations if c.number == message.number]
        self.app.push_screen(
            PreviewScreen(
                message.number, passage, turn.question, cited, self.atlas.client.document_text
            )
        )

    def label_documents(self) -> None:
        """The pane's title says which turn its documents belong to."""
        pane = self.documents
        number = self.transcript.number(pane.turn_id or 0)
        pane.border_title = f"Documents for turn {number}" if number else "Documents"

    # --- panes and focus -------------------------------------------------------------------------

    def typing_goes_to_the_box(self, event: events.Key) -> None:
        """A printable key no binding takes, typed outside the query box, starts a question.

        Decided as the app receives the key, before it is sent to the focused pane: the focus
        moves first, so this key and every key after it go to the box in the order typed (handing
        keys on from the pane they reached had let later keys overtake them)."""
        if not (event.is_printable and event.character):
            return
        active = self.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return  # a key of the focused pane (e.g. ] in the transcript): its binding acts
        self.set_focus(self.query_one(QueryBox))

    def action_focus_query(self) -> None:
        self.set_focus(self.query_one(QueryBox))  # now: keys already typed follow it

    def action_focus_transcript(self) -> None:
        self.set_focus(self.transcript)

    def action_focus_documents(self) -> None:
        self.documents.display = True
        self.set_focus(self.documents)

    def action_toggle_documents(self) -> None:
        pane = self.documents
        pane.display = not pane.display
        if not pane.display and pane.has_focus:
            self.set_focus(self.query_one(QueryBox))

    def on_splitter_dragged(self, message: Splitter.Dragged) -> None:
        self.documents.resize(self.size.width - message.screen_x - 1, self.size.width)

    def action_resize_documents(self, step: int) -> None:
        self.documents.resize(self.documents.outer_size.width + step, self.size.width)

    async def action_find(self) -> None:
        await self.transcript.find()

    async def action_step_answer(self, by: int) -> None:
        await self.transcript.action_step_answer(by)

    def action_help(self) -> None:
        """Every key, by where it acts, as the config's [keys] rebound them."""
        keymap, display = self.atlas.settings.keys, self.app.get_key_display
        palette = Binding(self.app.COMMAND_PALETTE_BINDING, "command_palette", "Command palette")
        own = [b for b in self.BINDINGS if isinstance(b, Binding)]
        sections = [
            ("Main screen", key_rows([*own, palette], keymap, display)),
            TYPING,
            *(
                (where, key_rows(bindings_of([w]), keymap, display))
                for where, w in self.WIDGET_KEYS
            ),
            *other_screens(keymap, display),
        ]
        note = no_key_note() if self._key_note_shown else ""
        self.app.push_screen(HelpScreen(sections, note))

    # --- retrieval -------------------------------------------------------------------------------

    def action_cycle_mode(self) -> None:
        mode = self.conversation.retrieval.mode
        index = SEARCH_MODES.index(mode) if mode in SEARCH_MODES else -1
        self.set_mode(SEARCH_MODES[(index + 1) % len(SEARCH_MODES)])

    def set_mode(self, mode: str) -> None:
        self.conversation.retrieval.mode = mode
        self.status.mode = mode
        self.notify(f"Retrieval mode: {mode}")

    def action_source_filter(self) -> None:
        def chosen(value: str | None) -> None:
            if value is None:
                return
            self.conversation.retrieval.source = value
            self.status.source = value
            self.notify(
                f"Source filter: {value}" if value else "Source filter cleared.", markup=False
            )

        self.app.push_screen(
            PromptScreen(
                "Only search sources matching (a glob; empty clears):",
                self.conversation.retrieval.source or "",
                "docs/*.md",
            ),
            chosen,
        )

    # --- research mode ---------------------------------------------------------------------------

    def action_toggle_research(self) -> None:
        self.set_research(not self.conversation.session.research)

    def set_research(self, on: bool) -> None:
        """Research mode on or off for this session's next questions (kept with the session)."""
        try:
            self.conversation.set_research(on)
        except AtlasError as error:
            self.notify(error.describe(), title="Research mode", severity="error", markup=False)
            return
        self.status.research = on
        if not on:
            self.notify("Research mode off: each question gets one search.", markup=False)
            return
        self._say_research_on(self.conversation.session.model or None)

    @work(thread=True, exit_on_error=False, group="research-note")
    def _say_research_on(self, model: str | None) -> None:
        """Whether the model can call tools is asked off the UI thread: it may load the SDK."""
        warmed = self.atlas.warmed
        for _ in range(int(WARM_WAIT_S / WAIT_STEP_S)):  # the client warming up; not past a quit
            if warmed.wait(WAIT_STEP_S) or self._stop.is_set():
                break
        if self._stop.is_set():
            return
        can = not warmed.is_set() or self.atlas.client.can_research(model)
        note = "" if can else " This model cannot call tools: answers still come from one search."
        self.app.call_from_thread(
            self.notify,
            "Research mode on: the model searches your documents itself, round after round, "
            f"then answers with citations. Esc stops it, keeping what it found.{note}",
            title="Research mode",
            markup=False,
        )

    # --- ingesting -------------------------------------------------------------------------------

    @property
    def ingest_bar(self) -> IngestBar:
        return self.query_one(IngestBar)

    def action_ingest(self) -> None:
        self.ingest_bar.choose()

    def start_ingest(self, paths: list[str]) -> None:
        self.ingest_bar.start(paths)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The stop key is in the footer (and acts) only while an ingest runs."""
        if action == "stop_ingest":
            return self.is_mounted and self.ingest_bar.running
        return True

    def action_stop_ingest(self) -> None:
        self.ingest_bar.stop()

    def stop_key(self) -> str:
        """The key that stops an ingest, as the footer shows it (the keymap may have moved it)."""
        keys = self.atlas.settings.keys.get("stop_ingest", "ctrl+x")
        return self.app.get_key_display(Binding(keys.split(",")[0].strip(), "stop_ingest"))

    @work(thread=True, exit_on_error=False, group="pending")
    def _resume_pending(self) -> None:
        """Passages an earlier ingest left without a vector (stopped, or the app quit): embedded
        in the background, as the app goes on (the status line counts embedded vs all)."""
        try:
            pending = self.atlas.client.pending()
        except AtlasError as error:  # (searching still works; the next ingest embeds them)
            self.log.warning("passages awaiting embedding were not counted", error)
            return
        if pending and not self._stop.is_set():
            self.app.call_from_thread(self._resume, pending)

    def _resume(self, pending: int) -> None:
        self.ingest_bar.resume(pending, self.stop_key())

    def on_ingest_progress(self, message: IngestProgress) -> None:
        self.status.state = f"ingesting {message.label}" if message.label else "ingesting…"

    def on_ingest_finished(self, message: IngestFinished) -> None:
        self.status.state = ""
        if message.index:
            self.status.index = message.index

    # --- research sessions (session_view.py) -----------------------------------------------------

    def on_session_changed(self, message: SessionChanged) -> None:
        self.sessions.show_title()

    def on_flash(self, message: Flash) -> None:
        shown = message.notification
        plain = Text.from_markup(shown.message).plain if shown.markup else shown.message
        if not self.status.flash(plain, shown.timeout, warning=shown.severity == "warning"):
            self.atlas.toast(shown)

    def on_session_problem(self, message: SessionProblem) -> None:
        self.notify(message.text, title="Sessions", severity="warning", timeout=15, markup=False)

    async def action_new_session(self) -> None:
        await self.sessions.start_afresh()

    def action_sessions(self) -> None:
        self.sessions.browse()

    def action_rename_session(self) -> None:
        self.sessions.rename()

    def action_export(self, fmt: str = "md") -> None:
        self.sessions.export(fmt)

    # --- copying and saving an answer ------------------------------------------------------------

    def _turn_to_copy(self) -> tuple[ConversationTurn, int] | None:
        """The turn selected in the transcript, else the last one, and its number."""
        turns = self.conversation.turns
        turn = self.transcript.selected_turn() or (turns[-1] if turns else None)
        return None if turn is None else (turn, self.transcript.number(turn.id))

    def action_copy_answer(self) -> None:
        """Copy the turn selected in the transcript, else the last one, with its cited sources."""
        if (found := self._turn_to_copy()) is None:
            self.notify("No answer to copy yet.")
            return
        turn, number = found
        what = f"turn {number}" if number != len(self.conversation.turns) else "the answer"
        copy_text(self.app, turn_markdown(turn), what)

    def action_save_answer(self) -> None:
        if (found := self._turn_to_copy()) is None:
            self.notify("No answer to save yet.")
            return
        turn, number = found
        name = f"atlas-answer-{self.conversation.session.id or 'unsaved'}-{number}.md"
        save_text(self.app, turn_markdown(turn), "Save the answer (Markdown) to:", name)

    # --- leaving ---------------------------------------------------------------------------------

    def release_workers(self) -> None:
        """Make every thread worker return promptly: a stalled stream must not hang the exit."""
        self._stop.set()
        self._stop_ingest.set()
        self.conversation.cancel()
