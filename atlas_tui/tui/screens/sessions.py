"""The sessions screen: list, search, open, rename and delete research sessions, with a preview of
the selected session's questions.

Sessions titled alike are told apart by when each was started, how many turns it has and what
recorded it (the TUI or `atlas-tui ask`). Down from the search box goes to the list.

`SessionsScreen(library)` dismisses with the id of the session to resume, or None. Titles, questions
and answers come cleaned from the library and are shown as plain `Text`, never parsed as markup.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from atlas_tui.conversation import SessionLibrary
from atlas_tui.errors import SessionStoreError
from atlas_tui.sessions import SessionSummary
from atlas_tui.text import ELLIPSIS, one_line
from atlas_tui.tui.screens.dialogs import ConfirmScreen, PromptScreen

UNTITLED = "Untitled session"


def shown_title(summary: SessionSummary) -> str:
    return summary.title or UNTITLED


def last_used(timestamp: float, now: datetime | None = None) -> str:
    """When a session was last used, as a person says it: "5 min ago", "yesterday 14:03"."""
    now = now or datetime.now()
    then = datetime.fromtimestamp(timestamp)
    seconds = (now - then).total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    days = (now.date() - then.date()).days
    if days == 0:
        return f"today {then:%H:%M}"
    if days == 1:
        return f"yesterday {then:%H:%M}"
    return f"{then:%Y-%m-%d}"


def started(timestamp: float) -> str:
    """When a session was started, to the minute."""
    return f"{datetime.fromtimestamp(timestamp):%Y-%m-%d %H:%M}"


ORIGINS = {"tui": "TUI", "ask": "ask"}
FIXED_COLUMNS = 16 + 14 + 6 + 6 + 10  # started, last used, turns, from; their gaps
TEXT_GAPS = 2 * 2 + 2  # the title's and the match's gaps, and a scrollbar
MIN_TITLE, MIN_MATCH = 12, 8
PREVIEW_QUESTIONS = 50


def from_match(snippet: str, words: list[str]) -> str:
    """The snippet on one line, from its first match of `words` on (marked … where words were
    left out before it), so that a narrow column shows what matched."""
    line = one_line(snippet)
    pattern = r"\b(?:" + "|".join(map(re.escape, words)) + ")"
    found = re.search(pattern, line, re.IGNORECASE) if words else None
    if found is None or found.start() == 0 or line[: found.start()].strip(" …") == "":
        return line
    return ELLIPSIS + line[found.start() :]


class SessionsScreen(Screen[str | None]):
    """Research sessions, the most recent first, with full-text search of questions and answers."""

    DEFAULT_CSS = """
    SessionsScreen #sessions-search { margin: 0 0 1 0; }
    SessionsScreen #sessions-table { height: 1fr; }
    SessionsScreen #sessions-empty { color: $text-muted; padding: 1 2; }
    SessionsScreen #sessions-preview {
        height: 30%;
        min-height: 4;
        border: round $primary 40%;
        border-title-color: $text-muted;
        padding: 0 1;
    }
    SessionsScreen #sessions-preview-text { color: $text-muted; }
    """
    AUTO_FOCUS = "#sessions-table"  # at once: a key typed right after ctrl+l acts on the list

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Back"),
        Binding("enter", "open", "Open", show=True),
        Binding("r", "rename", "Rename"),
        Binding("d,delete", "delete", "Delete"),
        # priority: the focus moves as the key comes, so the keys typed after it follow it
        Binding("slash", "focus_search", "Search", priority=True),
        Binding("down", "focus_list", "List", show=False, priority=True),
    ]

    def __init__(self, library: SessionLibrary) -> None:
        super().__init__()
        self.library = library
        self._summaries: dict[str, SessionSummary] = {}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="Search questions and answers…  (/)", id="sessions-search")
        yield DataTable(id="sessions-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="sessions-empty")
        with VerticalScroll(id="sessions-preview"):
            yield Static("", id="sessions-preview-text")
        yield Footer()

    def on_mount(self) -> None:
        self.reload()

    def _columns(self, table: DataTable[object], searching: bool) -> None:
        """The table's columns, within the screen's width: the title takes what the others leave
        (a third of it while searching, the rest going to the match, whose snippet is then cut
        with an ellipsis inside the screen, never by its edge; both at least MIN_TITLE and
        MIN_MATCH wide on a very narrow screen)."""
        room = max(MIN_TITLE + MIN_MATCH, self.app.size.width - FIXED_COLUMNS - TEXT_GAPS)
        title = min(48, max(MIN_TITLE, room // 3) if searching else room - len("Match"))
        table.clear(columns=True)
        table.add_column("Title", key="title", width=title)
        table.add_column("Started", key="created")
        table.add_column("Last used", key="updated")
        table.add_column("Turns", key="turns")
        table.add_column("From", key="origin")
        table.add_column("Match", key="match", width=max(MIN_MATCH, room - title))

    # --- the list ---------------------------------------------------------------------------------

    @property
    def search_text(self) -> str:
        return self.query_one("#sessions-search", Input).value.strip()

    def reload(self, select: str | None = None) -> None:
        """Fill the table from the store (filtered by the search box), keeping the selection."""
        table = self.query_one(DataTable)
        select = select or self.selected_id
        try:
            summaries = self.library.sessions()
            hits = self.library.search(self.search_text) if self.search_text else []
        except SessionStoreError as error:
            self.notify(error.describe(), severity="error", title="Sessions", markup=False)
            return
        self._summaries = {s.id: s for s in summaries}
        if self.search_text:
            snippets: dict[str, str] = {}
            for hit in hits:
                snippets.setdefault(hit.session_id, hit.snippet)
            rows = [(self._summaries[sid], snippet) for sid, snippet in snippets.items()]
        else:
            rows = [(summary, "") for summary in summaries]
        self._columns(table, bool(self.search_text))
        words = re.findall(r"\w+", self.search_text)
        for summary, snippet in rows:
            match = Text(from_match(snippet, words), no_wrap=True, overflow="ellipsis")
            match.highlight_words(words, style="bold reverse", case_sensitive=False)
            table.add_row(
                Text(shown_title(summary), no_wrap=True, overflow="ellipsis"),
                started(summary.created),
                last_used(summary.updated),
                Text(str(summary.turns), justify="right"),
                ORIGINS.get(summary.origin, "–"),
                match,
                key=summary.id,
            )
        if select in self._summaries and any(s.id == select for s, _ in rows):
            table.move_cursor(row=table.get_row_index(select))
        self._show_empty_note(bool(rows))
        self._preview(self.selected_id)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._preview(str(event.row_key.value) if event.row_key.value is not None else None)

    def _preview(self, session_id: str | None) -> None:
        """The selected session's questions, numbered, below the list."""
        box = self.query_one("#sessions-preview")
        text = self.query_one("#sessions-preview-text", Static)
        summary = self._summaries.get(session_id or "")
        if summary is None:
            box.border_title = "Questions"
            text.update("")
            return
        try:
            questions = self.library.questions(summary.id, PREVIEW_QUESTIONS)
        except SessionStoreError as error:
            text.update(Text(error.describe()))
            return
        box.border_title = Text(f"Questions · {shown_title(summary)}")
        lines = Text("\n").join(Text(f"{n}. {q}") for n, q in enumerate(questions, 1))
        if summary.turns > len(questions):
            lines.append(f"\n… and {summary.turns - len(questions)} more")
        text.update(lines if questions else Text("No question yet."))

    def _show_empty_note(self, any_rows: bool) -> None:
        note = self.query_one("#sessions-empty", Static)
        if any_rows:
            note.update("")
        elif self.search_text:
            note.update(Text(f"No question or answer matches “{self.search_text}”."))
        else:
            note.update("No research sessions yet: ask a question to start one.")

    @property
    def selected_id(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    @on(Input.Changed, "#sessions-search")
    def _search(self) -> None:
        self.reload()

    @on(Input.Submitted, "#sessions-search")
    def _search_done(self) -> None:
        self.set_focus(self.query_one(DataTable))

    @on(DataTable.RowSelected)
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dismiss(str(event.row_key.value))

    # --- actions ----------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """/ goes to the search box from the list (in the box it is typed); Down goes to the
        list from the search box (in the list it moves the cursor)."""
        in_search = self.focused is self.query_one("#sessions-search", Input)
        if action == "focus_search":
            return not in_search
        if action == "focus_list":
            return in_search
        return True

    def action_focus_search(self) -> None:
        self.set_focus(self.query_one("#sessions-search", Input))

    def action_focus_list(self) -> None:
        self.set_focus(self.query_one(DataTable))

    def action_open(self) -> None:
        if session_id := self.selected_id:
            self.dismiss(session_id)

    def action_close(self) -> None:
        search = self.query_one("#sessions-search", Input)
        if search.value:
            search.value = ""  # the first Escape clears the search, the second leaves
            self.set_focus(self.query_one(DataTable))
        else:
            self.dismiss(None)

    def action_rename(self) -> None:
        session_id = self.selected_id
        if session_id is None:
            return
        summary = self._summaries[session_id]

        def renamed(title: str | None) -> None:
            if title is None:
                return
            try:
                self.library.rename(session_id, title)
            except SessionStoreError as error:
                self.notify(error.describe(), severity="error", title="Rename", markup=False)
            self.reload(select=session_id)

        self.app.push_screen(
            PromptScreen("Rename the session:", summary.title, allow_empty=False),
            renamed,
        )

    def action_delete(self) -> None:
        session_id = self.selected_id
        if session_id is None:
            return
        summary = self._summaries[session_id]

        def confirmed(delete: bool | None) -> None:
            if not delete:
                return
            try:
                self.library.delete(session_id)
            except SessionStoreError as error:
                self.notify(error.describe(), severity="error", title="Delete", markup=False)
            else:
                self.notify(f"Deleted “{shown_title(summary)}”.", title="Sessions", markup=False)
            self.reload()

        turns = summary.turns
        question = Text("Delete ")
        question.append(shown_title(summary), style="bold")
        question.append(f" and its {turns} turn{'' if turns == 1 else 's'}?")
        question.append("\nThis cannot be undone.", style="dim")
        self.app.push_screen(
            ConfirmScreen(question, "Delete (y)", "Keep (n)", danger=True), confirmed
        )
