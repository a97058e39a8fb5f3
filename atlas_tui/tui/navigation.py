"""Moving around the main screen by keyboard: whose keys are live, typing from any pane, the
transcript's turns and citations, and the split between the transcript and the documents pane.

- The main screen's keys act only while the main screen is the one shown (`check_action`): on
  the sessions screen, help, a preview or a dialog they are neither listed nor run.
- A printable key typed in the transcript or the documents pane goes to the query box.
- In the transcript, shift+up/down selects a turn (ctrl+t copies it), ] and [ step through the
  selected (else the last) answer's citations, Enter opens the cited passage.
"""

from __future__ import annotations

import time
from functools import cache

from textual import events
from textual.app import App
from textual.binding import Binding
from textual.notifications import SeverityLevel
from textual.widgets import Input, TextArea

from atlas_tui.safety import terminal_safe
from atlas_tui.tui.turns import TurnRecord
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.query_box import QueryBox
from atlas_tui.tui.widgets.transcript import Transcript, TurnView

ANYWHERE = frozenset({"quit", "command_palette"})  # app actions live on every screen
TRANSCRIPT_ONLY = frozenset({"citation", "open_citation", "select_turn"})
SELECTED = "-selected"
TYPING_WINDOW_S = 0.5  # a key this recent holds back the streaming answer's next update
MIN_DOCUMENTS_WIDTH, MIN_TRANSCRIPT_WIDTH = 24, 30
MAX_TOASTS = 2  # more would stack over the answer; the oldest goes first


class NavigationMixin(App[None]):
    """The navigation part of AtlasApp (which defines `turns`, `_record` and the panes)."""

    turns: list[TurnRecord]
    _selected_turn: int | None  # turn_id selected in the transcript
    _citation: tuple[int, int] | None  # (turn_id, number) stepped to with [ and ]

    def _record(self, turn_id: int) -> TurnRecord | None:
        return next((t for t in self.turns if t.turn_id == turn_id), None)

    @classmethod
    @cache
    def main_actions(cls) -> frozenset[str]:
        """The actions bound by the app and its mixins (not Textual's own)."""
        return frozenset(
            binding.action.split("(")[0]
            for klass in cls.__mro__
            if klass.__module__.startswith("atlas_tui.")
            for binding in klass.__dict__.get("BINDINGS", ())
            if isinstance(binding, Binding)
        )

    @property
    def on_main_screen(self) -> bool:
        return len(self.screen_stack) == 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ANYWHERE or action not in self.main_actions():
            return True
        if not self.on_main_screen:
            return False  # another screen (or a dialog) owns the keys
        if action in TRANSCRIPT_ONLY:
            return isinstance(self.focused, Transcript)
        return True

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
        name in a message must not reach the terminal as an escape sequence."""
        super().notify(
            terminal_safe(message),
            title=terminal_safe(title),
            severity=severity,
            timeout=timeout,
            markup=markup,
        )
        self.call_later(self._trim_toasts)  # after the notification is added

    def _trim_toasts(self) -> None:
        for old in list(self._notifications)[:-MAX_TOASTS]:
            self._unnotify(old)

    # --- typing from any pane --------------------------------------------------------------------

    _last_key_at: float = 0.0

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key) and not event.is_forwarded:
            self._last_key_at = time.monotonic()  # (read by the answer worker: typing_now)
            self._typing_goes_to_the_box(event)
        await super().on_event(event)

    def typing_now(self) -> bool:
        """Whether the user is typing (a key within `TYPING_WINDOW_S`): typing comes first."""
        return time.monotonic() - self._last_key_at < TYPING_WINDOW_S

    def _typing_goes_to_the_box(self, event: events.Key) -> None:
        """A printable key no binding takes, typed outside the query box, starts a question.

        Decided as the app receives the key, before it is sent to the focused pane: the focus
        moves first, so this key and every key after it go to the box in the order typed (handing
        keys on from the pane they reached had let later keys overtake them)."""
        if not (event.is_printable and event.character) or not self.on_main_screen:
            return
        if isinstance(self.focused, (TextArea, Input)):
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.enabled:
            return  # a key of the focused pane (e.g. ] in the transcript): its binding acts
        self.screen.set_focus(self.query_one(QueryBox))

    # --- turns and citations in the transcript ---------------------------------------------------

    def _turn_number(self, turn_id: int) -> int:
        """The position of a turn in the transcript (1-based), as the user counts turns."""
        return next((i for i, t in enumerate(self.turns, 1) if t.turn_id == turn_id), 0)

    def selected_record(self) -> TurnRecord | None:
        """The turn selected in the transcript (while it has focus), else None."""
        if self._selected_turn is None or not isinstance(self.focused, Transcript):
            return None
        return self._record(self._selected_turn)

    def action_select_turn(self, step: int) -> None:
        if not self.turns:
            return
        ids = [t.turn_id for t in self.turns]
        if self._selected_turn in ids:
            index = max(0, min(len(ids) - 1, ids.index(self._selected_turn) + step))
        else:
            index = len(ids) - 1 if step < 0 else 0
        self._mark_selected(ids[index])

    def _mark_selected(self, turn_id: int | None) -> None:
        self._selected_turn = turn_id
        for view in self.query(TurnView):
            view.set_class(view.record.turn_id == turn_id, SELECTED)
        view = self.query_one(Transcript).turn(turn_id) if turn_id is not None else None
        if view is not None:
            self.query_one(Transcript).scroll_to_widget(view, animate=False)

    def _citing_turn(self) -> TurnRecord | None:
        """The turn whose citations [ and ] step through: the selected one, else the last
        turn that cites anything."""
        if (selected := self.selected_record()) is not None:
            return selected
        return next((t for t in reversed(self.turns) if t.cited), None)

    def action_citation(self, step: int) -> None:
        record = self._citing_turn()
        numbers = sorted(n for n in record.cited if n <= len(record.documents)) if record else []
        if record is None or not numbers:
            self.notify("This answer cites no document.")
            return
        current = self._citation[1] if self._citation and self._citation[0] == record.turn_id else 0
        later = [n for n in numbers if (n > current if step > 0 else n < current)]
        if later:
            number = later[0] if step > 0 else later[-1]
        else:
            number = numbers[0] if step > 0 else numbers[-1]  # wrap around
        self._citation = (record.turn_id, number)
        self._show_turn_documents(record)
        self.query_one(DocumentsPane).select_number(number)

    def action_open_citation(self) -> None:
        if self._citation is None:
            self.notify("Press ] to pick a citation first.")
            return
        turn_id, number = self._citation
        self.post_message(DocumentsPane.PreviewRequested(turn_id, number))

    def _show_turn_documents(self, record: TurnRecord) -> None:
        pane = self.query_one(DocumentsPane)
        if pane.turn_id != record.turn_id:
            pane.show(record.turn_id, record.documents, record.cited)
        pane.display = True
        self.label_documents()

    def label_documents(self) -> None:
        """The pane's title says which turn its documents belong to."""
        pane = self.query_one(DocumentsPane)
        number = self._turn_number(pane.turn_id or 0)
        pane.border_title = f"Documents for turn {number}" if number else "Documents"

    # --- the split -------------------------------------------------------------------------------

    def action_resize_documents(self, step: int) -> None:
        self.set_documents_width(self.query_one(DocumentsPane).outer_size.width + step)

    def set_documents_width(self, width: int) -> None:
        pane = self.query_one(DocumentsPane)
        most = max(MIN_DOCUMENTS_WIDTH, self.size.width - MIN_TRANSCRIPT_WIDTH)
        width = max(MIN_DOCUMENTS_WIDTH, min(most, width))
        pane.styles.max_width = width  # the stylesheet's cap gives way to the user's choice
        pane.styles.width = width
