"""Answering a question: the thread worker over the client's event stream, and its messages.

The worker records every event into the research session (question at submit, documents on
arrival, the answer while it streams, how it ended) and posts messages; the handlers here update
the transcript, the documents pane and the status line. Nothing here blocks the UI thread.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from textual import work

from atlas_tui.config import Settings
from atlas_tui.errors import AtlasError, CancelledError_
from atlas_tui.query import AtlasQuery, Delta, Done, Event, Failed, QueryRun, Retrieved
from atlas_tui.safety import terminal_safe
from atlas_tui.tui.keeper import SessionKeeper, Ticket
from atlas_tui.tui.messages import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    DocumentsRetrieved,
    IndexSized,
    QuerySubmitted,
)
from atlas_tui.tui.navigation import NavigationMixin
from atlas_tui.tui.notices import failure_notice, index_summary
from atlas_tui.tui.stream import DeltaBatcher, cited_numbers
from atlas_tui.tui.turns import TurnRecord, answer_note, session_usage
from atlas_tui.tui.widgets.documents import DocumentsPane
from atlas_tui.tui.widgets.status import StatusLine
from atlas_tui.tui.widgets.transcript import Transcript, TurnView
from atlas_tui.types import Turn

CANCELLED_BEFORE_START = "Cancelled before the answer started."


class AnsweringMixin(NavigationMixin):
    """The asking half of AtlasApp (which sets these attributes up)."""

    settings: Settings
    client: AtlasQuery
    keeper: SessionKeeper
    search_mode: str
    source_filter: str
    turns: list[TurnRecord]
    _next_turn: int
    _warmed: threading.Event
    _stop: threading.Event
    _run: QueryRun | None
    _run_lock: threading.Lock
    _answering: int | None

    async def on_query_submitted(self, message: QuerySubmitted) -> None:
        self._cancel_run()
        record = TurnRecord(self._next_turn, message.text)
        self._next_turn += 1
        self.turns.append(record)
        await self.query_one(Transcript).add_turn(record)
        self._start_answer(record)

    def _start_answer(self, record: TurnRecord) -> None:
        record.status = "pending"
        self._answering = record.turn_id
        view = self._view(record.turn_id)
        if view is not None and not self._warmed.is_set():
            view.set_note("Waiting for the model to load…")
        # the turns on screen are the session's turns (reopened ones included)
        history = [t.as_turn() for t in self.turns if t.status == "done" and t is not record]
        limit = max(self.settings.history_turns, 0)
        ticket = self.keeper.ticket()  # now, on the UI thread: ctrl+n right after cannot move it
        self._answer(record.turn_id, record.question, history[len(history) - limit :], ticket)

    @work(thread=True, exit_on_error=False, group="answer")
    def _answer(self, turn_id: int, question: str, history: list[Turn], ticket: Ticket) -> None:
        record = self._record(turn_id)
        attempt = record.attempt if record is not None else 0
        regenerate = None
        if record is not None and attempt:  # answered again: the same stored turn
            self.keeper.wait_idle()  # the cancelled answer to this question is stored first
            regenerate = record.stored_id
        with self.keeper.recording(question, regenerate, ticket=ticket) as recording:
            if record is not None and recording.turn_id is not None:
                record.stored_id = recording.turn_id
            if not self._wait_for_client(turn_id):
                recording.record(Failed(CancelledError_(CANCELLED_BEFORE_START)))
                return

            def emit(text: str) -> None:
                if self._current(turn_id, attempt):
                    self.post_message(AnswerDelta(turn_id, text))

            with DeltaBatcher(emit, typing=self.typing_now) as batcher:
                try:
                    for event in self._events(turn_id, question, history):
                        recording.record(event)
                        if self._current(turn_id, attempt):
                            self._show(turn_id, event, batcher)
                except Exception as error:  # never let a bug kill the app: show it in place
                    self.log.error("answer worker failed", error)
                    message = f"Unexpected error while answering: {terminal_safe(str(error))}"
                    failed = Failed(AtlasError(message), batcher.total)
                    recording.record(failed)
                    if self._current(turn_id, attempt):
                        self._show(turn_id, failed, batcher)
                finally:
                    with self._run_lock:
                        if self._answering == turn_id:
                            self._run = None
        self._measure_index()

    def _measure_index(self) -> None:
        """The status line's index size, again after each answer: on a shared index other
        machines ingest meanwhile, and the answer may cite documents the count left out."""
        try:
            summary = index_summary(self.client.stats())
        except AtlasError as error:  # (the answer said what is wrong; the count stays)
            self.log.warning("the index size was not measured again", error)
            return
        self.post_message(IndexSized(summary))

    def on_index_sized(self, message: IndexSized) -> None:
        if not self._stop.is_set():
            self.query_one(StatusLine).index = message.index

    def _wait_for_client(self, turn_id: int) -> bool:
        """Wait for the model to warm; False when the answer was cancelled (or the app quits)."""
        while not self._warmed.wait(0.05):
            if self._stop.is_set() or self._answering != turn_id:
                return False
        return True

    def _events(self, turn_id: int, question: str, history: list[Turn]) -> Iterator[Event]:
        run = self.client.events(
            question,
            history=history,
            mode=self.search_mode,
            source=self.source_filter or None,
            model=self.keeper.model or None,
            system_prompt=self.keeper.system_prompt or None,
        )
        with self._run_lock:
            if self._answering != turn_id or self._stop.is_set():
                run.cancel()
            self._run = run
        yield from run

    def _show(self, turn_id: int, event: Event, batcher: DeltaBatcher) -> None:
        if isinstance(event, Retrieved):
            self.post_message(DocumentsRetrieved(turn_id, event.documents, event.retrieval_ms))
        elif isinstance(event, Delta):
            batcher.feed(event.text)
        else:
            batcher.close()  # the held-back text first: the answer is whole before it is final
            if isinstance(event, Done):
                self.post_message(AnswerDone(turn_id, event))
            else:
                self.post_message(AnswerFailed(turn_id, event))

    def _keep_answer(self, record: TurnRecord) -> None:
        """The finished answer joins the turn's answers; after a regeneration the earlier ones
        are taken from the session store (it also kept an answer cancelled mid-stream)."""
        record.keep_answer()
        if record.attempt and record.stored_id is not None:
            earlier = self.keeper.earlier_answers(record.stored_id)
            if earlier is not None:
                record.answers = [*earlier, record.answers[-1]]
                record.shown = len(record.answers) - 1

    def _current(self, turn_id: int, attempt: int) -> bool:
        """False once the turn was regenerated: an older attempt's events are not shown."""
        record = self._record(turn_id)
        return record is not None and record.attempt == attempt

    def _view(self, turn_id: int) -> TurnView | None:
        return self.query_one(Transcript).turn(turn_id)

    def on_documents_retrieved(self, message: DocumentsRetrieved) -> None:
        record, view = self._record(message.turn_id), self._view(message.turn_id)
        if record is None or view is None:
            return
        record.documents, record.status = message.documents, "streaming"
        self.query_one(DocumentsPane).show(record.turn_id, record.documents, set())
        self.label_documents()
        view.set_note(
            f"{len(message.documents)} documents · answering…"
            if message.documents
            else "No documents matched · answering…"
        )

    async def on_answer_delta(self, message: AnswerDelta) -> None:
        record, view = self._record(message.turn_id), self._view(message.turn_id)
        if record is None or view is None:
            return
        await view.write(message.text)

    async def on_answer_done(self, message: AnswerDone) -> None:
        record, view = self._record(message.turn_id), self._view(message.turn_id)
        if record is None or view is None:
            return
        done = message.done
        record.answer, record.citations = terminal_safe(done.answer), done.citations
        record.answerer, record.timings = done.answerer, done.timings
        record.cited = cited_numbers(record.answer) | {c.number for c in done.citations if c.valid}
        record.model, record.usage = done.model, done.usage_record()
        self._keep_answer(record)
        await view.show_final(record.answer)
        view.set_note(answer_note(record))
        pane = self.query_one(DocumentsPane)
        if pane.turn_id == record.turn_id:
            pane.show(record.turn_id, record.documents, record.cited)
        timings = done.timings
        speed = []
        if timings.first_token_ms is not None:
            speed.append(f"first token {timings.first_token_ms / 1000:.2f} s")
        if timings.tokens_per_s is not None:
            speed.append(f"{timings.tokens_per_s:.0f} tok/s")
        status = self.query_one(StatusLine)
        status.speed = "  ".join(speed)
        status.usage = session_usage(self.turns)
        record.status = "done"  # last: whoever waits for it sees the whole turn on screen

    async def on_answer_failed(self, message: AnswerFailed) -> None:
        record, view = self._record(message.turn_id), self._view(message.turn_id)
        if record is None or view is None:
            return
        failed = message.failed
        record.answer = terminal_safe(failed.partial_text) or record.answer
        record.error = "" if failed.cancelled else failed.error.message
        self._keep_answer(record)
        await view.show_final(record.answer)
        where = f" · {record.position} (alt+←/→)" if record.position else ""
        again = f" {self._regenerate_key()} regenerates."
        if failed.cancelled:
            view.set_note("Cancelled: the partial answer is kept." + again + where, "cancelled")
        else:
            retry = again if failed.error.retryable else ""
            view.set_note(failure_notice(failed.error) + retry + where, "error")
        record.status = "cancelled" if failed.cancelled else "failed"  # last, as above

    # --- cancel and regenerate -------------------------------------------------------------------

    def _regenerate_key(self) -> str:
        """The key that regenerates, as the footer shows it (the keymap may have moved it)."""
        for active in self.screen.active_bindings.values():
            if active.binding.action == "regenerate":
                return self.get_key_display(active.binding)
        return "ctrl+r"

    def _cancel_run(self) -> bool:
        with self._run_lock:
            was_running = self._answering is not None
            self._answering = None
            if self._run is not None:
                self._run.cancel()
        return was_running

    def action_cancel(self) -> None:
        turn_id = self._answering
        if not self._cancel_run():
            return
        record, view = self._record(turn_id or 0), self._view(turn_id or 0)
        if record is not None and view is not None and record.status == "pending":
            # still waiting for the model: there is no stream to report the cancel
            record.status = "cancelled"
            view.set_note(CANCELLED_BEFORE_START, "cancelled")

    async def action_regenerate(self) -> None:
        if not self.turns:
            self.notify("Nothing to regenerate yet.")
            return
        self._cancel_run()
        record = self.turns[-1]
        if record.damaged:
            self.notify("This turn is damaged: ask its question again instead.", markup=False)
            return
        record.start_again()  # one turn: its earlier answers stay, to step through
        view = self._view(record.turn_id)
        if view is not None:
            await view.reset()
        self._start_answer(record)
