"""`atlas-tui ask`: one question answered on the terminal, streamed, and recorded in a session.

On a terminal the answer's Markdown is rendered with Rich, one finished block (paragraph, quote,
list, code block) at a time as it streams; piped, or with `--json`, the text stays plain. Ctrl+C
cancels the answer at once, whatever the server is doing: the turn is stored as cancelled with the
text streamed so far, and the exit status is 130. When the sessions database cannot be used the
answer is still given, unsaved, after a one-line warning.
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import signal
import sys
from dataclasses import asdict
from typing import IO, TYPE_CHECKING, Any

from atlas_tui.config import Settings
from atlas_tui.errors import AtlasError, CancelledError_, GenerationError, SessionStoreError
from atlas_tui.safety import display_path, json_safe, terminal_safe

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery, Event
    from atlas_tui.recorder import TurnRecorder
    from atlas_tui.sessions import SessionStore

EXIT_CANCELLED = 128 + signal.SIGINT


def event_json(event: Event) -> dict[str, Any]:
    from atlas_tui.query import Delta, Done, Failed, Retrieved

    if isinstance(event, Retrieved):
        docs = [
            {"number": i, "text": p.text, **p.metadata()} for i, p in enumerate(event.documents, 1)
        ]
        return {"event": "retrieved", "documents": docs, "retrieval_ms": event.retrieval_ms}
    if isinstance(event, Delta):
        return {
            "event": "delta",
            "text": event.text,
            "citations": [asdict(c) for c in event.citations],
        }
    if isinstance(event, Done):
        return {
            "event": "done",
            "answer": event.answer,
            "citations": [asdict(c) for c in event.citations],
            "usage": asdict(event.usage),
            "timings": asdict(event.timings),
            "answerer": event.answerer,
            "extractive": event.extractive,
        }
    assert isinstance(event, Failed)
    return {
        "event": "failed",
        "error": type(event.error).__name__,
        "message": event.error.message,
        "hint": event.error.hint,
        "partial_text": event.partial_text,
        "cancelled": event.cancelled,
    }


def warn(message: str) -> None:
    print(f"atlas-tui: warning: {terminal_safe(message)}", file=sys.stderr, flush=True)


class Session:
    """Where the question is recorded: a store and a recorder, or nothing (unsaved)."""

    def __init__(self, settings: Settings, args: argparse.Namespace) -> None:
        self.store: SessionStore | None = None
        self.recorder: TurnRecorder | None = None
        self.history: list[Any] = []
        if args.no_save:
            return
        from atlas_tui.recorder import TurnRecorder
        from atlas_tui.sessions import SessionStore

        try:
            self.store = SessionStore.from_settings(settings)
        except SessionStoreError as error:
            self._unusable(error, args)
            return
        # An unknown --session is the user's mistake: an error, not a warning.
        session_id = self.store.resolve(args.session) if args.session else None
        try:
            if session_id is not None:
                self.history = self.store.history(session_id, settings.history_turns)
            else:
                session_id = self.store.create_session()
            self.recorder = TurnRecorder(self.store, session_id, args.question)
        except SessionStoreError as error:
            self._unusable(error, args)

    def _unusable(self, error: SessionStoreError, args: argparse.Namespace) -> None:
        self.close()
        self.store = self.recorder = None
        lost = f" (without session {args.session}'s earlier turns)" if args.session else ""
        warn(f"the answer is not saved{lost}: {error.message}")

    def record(self, event: Event) -> None:
        if self.recorder is None:
            return
        try:
            self.recorder.record(event)
        except SessionStoreError as error:
            self.recorder = None
            warn(f"the rest of the answer is not saved: {error.message}")

    def close(self) -> None:
        if self.store is not None:
            self.store.close()


_FENCE = re.compile(r"^\s{0,3}(?:> ?)*(`{3,}|~{3,})")


class MarkdownWriter:
    """Writes the streamed answer: rendered by Rich a block at a time, or plain."""

    def __init__(self, out: IO[str], rich: bool) -> None:
        self._out = out
        self._console: Any = None
        if rich:
            from rich.console import Console

            self._console = Console(file=out, highlight=False, soft_wrap=False)
        self._pending = ""
        self._fence = ""  # the fence of the code block the pending text is inside, if any

    def write(self, text: str) -> None:
        text = terminal_safe(text)
        if self._console is None:
            self._out.write(text)
            self._out.flush()
            return
        self._pending += text
        ready, self._pending = self._complete_blocks(self._pending)
        if ready.strip():
            self._render(ready)

    def finish(self) -> None:
        if self._console is not None and self._pending.strip():
            self._render(self._pending)
        self._pending = ""
        if self._console is None:
            self._out.write("\n")
            self._out.flush()

    def _render(self, text: str) -> None:
        from rich.markdown import Markdown

        self._console.print(Markdown(text.strip("\n")))
        self._out.flush()

    def _complete_blocks(self, text: str) -> tuple[str, str]:
        """Split off the blocks that a blank line (outside a code block) has ended."""
        cut = 0
        position = 0
        for line in text.splitlines(keepends=True):
            position += len(line)
            if not line.endswith("\n"):
                break
            fence = _FENCE.match(line)
            if fence:
                mark = fence.group(1)
                if not self._fence:
                    self._fence = mark
                elif mark.startswith(self._fence[0]) and len(mark) >= len(self._fence):
                    self._fence = ""
            elif not line.strip().lstrip(">").strip() and not self._fence:
                cut = position
        return text[:cut], text[cut:]


def run_ask(args: argparse.Namespace, settings: Settings, client: AtlasQuery, knobs: dict) -> int:
    from atlas_tui.query import Delta, Done, Failed, QueryRun, Retrieved

    if not args.question.strip():
        print(
            "atlas-tui ask: the question is empty; write one, e.g. ask 'What is X?'",
            file=sys.stderr,
        )
        return 2
    out = sys.stdout
    writer = MarkdownWriter(out, rich=out.isatty() and not args.json)
    documents: tuple[Any, ...] = ()
    streamed = ""
    status = 0
    session: Session | None = None
    run: QueryRun | None = None
    try:  # from the moment the question may be stored, a Ctrl+C is recorded as a cancel
        session = Session(settings, args)
        run = client.events(args.question, history=session.history, **knobs)
        for event in run:
            session.record(event)
            if args.json:
                out.write(json_safe(json.dumps(event_json(event), ensure_ascii=False)) + "\n")
                out.flush()
            if isinstance(event, Retrieved):
                documents = event.documents
            elif isinstance(event, Delta):
                streamed += event.text
                if not args.json:
                    writer.write(event.text)
            elif isinstance(event, Failed):
                status = EXIT_CANCELLED if event.cancelled else 1
                if not args.json:
                    writer.finish()
                    _print_error(event.error)
            elif isinstance(event, Done) and not args.json:
                writer.finish()
    except KeyboardInterrupt:
        if run is not None:
            run.cancel()
        status = EXIT_CANCELLED
        if session is not None:
            session.record(Failed(CancelledError_("Cancelled."), streamed))
        if not args.json:
            writer.finish()
            out.write("[cancelled]\n")
        else:
            cancelled = Failed(CancelledError_("Cancelled."), streamed)
            out.write(json_safe(json.dumps(event_json(cancelled), ensure_ascii=False)) + "\n")
    finally:
        if session is not None:
            session.close()
    if not args.json and documents:
        out.write("\nSources:\n")
        for number, p in enumerate(documents, 1):
            heading = f" > {p.heading}" if p.heading else ""
            page = f" (p. {p.page})" if p.page else ""
            out.write(
                terminal_safe(
                    f"  [{number}] {display_path(p.source)}{page}{heading}  ({p.score:.3f})"
                )
                + "\n"
            )
    out.flush()
    # The process ends next. Exempting every object from the collector spares the interpreter's
    # last, slow collection over the model and index objects (seconds on a busy machine), so
    # the prompt returns when the answer (or Ctrl+C) is done, not seconds later.
    gc.freeze()
    return status


def _print_error(error: AtlasError) -> None:
    text = error.describe()
    if isinstance(error, GenerationError) and error.retryable and not error.hint:
        text += "\nAsk again to retry."
    print(f"atlas-tui: {terminal_safe(text)}", file=sys.stderr)
