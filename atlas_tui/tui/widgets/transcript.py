"""The transcript: each question, its streaming Markdown answer, and a note on how it ended."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from atlas_tui.safety import terminal_safe
from atlas_tui.tui.messages import CitationSelected
from atlas_tui.tui.stream import link_citations
from atlas_tui.tui.turns import TurnRecord

RESTORE_BATCH = 4  # reopened turns mounted at a time


class TurnView(Vertical):
    """One question and its answer."""

    def __init__(self, record: TurnRecord, note: tuple[str, str] = ("Searching…", "")) -> None:
        """`note`: the note's text and kind; a reopened turn is built with its answer and note."""
        super().__init__(id=f"turn-{record.turn_id}", classes="turn")
        self.record = record
        self._note = note
        self._stream: MarkdownStream | None = None

    def compose(self) -> ComposeResult:
        text, kind = self._note
        yield Static(Text("› " + terminal_safe(self.record.question)), classes="question")
        yield Markdown(link_citations(self.record.answer), classes="answer", open_links=False)
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
        await self.stop_stream()
        await self.answer.update("")
        self.set_note("Searching…")

    async def write(self, markdown: str) -> None:
        if self._stream is None:
            self._stream = Markdown.get_stream(self.answer)
        await self._stream.write(markdown)

    async def stop_stream(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.stop()

    async def show_final(self, answer: str) -> None:
        """The whole answer at once (the stream's text and this are the same, cleaned, text)."""
        await self.stop_stream()
        if self.answer.source != link_citations(answer):
            await self.answer.update(link_citations(answer))

    def on_markdown_link_clicked(self, event: Markdown.LinkClicked) -> None:
        event.stop()
        if event.href.startswith("cite:") and event.href[5:].isdigit():
            self.post_message(CitationSelected(self.record.turn_id, int(event.href[5:])))
        else:
            self.notify(
                f"Links in answers are not opened: {terminal_safe(event.href)}", markup=False
            )


class Transcript(VerticalScroll, can_focus=True):
    """All turns of the session, newest at the bottom, following the stream."""

    BORDER_TITLE = "Transcript"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("less_than_sign", "app.step_answer(-1)", "Earlier answer", show=False),
        Binding("greater_than_sign", "app.step_answer(1)", "Later answer", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._generation = 0  # bumped when the turns shown are replaced

    def compose(self) -> ComposeResult:
        yield Static(
            Text("Ask a question below. F1 lists every key; ctrl+p opens the command palette."),
            id="empty-hint",
        )

    async def add_turn(self, record: TurnRecord) -> TurnView:
        self.query("#empty-hint").remove()
        view = TurnView(record)
        await self.mount(view)
        self.anchor()
        return view

    async def restore(self, views: list[TurnView]) -> None:
        """Show a reopened session's turns: the newest first, then the older ones above them
        in small batches, so keys are handled between batches (Markdown is slow to mount)."""
        self._generation += 1
        generation = self._generation
        await self.query(TurnView).remove()
        await self.query("#empty-hint").remove()
        if not views:
            await self.mount(Static(Text("A new session. Ask a question below."), id="empty-hint"))
            return
        end = len(views)
        start = max(0, end - RESTORE_BATCH)
        await self.mount_all(views[start:end])
        self.scroll_end(animate=False)
        self.anchor()
        while start > 0 and generation == self._generation:
            end, start = start, max(0, start - RESTORE_BATCH)
            await self.mount_all(views[start:end], before=views[end])

    def show_title(self, session_title: str) -> None:
        """The border names the research session on screen (plain text, never markup)."""
        title = Text(self.BORDER_TITLE)
        if session_title:
            title.append(" · " + terminal_safe(session_title))
        self.border_title = title

    def turn(self, turn_id: int) -> TurnView | None:
        found = self.query(f"#turn-{turn_id}")
        return found.first(TurnView) if found else None

    async def clear_turns(self) -> None:
        self._generation += 1  # a restore still mounting older turns stops
        await self.query(TurnView).remove()
        if not self.query("#empty-hint"):
            await self.mount(Static(Text("A new session. Ask a question below."), id="empty-hint"))
