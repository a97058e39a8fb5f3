"""The documents pane: the passages retrieved for a question, numbered as the answer cites them.

Enter, space or a click asks for a passage's preview (`PreviewRequested`); ctrl+e asks to open it
in the editor (`EditRequested`, which the app handles). A letter typed here starts a question (the
main screen moves it to the query box), so the pane binds no bare letter."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from atlas_tui.conversation import ShownPassage
from atlas_tui.text import shorten
from atlas_tui.tui.editor import EditRequested

INNER_CHARS = 40  # a passage's own first words, when they are what tells it apart
TWO_LINES_FROM = 40  # a pane narrower than this lists one line a passage
PART_SHOWN = 8  # the least of a heading a cut second line shows
MIN_WIDTH, MIN_TRANSCRIPT_WIDTH = 24, 30  # what resizing leaves the pane and the transcript
_INNER_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)


def heading_parts(heading: str) -> list[str]:
    return [part.strip() for part in heading.split(" > ") if part.strip()]


def label(passage: ShownPassage, parts: int = 1) -> str:
    """The last `parts` levels of the heading path (the end tells passages apart), else the
    title (or the file)."""
    tail = heading_parts(passage.heading)[-parts:]
    return " › ".join(tail) if tail else passage.title or passage.source


def inner_heading(passage: ShownPassage) -> str:
    """The first heading inside the passage's text (a passage may span sub-sections), else
    the first words of its first line: what tells apart passages sharing a heading path."""
    found = _INNER_HEADING.search(passage.text)
    first_line = next((line for line in passage.text.splitlines() if line.strip()), "")
    return shorten(found[1] if found else first_line, INNER_CHARS)


def distinguishing(documents: Sequence[ShownPassage]) -> list[tuple[str, int]]:
    """For each passage, what its first line shows and how many heading levels that took:
    the last heading; the last two where others share the last; else the passage's own first
    heading or words (0 levels: the whole path goes on the second line)."""
    once = Counter(label(p) for p in documents)
    twice = Counter(label(p, 2) for p in documents)
    shown = []
    for p in documents:
        if once[label(p)] == 1:
            shown.append((label(p), 1))
        elif twice[label(p, 2)] == 1:
            shown.append((label(p, 2), 2))
        else:
            shown.append((inner_heading(p), 0))
    return shown


def document_prompt(
    number: int,
    passage: ShownPassage,
    cited: bool,
    shown: tuple[str, int] | None = None,
    width: int | None = None,
) -> Text:
    """What tells the passage apart (`shown`: the text and the heading levels it took, see
    `distinguishing`) and the score; then, on a second line, the file and the rest of the heading
    path, as much of it as `width` holds (levels cut from the end, marked …). A pane narrower
    than TWO_LINES_FROM gets the first line only, without the score. The first line is cut here,
    at a word, to the `width` (the score left out when the text does not fit with it), never by
    the pane: a cut of the pane's own would meet the text's ellipsis ("… …")."""
    text, levels = shown or (label(passage), 1)
    parts = heading_parts(passage.heading)
    head = parts[: len(parts) - levels] if levels else parts
    mark = "●" if cited else " "
    number_part = f"{mark}[{number}] "
    score = f"  {passage.score:.2f}"
    narrow = width is not None and width < TWO_LINES_FROM
    with_score = not narrow
    if width is not None:
        line_room = max(1, width - len(number_part))
        with_score = with_score and len(text) + len(score) <= line_room
        text = shorten(text, line_room)  # as it was when it fits
    prompt = Text()
    prompt.append(number_part, style="bold underline" if cited else "bold")
    prompt.append(text)
    if narrow:
        return prompt  # one line: what tells it apart (its score is in the preview)
    if with_score:
        prompt.append(score, style="dim")
    page = f" (p. {passage.page})" if passage.page is not None else ""
    where = "    " + passage.source
    for part in head:
        room = len(part) if width is None else width - len(where) - 3 - len(page)
        if room >= len(part):
            where += " › " + part
            continue
        # cut within a part only where enough of it shows to be read; never "file ›…"
        where += f" › {shorten(part, room)}" if room >= PART_SHOWN else "…"
        break
    prompt.append("\n" + where + page, style="dim")
    return prompt


class DocumentsPane(OptionList):
    """Select (Enter, click) a document to open its preview."""

    BORDER_TITLE = "Documents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "select", "Preview", show=False),
        Binding("ctrl+e", "edit", "Open in $EDITOR", id="documents.edit"),
    ]

    class PreviewRequested(Message):
        def __init__(self, turn_id: int, number: int) -> None:
            super().__init__()
            self.turn_id = turn_id
            self.number = number

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.turn_id: int | None = None
        self.documents: tuple[ShownPassage, ...] = ()
        self.cited: set[int] = set()
        self._drawn_for: int | None = None  # the width the passages were drawn for

    def show(self, turn_id: int, documents: tuple[ShownPassage, ...], cited: set[int]) -> None:
        self.turn_id, self.documents, self.cited = turn_id, documents, set(cited)
        self.clear_options()
        shown = distinguishing(documents)
        width = self.scrollable_content_region.width or None
        self._drawn_for = width
        self.add_options(
            Option(document_prompt(i, p, i in cited, shown[i - 1], width), id=f"doc-{i}")
            for i, p in enumerate(documents, 1)
        )
        self.border_subtitle = f"{len(documents)} found" if documents else "none found"
        if documents:
            self.highlighted = 0

    def on_resize(self) -> None:
        """The passages drawn again for the new width (one line or two, paths cut to fit)."""
        if self.documents and self.scrollable_content_region.width != self._drawn_for:
            highlighted = self.highlighted
            self.show(self.turn_id or 0, self.documents, self.cited)
            self.highlighted = highlighted

    def resize(self, width: int, screen_width: int) -> None:
        """Make the pane `width` cells wide, within bounds (ctrl+left/right, the splitter)."""
        most = max(MIN_WIDTH, screen_width - MIN_TRANSCRIPT_WIDTH)
        width = max(MIN_WIDTH, min(most, width))
        self.styles.max_width = width  # the stylesheet's cap gives way to the user's choice
        self.styles.width = width

    def select_number(self, number: int) -> bool:
        """Highlight document `number` (1-based); False when there is no such document."""
        if not 1 <= number <= len(self.documents):
            return False
        self.highlighted = number - 1
        return True

    def action_edit(self) -> None:
        """Open the highlighted passage in $EDITOR at its line."""
        index = self.highlighted
        if index is None or not 0 <= index < len(self.documents):
            self.notify("No document is selected.")
            return
        self.post_message(EditRequested(self.documents[index].passage))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.turn_id is not None:
            self.post_message(self.PreviewRequested(self.turn_id, event.option_index + 1))


class Splitter(Widget):
    """The border between the transcript and the documents pane: drag it to resize."""

    DEFAULT_CSS = """
    Splitter { width: 1; height: 1fr; }
    Splitter:hover, Splitter.-dragging { background: $primary 50%; }
    """

    class Dragged(Message):
        def __init__(self, screen_x: int) -> None:
            super().__init__()
            self.screen_x = screen_x

    def render(self) -> str:
        return ""

    def on_mouse_down(self, event: events.MouseDown) -> None:
        self.capture_mouse()
        self.add_class("-dragging")

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self.has_class("-dragging"):
            self.post_message(self.Dragged(event.screen_x))

    def on_mouse_up(self, event: events.MouseUp) -> None:
        self.release_mouse()
        self.remove_class("-dragging")
