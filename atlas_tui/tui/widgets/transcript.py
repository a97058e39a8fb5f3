"""The transcript: each question, its streaming Markdown answer, and a note on how it ended.

Its keys (while it has focus): shift+up/down select a turn (ctrl+t then copies it), ] and [ step
through the selected (else the last citing) answer's citations, Enter opens the cited passage, < and
> step through a regenerated question's answers (alt+left/right do it from anywhere). ctrl+f finds
text in it (the find bar under it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from atlas_tui.conversation import Answer, Conversation, ConversationTurn, Token
from atlas_tui.query import Delta, Done, Event, Failed, Retrieved
from atlas_tui.safety import Clean
from atlas_tui.tui.messages import (
    AnswerDelta,
    AnswerDone,
    AnswerEvent,
    AnswerFailed,
    AnswerShown,
    CitationSelected,
    DocumentsRetrieved,
)
from atlas_tui.tui.notices import answer_note, ended_note, stored_note
from atlas_tui.tui.stream import DeltaBatcher, link_citations
from atlas_tui.tui.widgets.answer_markdown import AnswerMarkdown
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.find_bar import FindBar, Highlighter, find_in, searchable_blocks

RESTORE_BATCH = 4  # reopened turns mounted at a time
CITATION_CURSOR = "bold reverse"  # the [n] reached with ] and [, while the transcript has focus
SELECTED = "-selected"
EMPTY_HINT = "Ask a question below. F1 lists every key; ctrl+p opens the command palette."
NEW_SESSION_HINT = "A new session. Ask a question below."


class TurnView(Vertical):
    """One question and its answer."""

    def __init__(self, turn: ConversationTurn, note: tuple[str, str] = ("Searching…", "")) -> None:
        """`note`: the note's text and kind; a reopened turn is built with its answer and note."""
        super().__init__(id=f"turn-{turn.id}", classes="turn")
        self.turn = turn
        self.finished = False  # the answer's end (final text and note) is drawn
        self._note = note
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        text, kind = self._note
        yield Static(Text("› " + self.turn.question), classes="question")
        yield AnswerMarkdown(link_citations(self.turn.answer), classes="answer", open_links=False)
        yield Static(Text(text), classes=f"note {kind}".strip())

    @property
    def answer(self) -> Markdown:
        return self.query_one(".answer", Markdown)

    def set_note(self, text: str, kind: str = "") -> None:
        note = self.query_one(".note", Static)
        note.update(Text(text))
        note.set_classes(f"note {kind}".strip())
        note.display = bool(text)

    async def reset(self) -> None:
        """Clear the answer for a regeneration."""
        self.finished = False
        await self.stop_stream()
        await self.answer.update("")
        self.set_note("Searching…")

    async def write(self, markdown: Clean) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self.answer)
        await self._stream.write(link_citations(markdown))

    async def stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def show_final(self, answer: Clean) -> None:
        """The whole answer at once (the stream's text and this are the same, cleaned, text)."""
        await self.stop_stream()
        if self.answer.source != link_citations(answer):
            await self.answer.update(link_citations(answer))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith("cite:") and event.href[5:].isdigit():
            self.post_message(CitationSelected(self.turn.id, int(event.href[5:]), focus=True))
        else:
            self.notify(f"Links in answers are not opened: {event.href}", markup=False)


class Transcript(VerticalScroll, can_focus=True):
    """All turns of the session, newest at the bottom, following the stream.

    `answer(answer)` writes an answer into its turn: a thread worker runs its events and posts
    them here as messages (documents, batches of text, how it ended); each handler lets the answer
    take its event in, draws it, and lets the message bubble on to the screen (the documents pane,
    the status line)."""

    BORDER_TITLE = "Transcript"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "citation(1)", "Next citation", id="next_citation"),
        Binding("left_square_bracket", "citation(-1)", "Previous citation", id="prev_citation"),
        Binding("enter", "open_citation", "Open cited passage", id="open_citation"),
        Binding("shift+up", "select_turn(-1)", "Previous turn", id="prev_turn", show=False),
        Binding("shift+down", "select_turn(1)", "Next turn", id="next_turn", show=False),
        Binding("less_than_sign", "step_answer(-1)", "Earlier answer", show=False),
        Binding("greater_than_sign", "step_answer(1)", "Later answer", show=False),
    ]

    def __init__(
        self,
        conversation: Conversation,
        ready: threading.Event,
        typing: Callable[[], bool],
        *,
        id: str | None = None,
    ) -> None:
        """`ready`: set once the client can answer; `typing`: whether a key was just pressed."""
        super().__init__(id=id)
        self.conversation = conversation
        self._ready = ready
        self._typing = typing
        self.selected: int | None = None  # the turn selected with shift+up/down
        self.citation: tuple[int, int] | None = None  # (turn, number) stepped to with [ and ]
        self._cursor = Highlighter()  # that citation's [n], marked in its answer

    def compose(self) -> ComposeResult:
        yield Static(Text(EMPTY_HINT), id="empty-hint")

    # --- turns -----------------------------------------------------------------------------------

    async def add_turn(self, turn: ConversationTurn) -> TurnView:
        self.query("#empty-hint").remove()
        view = TurnView(turn)
        await self.mount(view)
        self.anchor()
        return view

    async def restore(self, turns: list[ConversationTurn], token: Token) -> None:
        """Show a reopened session's turns: the newest first, then the older ones above them in
        small batches, so keys are handled between batches (Markdown is slow to mount); it stops
        when the session it shows is no longer on screen (`token`)."""
        self.selected, self.citation = None, None
        self._cursor.clear()
        await self.query(TurnView).remove()
        await self.query("#empty-hint").remove()
        if not turns:
            await self.mount(Static(Text(NEW_SESSION_HINT), id="empty-hint"))
            return
        views = [TurnView(turn, stored_note(turn)) for turn in turns]
        end = len(views)
        start = max(0, end - RESTORE_BATCH)
        await self.mount_all(views[start:end])
        self.scroll_end(animate=False)
        self.anchor()
        while start > 0 and token.current:
            end, start = start, max(0, start - RESTORE_BATCH)
            await self.mount_all(views[start:end], before=views[end])

    async def clear_turns(self) -> None:
        self.selected, self.citation = None, None
        self._cursor.clear()
        await self.query(TurnView).remove()
        if not self.query("#empty-hint"):
            await self.mount(Static(Text(NEW_SESSION_HINT), id="empty-hint"))

    def show_title(self, session_title: Clean) -> None:
        """The border names the research session on screen (plain text, never markup)."""
        title = Text(self.BORDER_TITLE)
        if session_title:
            title.append(" · " + session_title)
        self.border_title = title

    def turn(self, turn_id: int) -> TurnView | None:
        found = self.query(f"#turn-{turn_id}")
        return found.first(TurnView) if found else None

    def number(self, turn_id: int) -> int:
        """The position of a turn in the transcript (1-based), as the user counts turns."""
        turns = self.conversation.turns
        return next((i for i, t in enumerate(turns, 1) if t.id == turn_id), 0)

    # --- answering -------------------------------------------------------------------------------

    def answer(self, answer: Answer) -> None:
        """Write `answer` into its turn (shown already) as its events come."""
        view = self.turn(answer.turn.id)
        if view is not None and not self._ready.is_set():
            view.set_note("Waiting for the model to load…")
        self._answer(answer)

    @work(thread=True, exit_on_error=False, group="answer")
    def _answer(self, answer: Answer) -> None:
        """The answer's events, as messages: the documents, batches of text, how it ended."""

        def emit(text: str) -> None:
            if answer.current:
                self.post_message(AnswerDelta(answer, Delta(text)))

        with DeltaBatcher(emit, typing=self._typing) as batcher:
            for event in answer.events(ready=self._ready):
                if not answer.current:
                    continue  # answered again, or another session is on screen: recorded only
                if isinstance(event, Retrieved):
                    self.post_message(DocumentsRetrieved(answer, event))
                elif isinstance(event, Delta):
                    batcher.feed(event.text)
                else:
                    batcher.close()  # the held-back text first: the answer is whole, then final
                    ended = AnswerDone if isinstance(event, Done) else AnswerFailed
                    self.post_message(ended(answer, event))

    def _view_of(self, message: AnswerEvent) -> tuple[Event, TurnView | None]:
        """The answer takes the event in; the event as shown, and the turn's view (None when
        the answer is no longer current or its turn is not on screen)."""
        shown = message.answer.take(message.event)
        view = self.turn(message.answer.turn.id) if message.answer.current else None
        return shown, view

    def on_documents_retrieved(self, message: DocumentsRetrieved) -> None:
        _, view = self._view_of(message)
        if view is not None:
            count = len(view.turn.documents)
            found = f"{count} documents" if count else "No documents matched"
            view.set_note(f"{found} · answering…")

    async def on_answer_delta(self, message: AnswerDelta) -> None:
        message.stop()
        shown, view = self._view_of(message)
        if view is not None and isinstance(shown, Delta):
            await view.write(shown.text)

    async def on_answer_done(self, message: AnswerDone) -> None:
        _, view = self._view_of(message)
        if view is not None:
            await view.show_final(view.turn.answer)
            view.set_note(answer_note(view.turn))

    async def on_answer_failed(self, message: AnswerFailed) -> None:
        shown, view = self._view_of(message)
        if view is not None and isinstance(shown, Failed):
            await view.show_final(view.turn.answer)
            view.set_note(*ended_note(view.turn, shown, self._regenerate_key()))

    def _regenerate_key(self) -> str:
        """The key that regenerates, as the footer shows it (the keymap may have moved it)."""
        for active in self.screen.active_bindings.values():
            if active.binding.action == "regenerate":
                return self.app.get_key_display(active.binding)
        return "ctrl+r"

    # --- selecting a turn ------------------------------------------------------------------------

    def selected_turn(self) -> ConversationTurn | None:
        """The turn selected in the transcript (while it has focus), else None."""
        if self.selected is None or not self.has_focus:
            return None
        return self.conversation.turn(self.selected)

    def action_select_turn(self, step: int) -> None:
        ids = [t.id for t in self.conversation.turns]
        if not ids:
            return
        if self.selected in ids:
            index = max(0, min(len(ids) - 1, ids.index(self.selected) + step))
        else:
            index = len(ids) - 1 if step < 0 else 0
        self.selected = ids[index]
        for view in self.query(TurnView):
            view.set_class(view.turn.id == self.selected, SELECTED)
        if (view := self.turn(self.selected)) is not None:
            self.scroll_to_widget(view, animate=False)

    # --- citations -------------------------------------------------------------------------------

    def _citing_turn(self) -> ConversationTurn | None:
        """The turn whose citations [ and ] step through: the selected one, else the last turn
        that cites anything."""
        if (selected := self.selected_turn()) is not None:
            return selected
        return next((t for t in reversed(self.conversation.turns) if t.cited), None)

    def action_citation(self, step: int) -> None:
        turn = self._citing_turn()
        numbers = sorted(n for n in turn.cited if n <= len(turn.documents)) if turn else []
        if turn is None or not numbers:
            self.notify("This answer cites no document.")
            return
        current = self.citation[1] if self.citation and self.citation[0] == turn.id else 0
        later = [n for n in numbers if (n > current if step > 0 else n < current)]
        if later:
            number = later[0] if step > 0 else later[-1]
        else:
            number = numbers[0] if step > 0 else numbers[-1]  # wrap around
        self.citation = (turn.id, number)
        self._mark_citation()
        self.post_message(CitationSelected(turn.id, number, focus=False))

    def _mark_citation(self) -> None:
        """The cursor on the chosen citation's [n] in its answer (while this has focus)."""
        self._cursor.clear()
        if self.citation is None or not self.has_focus:
            return
        turn_id, number = self.citation
        if (view := self.turn(turn_id)) is None:
            return
        found = find_in(searchable_blocks(view.answer), f"[{number}]")
        self._cursor.show(found, None, [CITATION_CURSOR] * len(found))
        if found:
            self.scroll_to_widget(found[0].block, animate=False)

    def on_focus(self) -> None:
        self._mark_citation()

    def on_blur(self) -> None:
        self._cursor.clear()

    def action_open_citation(self) -> None:
        if self.citation is None:
            self.notify("Press ] to pick a citation first.")
            return
        turn_id, number = self.citation
        self.post_message(DocumentsPane.PreviewRequested(turn_id, number))

    # --- a question's answers --------------------------------------------------------------------

    def _stepping_target(self) -> ConversationTurn | None:
        """The turn whose answers to step through: the selected one, else the last one answered
        more than once."""
        if (selected := self.selected_turn()) is not None:
            return selected
        return next((t for t in reversed(self.conversation.turns) if len(t.answers) > 1), None)

    async def action_step_answer(self, by: int) -> None:
        turn = self._stepping_target()
        if turn is None or len(turn.answers) < 2:
            self.notify("No question here has more than one answer (ctrl+r regenerates).")
            return
        if turn.shown == -1:
            self.notify("Wait for the new answer to finish, or press Esc to cancel it.")
            return
        index = turn.shown + by
        if not 0 <= index < len(turn.answers):
            edge = "first" if index < 0 else "last"
            self.notify(f"This is the {edge} answer ({turn.position}).", timeout=2)
            return
        turn.show(index)
        if (view := self.turn(turn.id)) is not None:
            await view.show_final(turn.answer)
            view.set_note(*stored_note(turn))
        self.post_message(AnswerShown(turn.id))

    # --- find ------------------------------------------------------------------------------------

    async def find(self) -> None:
        """Open the find bar under the transcript (made on first use)."""
        parent = self.parent
        assert parent is not None
        bars = parent.query(FindBar)
        if bars:
            bar = bars.first()
        else:
            bar = FindBar(self, id="find")
            await parent.mount(bar, after=self)
        bar.open()
