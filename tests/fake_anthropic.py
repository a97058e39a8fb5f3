"""A fake Anthropic Messages API on 127.0.0.1 that speaks the genuine streaming wire format.

Script what the next requests get with `server.script(Reply(...), ...)`; each request takes the next
scripted reply (a request with nothing scripted gets an HTTP 500 naming the problem, so a test that
forgot to script notices). Every request is recorded in `server.requests` (headers, JSON body).

Use the `fake_anthropic` fixture (import it into a conftest: `from tests.fake_anthropic import
fake_anthropic`) or `with FakeAnthropic() as server:`. The server stops itself at the end: stalled
replies are released and every handler thread is a daemon.

Faults (`Reply.fault`), each happening after the reply's content blocks were streamed, so a client
has partial text to keep (but "drop_at_once", before any of them):
  "error_event"      an `event: error` inside the stream (type `error_type`, e.g. overloaded_error)
  "drop"             the connection closes mid-body, with chunked transfer encoding (an incomplete
                     chunked read for the client)
  "drop_unchunked"   the connection closes mid-stream, without chunked encoding: the body just ends
  "no_message_stop"  the body ends cleanly but `message_stop` never comes
  "drop_at_once"     the response's headers are sent, then the connection closes before any event
  "stall"            nothing more is sent until `server.release()` (or the client goes away)
  "trickle"          a new text block that never ends: a word every TRICKLE_S until the client
                     goes away (a server that is never silent for long, and never done)
  "no_response"      the request is read but no response ever starts (until released)
HTTP errors: `Reply(status=429, error_type="rate_limit_error")` sends the real error body shape.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

STALL_LIMIT_S = 30.0  # a stalled reply never outlives this, whatever the test does
TRICKLE_S = 0.1

_STATUS_ERRORS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass(frozen=True)
class Cite:
    """A `search_result_location` citation of the request's search result `index` (0-based).

    `source` and `title` default to those the request sent for that search result.
    """

    index: int
    cited_text: str
    source: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Block:
    """One text content block: its citations (sent first, as the API does) and its text deltas."""

    text_chunks: Sequence[str]
    citations: Sequence[Cite] = ()
    start_text: str = ""  # text sent in the block's content_block_start (the API may do so)


@dataclass(frozen=True)
class Reply:
    blocks: Sequence[Block] = (Block(["Hello."]),)
    status: int = 200
    error_type: str | None = None  # for an HTTP error or an in-stream error event
    error_message: str = "Scripted error."
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    stop_reason: str = "end_turn"
    input_tokens: int = 42
    output_tokens: int = 7

    @classmethod
    def text(cls, *chunks: str, **options: Any) -> Reply:
        """A reply of one uncited text block streamed as `chunks`."""
        return cls(blocks=(Block(chunks),), **options)

    @property
    def streamed_text(self) -> str:
        return "".join(block.start_text + "".join(block.text_chunks) for block in self.blocks)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict[str, Any]
    received_at: float = field(default_factory=time.perf_counter)  # when the body was read


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # stream each event at once, as the real API does
    server: _Server
    _chunked = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read `server.requests` instead of a log."""

    def do_GET(self) -> None:
        fake = self.server.fake
        fake.record(RecordedRequest("GET", self.path, dict(self.headers.items()), {}))
        answer = fake.get(self.path.split("?")[0])
        if answer is None:
            self._send_error(404, "not_found_error", f"No route {self.path}.", {})
            return
        payload = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_unparsed": raw.decode("utf-8", "replace")}
        fake = self.server.fake
        fake.record(
            RecordedRequest(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body
            )
        )
        rejection = fake.reject(body)
        reply = None if rejection is not None else fake.next_reply()
        if rejection is not None:
            self._send_error(400, "invalid_request_error", rejection, {})
        elif reply is None:
            self._send_error(500, "api_error", "The fake server had no scripted reply.", {})
        elif reply.fault == "no_response":
            self._stall()
            self.close_connection = True
        elif reply.status != 200:
            error_type = (
                reply.error_type
                if reply.error_type is not None  # "" sends an error without a type
                else _STATUS_ERRORS.get(reply.status, "api_error")
            )
            self._send_error(reply.status, error_type, reply.error_message, reply.headers)
        else:
            self._stream(reply, body)

    def _send_error(self, status: int, error_type: str, message: str, headers: dict) -> None:
        payload = json.dumps(
            {
                "type": "error",
                "error": {"type": error_type, "message": message},
                "request_id": "req_fake",
            }
        ).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("request-id", "req_fake")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    # --- streaming -------------------------------------------------------------------------------

    def _stream(self, reply: Reply, request: dict[str, Any]) -> None:
        chunked = self._chunked = reply.fault != "drop_unchunked"
        self.send_response(200)
        self.send_header("content-type", "text/event-stream; charset=utf-8")
        self.send_header("cache-control", "no-cache")
        self.send_header("request-id", "req_fake")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if chunked:
            self.send_header("transfer-encoding", "chunked")
        else:
            self.send_header("connection", "close")
        self.end_headers()
        self.close_connection = not chunked
        if reply.fault == "drop_at_once":
            self._abort()
            return

        def send(event: str, data: dict[str, Any]) -> None:
            frame = f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(frame), frame) if chunked else frame)
            self.wfile.flush()

        try:
            for event, data in _events(reply, request):
                if event == "FAULT" and not self._fault(reply, send):
                    return
                if event != "FAULT":
                    send(event, data)
            self._end_chunked()
        except (BrokenPipeError, ConnectionResetError):
            self.server.fake.client_gone.set()
            self.close_connection = True

    def _fault(self, reply: Reply, send: Any) -> bool:
        """Carry out the reply's fault; False when the response must end here."""
        if reply.fault == "error_event":
            send(
                "error",
                {
                    "type": "error",
                    "error": {
                        "type": "overloaded_error"
                        if reply.error_type is None
                        else reply.error_type,  # "" sends an error without a type
                        "message": reply.error_message,
                    },
                },
            )
            self._end_chunked()
            return False
        if reply.fault in ("drop", "drop_unchunked"):
            self._abort()
            return False
        if reply.fault == "no_message_stop":
            self._end_chunked()
            return False
        if reply.fault == "stall":
            return self._stall()
        if reply.fault == "trickle":
            self._trickle(send, len(reply.blocks))
            return False
        raise ValueError(f"Unknown fault {reply.fault!r}")

    def _trickle(self, send: Any, index: int) -> None:
        """A word every TRICKLE_S in a block that never ends, until the client hangs up (a write
        then fails: `_stream` notes that the client went away)."""
        fake = self.server.fake
        block = {"type": "text", "text": ""}
        send(
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": block},
        )
        started = time.monotonic()
        while time.monotonic() - started < STALL_LIMIT_S and not fake.stopping:
            delta = {"type": "text_delta", "text": "more "}
            send(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
            )
            time.sleep(TRICKLE_S)
        self._abort()

    def _end_chunked(self) -> None:
        if self._chunked:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _abort(self) -> None:
        self.close_connection = True
        self.wfile.flush()
        self.connection.shutdown(socket.SHUT_RDWR)

    def _stall(self) -> bool:
        """Wait for `release()`; notice a client that hangs up meanwhile. True to carry on."""
        fake = self.server.fake
        fake.stalled.set()
        waited = 0.0
        while not fake.released.wait(0.02):
            waited += 0.02
            if waited > STALL_LIMIT_S or fake.stopping:
                self._abort()
                return False
            readable, _, _ = select.select([self.connection], [], [], 0)
            if readable and not self.connection.recv(1, socket.MSG_PEEK):
                fake.client_gone.set()
                self.close_connection = True
                return False
        return True


def _events(reply: Reply, request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The genuine sequence of a streamed message, with a FAULT marker where the fault goes."""
    results = _search_results(request)
    yield (
        "message_start",
        {
            "type": "message_start",
            "message": {
                "id": "msg_fake",
                "type": "message",
                "role": "assistant",
                "model": request.get("model", ""),
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": reply.input_tokens, "output_tokens": 1},
            },
        },
    )
    yield "ping", {"type": "ping"}
    for index, block in enumerate(reply.blocks):
        start: dict[str, Any] = {"type": "text", "text": block.start_text}
        if block.citations:
            start["citations"] = []
        yield (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
        for cite in block.citations:
            sent = results[cite.index] if 0 <= cite.index < len(results) else {}
            citation = {
                "type": "search_result_location",
                "cited_text": cite.cited_text,
                "search_result_index": cite.index,
                "source": cite.source if cite.source is not None else sent.get("source", ""),
                "title": cite.title if cite.title is not None else sent.get("title"),
                "start_block_index": 0,
                "end_block_index": 1,
            }
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "citations_delta", "citation": citation},
                },
            )
        for chunk in block.text_chunks:
            yield (
                "content_block_delta",
                {
                    "type": "content_block_delta",
                    "index": index,
                    "delta": {"type": "text_delta", "text": chunk},
                },
            )
        yield "content_block_stop", {"type": "content_block_stop", "index": index}
    if reply.fault:
        yield "FAULT", {}
    yield (
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": reply.output_tokens},
        },
    )
    yield "message_stop", {"type": "message_stop"}


def _search_results(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's search_result blocks in order across its messages, as the API counts them."""
    found: list[dict[str, Any]] = []
    for message in request.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            found.extend(b for b in content if b.get("type") == "search_result")
    return found


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeAnthropic


class FakeAnthropic:
    """The fake server. `base_url` is what to give the SDK (or ANTHROPIC_BASE_URL)."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.released = threading.Event()
        self.stalled = threading.Event()  # set when a reply starts stalling
        self.client_gone = threading.Event()  # set when a client hung up mid-reply
        self.stopping = False
        self.models: list[str] | None = None  # what GET /v1/models lists (None: a 404)
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def record(self, request: RecordedRequest) -> None:
        with self._arrived:
            self.requests.append(request)
            self._arrived.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> bool:
        """Block until `count` requests have arrived (False if `timeout` passes first)."""
        with self._arrived:
            return self._arrived.wait_for(lambda: len(self.requests) >= count, timeout)

    def next_reply(self) -> Reply | None:
        with self._lock:
            return self._replies.popleft() if self._replies else None

    def reject(self, body: dict[str, Any]) -> str | None:
        """The message of a 400 this server sends for `body` instead of a reply (None: none)."""
        return None

    def get(self, path: str) -> dict[str, Any] | None:
        """The JSON a GET of `path` answers (None: 404). `/v1/models` lists `self.models`."""
        if path != "/v1/models" or self.models is None:
            return None
        data = [
            {"type": "model", "id": m, "display_name": m, "created_at": "2026-01-01T00:00:00Z"}
            for m in self.models
        ]
        first, last = (data[0]["id"], data[-1]["id"]) if data else (None, None)
        return {"data": data, "has_more": False, "first_id": first, "last_id": last}

    def release(self) -> None:
        """Let stalled replies carry on."""
        self.released.set()

    @property
    def last_body(self) -> dict[str, Any]:
        return self.requests[-1].body

    def start(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping = True
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A loopback port nothing listens on (the OS's pick, released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def closed_port_url() -> str:
    """A base URL on 127.0.0.1 where nothing listens (connection refused)."""
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def fake_anthropic() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as server:
        yield server
