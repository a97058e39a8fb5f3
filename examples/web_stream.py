"""A small web page that streams answers over server-sent events (standard library only).

    python examples/web_stream.py [PORT] [--question TEXT]

Listens on 127.0.0.1 only; PORT 0 (the default) picks a free port, and the address is printed.
GET / serves the page; GET /ask?q=QUESTION streams the answer as server-sent events:

    event: sources   data: [{"number": 1, "source": ..., "heading": ..., "score": ...}, ...]
    (message)        data: {"text": "a piece", "citations": [{"number": 1, "cited_text": ...}]}
    event: failed    data: {"message": "what went wrong", "partial_text": ...}   (only on failure)
    event: done      data: {"answerer": ..., "extractive": ..., "citations": [...]}  (always last)

Every payload is JSON, so newlines and quotes in the text cannot break the stream's framing. The
page (web_stream.html) streams the answer in with each [n] linked to its source (path, heading and
the cited text), keeps the partial answer and shows the error when the stream breaks, and has a
Cancel button (closing the stream cancels the answer here). It inserts every piece of text with
`textContent` or as a text node, never as HTML.

This is our working port of the Atlas documentation's Flask SSE route, which cannot work as
written, and what it fixes:
- Its `callback(delta, full_text)` contains `yield`, which makes it a generator function: each
  call by `query_streaming` only creates a generator and runs none of its body, so no text is ever
  sent; the client sees the final `done` (or an error) and nothing else. Here the handler iterates
  the query client's event stream (`client.events()`), so each piece is written as it arrives.
- It uses `request` (for `request.json`) without importing it: a NameError on every call. Here
  the question comes from the query string of a GET, which an `EventSource` can send (it cannot
  POST a JSON body at all).
- A browser that goes away is noticed (a broken pipe) and the answer is cancelled, instead of the
  answer running on to its end for nobody; failures arrive as an `event: failed` with the partial
  text, and `done` always comes last.
- The standard library's `http.server` instead of Flask: the example needs nothing to install.
- Listening on 127.0.0.1 is not enough: any page the user's browser opens can reach it. Every
  request must name this server (`Host`: a loopback name, so DNS rebinding fails) and come from
  its own page (`Origin`; and for /ask, `Sec-Fetch-Site`, which a browser sends even on a plain
  cross-site GET): the rule `atlas-tui serve` applies (atlas_tui/web/guard.py). A refused request
  gets a 403 and runs nothing.
"""

from __future__ import annotations

import argparse
import html
import json
import select
import socket
import sys
import threading
from collections.abc import Iterator, Sequence
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from _shared import DEFAULT_QUESTION, print_error

from atlas_tui import (
    AtlasError,
    AtlasQuery,
    Citation,
    Delta,
    Done,
    Event,
    Failed,
    QueryRun,
    Retrieved,
    create_query_client,
)
from atlas_tui.safety import terminal_safe
from atlas_tui.web.guard import RequestGuard

PAGE = Path(__file__).with_name("web_stream.html")  # the page: question, answer, sources


def sse(data: Any, event: str | None = None) -> bytes:
    """One server-sent event; the JSON payload keeps it on a single `data:` line."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def cited(citations: Sequence[Citation]) -> list[dict[str, Any]]:
    return [{"number": c.number, "cited_text": c.cited_text} for c in citations]


def frames(event: Event) -> Iterator[bytes]:
    """The server-sent events for one event of the query client."""
    if isinstance(event, Retrieved):
        sources = [
            {"number": n, "source": p.source, "heading": p.heading, "score": round(p.score, 4)}
            for n, p in enumerate(event.documents, start=1)
        ]
        yield sse(sources, "sources")
    elif isinstance(event, Delta):
        yield sse({"text": event.text, "citations": cited(event.citations)})
    elif isinstance(event, Done):
        summary = {
            "answerer": event.answerer,
            "extractive": event.extractive,
            "citations": cited(event.citations),
            "failed": False,
        }
        yield sse(summary, "done")
    elif isinstance(event, Failed):
        yield sse({"message": event.error.describe(), "partial_text": event.partial_text}, "failed")
        yield sse({"failed": True, "cancelled": event.cancelled}, "done")


class AnswerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], client: AtlasQuery, question: str) -> None:
        super().__init__(address, AnswerHandler)
        self.guard = RequestGuard(port=self.server_port)  # no token: the Host and Origin rule
        self.client = client
        page = PAGE.read_text(encoding="utf-8")
        self.page = page.replace("__QUESTION__", html.escape(question, quote=True)).encode()


class AnswerHandler(BaseHTTPRequestHandler):
    server: AnswerServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        verdict = self.server.guard.check(self.headers, None, navigation=url.path == "/")
        if not verdict.allowed:
            self.log_message("refused %s: %s", url.path, terminal_safe(verdict.detail))
            self.send_error(verdict.status, verdict.reason)
        elif url.path == "/":
            self._send_page()
        elif url.path == "/ask":
            question = parse_qs(url.query).get("q", [""])[0].strip()
            if question:
                self._stream_answer(question)
            else:
                self.send_error(HTTPStatus.BAD_REQUEST, "Ask with /ask?q=YOUR+QUESTION")
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _send_page(self) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.server.page)))
        self.end_headers()
        self.wfile.write(self.server.page)

    def _stream_answer(self, question: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        run = self.server.client.events(question)
        finished = threading.Event()
        threading.Thread(target=self._cancel_when_closed, args=(run, finished), daemon=True).start()
        try:
            for event in run:
                for frame in frames(event):
                    self.wfile.write(frame)
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.log_message("the browser closed the stream; answer cancelled")
        finally:
            finished.set()
            run.close()  # cancels the answer if it is still streaming

    def _cancel_when_closed(self, run: QueryRun, finished: threading.Event) -> None:
        """A browser sends nothing on an event stream, so the socket turns readable only when it
        closes (Cancel, or the page closed): cancel then, not at the next write."""
        while not finished.wait(0.1):
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                run.cancel()  # closes the model's HTTP stream; the loop above ends
                return


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Stream answers to a web page over SSE.")
    parser.add_argument("port", nargs="?", type=int, default=0, help="port (0: any free one)")
    parser.add_argument("--question", default=DEFAULT_QUESTION, help="the question shown first")
    args = parser.parse_args(argv)
    if not 0 <= args.port <= 65535:
        parser.error(f"port must be between 0 and 65535, not {args.port}")
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    client = create_query_client()
    try:
        client.warm()  # load the model and open the index before the first request
        label = client.answerer_label
    except AtlasError as error:
        print_error(error)
        return 1
    try:
        server = AnswerServer(("127.0.0.1", args.port), client, args.question)
    except OSError as error:
        print(f"error: cannot listen on 127.0.0.1:{args.port}: {error.strerror}", file=sys.stderr)
        return 1
    with server:
        print(f"Serving answers ({label}) at http://127.0.0.1:{server.server_port}/", flush=True)
        print("Press Ctrl+C to stop.", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("Stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
