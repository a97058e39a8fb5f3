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

from atlas_tui.cli.output import one_line, say
from atlas_tui.config import Settings
from atlas_tui.errors import AtlasError, CancelledError_, GenerationError, SessionStoreError
from atlas_tui.safety import Clean, display_path, json_safe

if TYPE_CHECKING:
    from collections.abc import Generator

    from atlas_tui.conversation import Answer, Conversation
    from atlas_tui.query import AtlasQuery, Event

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
    say(f"atlas-tui: warning: {one_line(message)}", err=True)


def _conversation(
    settings: Settings, client: AtlasQuery, args: argparse.Namespace, knobs: dict[str, Any]
) -> Conversation:
    """Where the question is recorded: `--session`'s session, else a new one; unsaved (after a
    warning) when the sessions database cannot be used. An unknown `--session` is the user's
    mistake: an error, not a warning."""
    from atlas_tui.conversation import Conversation, Retrieval

    conversation = Conversation(client, settings, retrieval=Retrieval(**knobs), origin="ask")
    conversation.on_problem = warn
    lost = f" (without session {args.session}'s earlier turns)" if args.session else ""
    if not args.no_save and not conversation.open_store():
        warn(f"the answer is not saved{lost}: {conversation.problem}")
    elif conversation.saving and args.session:
        session_id = conversation.resolve(args.session)
        try:
            conversation.open_session(session_id)
        except SessionStoreError as error:
            conversation.close()
            warn(f"the answer is not saved{lost}: {error.message}")
    return conversation


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

    def write(self, text: Clean) -> None:
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


def run_ask(
    args: argparse.Namespace, settings: Settings, client: AtlasQuery, knobs: dict[str, Any]
) -> int:
    from atlas_tui.query import Delta, Done, Failed

    if not args.question.strip():
        print(
            "atlas-tui ask: the question is empty; write one, e.g. ask 'What is X?'",
            file=sys.stderr,
        )
        return 2
    out = sys.stdout
    writer = MarkdownWriter(out, rich=out.isatty() and not args.json)
    conversation: Conversation | None = None
    answer: Answer | None = None
    events: Generator[Event, None, None] | None = None
    streamed = ""
    status = 0
    try:  # from the moment the question may be stored, a Ctrl+C is recorded as a cancel
        conversation = _conversation(settings, client, args, knobs)
        answer = conversation.ask(args.question)
        events = answer.events()
        for event in events:
            shown = answer.take(event)
            if args.json:
                out.write(json_safe(json.dumps(event_json(event), ensure_ascii=False)) + "\n")
                out.flush()
            elif isinstance(shown, Delta):
                writer.write(shown.text)
            elif isinstance(shown, Done | Failed):
                writer.finish()
            if isinstance(event, Delta):
                streamed += event.text
            elif isinstance(shown, Failed):
                status = EXIT_CANCELLED if shown.cancelled else 1
                if not args.json:
                    answer_error(shown.error)
    except KeyboardInterrupt:
        if answer is not None:
            answer.cancel()
        if events is not None:
            events.close()  # the answer is stored as cancelled, with the text streamed so far
        status = EXIT_CANCELLED
        if not args.json:
            writer.finish()
            out.write("[cancelled]\n")
        else:
            cancelled = Failed(CancelledError_("Cancelled."), streamed)
            out.write(json_safe(json.dumps(event_json(cancelled), ensure_ascii=False)) + "\n")
    finally:
        if conversation is not None:
            conversation.close()  # a turn left unfinished is stored as interrupted
    documents = answer.turn.documents if answer is not None else ()
    if not args.json and documents:
        out.write("\nSources:\n")
        for number, p in enumerate(documents, 1):
            heading = f" > {p.heading}" if p.heading else ""
            page = f" (p. {p.page})" if p.page else ""
            path = display_path(p.passage.source)
            out.write(f"  [{number}] {path}{page}{heading}  ({p.score:.3f})\n")
    out.flush()
    # The process ends next. Exempting every object from the collector spares the interpreter's
    # last, slow collection over the model and index objects (seconds on a busy machine), so
    # the prompt returns when the answer (or Ctrl+C) is done, not seconds later.
    gc.freeze()
    return status


def answer_error(error: AtlasError) -> None:
    """Why the answer failed, as the error says it, with what to do (asking again, when that
    may help and the error names nothing else to do)."""
    text = error.describe()
    if isinstance(error, GenerationError) and error.retryable and not error.hint:
        text += "\nAsk again to retry."
    say(f"atlas-tui: {text}", err=True)
