"""textual-serve's server, made safe to leave running on a machine with a browser.

- Every request passes the `guard` first (served host names, same origin, the per-run token).
  The page's own addresses (websocket, static files) follow the address the browser used when no
  `--public-url` is given, so `localhost` and `127.0.0.1` (and an SSH tunnel's port) each work
  with their own cookie.
- At most `max_sessions` app sessions run at once: the page says so when all are in use, and a
  websocket beyond them is refused (503).
- Stopping the server (SIGINT, SIGTERM, SIGHUP: its terminal closing) ends every app it started,
  each within `apps.QUIT_S + apps.TERM_S`, and whatever is left is killed on the way out.
- aiohttp's access log is off (it would print the token of each first request); the server says
  in one line when a session opens or closes and what it refused, the request's text made safe.
"""

from __future__ import annotations

import asyncio
import html
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

import textual_serve.server
from aiohttp import web
from textual_serve.server import Server

from atlas_tui.safety import terminal_safe
from atlas_tui.web.apps import AppSessions, ServedApp, SessionsFull
from atlas_tui.web.guard import RequestGuard

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REFUSALS_PER_MINUTE = 10  # logged; more are counted and the count said with the next one logged
_request_url: ContextVar[str] = ContextVar("atlas_serve_request_url", default="")


def full_page(limit: int) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>atlas-tui: all sessions in use</title></head><body>"
        "<h1>All sessions of this atlas-tui server are in use</h1>"
        f"<p>It runs at most {limit} app{'' if limit == 1 else 's'} at once, one per browser "
        "tab. Close another tab of "
        "this server (its app ends when the tab closes), then reload this page.</p>"
        "<p>Whoever started the server can allow more with <code>--max-sessions</code> or the "
        "<code>serve_max_sessions</code> setting.</p></body></html>"
    )


def base_url(host: str, port: int) -> str:
    """The address a browser on this machine opens: 127.0.0.1 for a wildcard --host, an IPv6
    address in brackets."""
    if host in ("0.0.0.0", "::", "[::]", ""):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


class RefusalLog:
    """One line per refused request, at most `REFUSALS_PER_MINUTE` a minute (a page that keeps
    knocking cannot flood the terminal); those not shown are counted."""

    def __init__(self, say: Callable[[str], None]) -> None:
        self._say = say
        self._window_start = 0.0
        self._shown = 0
        self._hidden = 0

    def refused(self, line: str) -> None:
        now = time.monotonic()
        if now - self._window_start >= 60:
            self._window_start, self._shown = now, 0
        if self._shown >= REFUSALS_PER_MINUTE:
            self._hidden += 1
            return
        self._shown += 1
        if self._hidden:
            line += f" ({self._hidden} more refused and not shown)"
            self._hidden = 0
        self._say(line)


class AtlasServer(Server):
    """textual-serve's `Server` with the guard, the session cap and a complete shutdown."""

    def __init__(
        self,
        command: str,
        *,
        host: str,
        port: int,
        public_url: str | None,
        guard: RequestGuard,
        max_sessions: int,
        announce: Callable[[AtlasServer], None],
        say: Callable[[str], None],
    ) -> None:
        self._configured_url = public_url
        super().__init__(command, host=host, port=port, title="atlas-tui", public_url=public_url)
        self._default_url = base_url(host, port)
        self.guard = guard
        self.sessions = AppSessions(max_sessions)
        self._announce = announce
        self._say = say
        self._refusals = RefusalLog(say)
        # textual-serve makes an `AppService` per websocket: make it ours (see apps.py)
        textual_serve.server.AppService = ServedApp  # type: ignore[misc]

    # The page's addresses: the configured public URL, else the address of this very request.
    @property  # type: ignore[override]
    def public_url(self) -> str:
        return self._configured_url or _request_url.get() or self._default_url

    @public_url.setter
    def public_url(self, value: str) -> None:
        pass  # textual-serve's own, from host and port: `base_url` makes a better one

    @property
    def url(self) -> str:
        """The address to open, with its token."""
        base = self._configured_url or self._default_url
        return f"{base}/?token={self.guard.token}" if self.guard.token else f"{base}/"

    def initialize_logging(self) -> None:
        super().initialize_logging()
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)  # it would log tokens

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check)
        return app

    @web.middleware
    async def _check(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        navigation = request.method == "GET" and request.path == "/"
        verdict = self.guard.check(
            request.headers, request.query.get("token"), navigation=navigation
        )
        if not verdict.allowed:
            where = terminal_safe(f"{request.method} {request.path}")
            self._refusals.refused(f"refused {where}: {terminal_safe(verdict.detail)}")
            return web.Response(status=verdict.status, text=verdict.reason + "\n")
        url = _request_url.set(f"{request.scheme}://{request.host}")
        try:
            response = await handler(request)
        finally:
            _request_url.reset(url)
        if verdict.set_cookie and not response.prepared:  # (a websocket's answer is sent)
            response.set_cookie(**self.guard.cookie())  # type: ignore[arg-type]
        return response

    async def handle_index(self, request: web.Request) -> Any:
        if self.sessions.full:
            return web.Response(
                status=503,
                content_type="text/html",
                text=full_page(self.sessions.limit),
                headers={"Retry-After": "10", "Cache-Control": "no-store"},
            )
        return await super().handle_index(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        try:
            with self.sessions.session():
                self._say(f"session opened ({self._count()})")
                try:
                    return await super().handle_websocket(request)
                finally:
                    self._say(f"session closed ({self._count(-1)})")
        except SessionsFull:
            self._refusals.refused(f"refused a session: all {self.sessions.limit} are in use")
            raise web.HTTPServiceUnavailable(
                text=html.escape(f"All {self.sessions.limit} sessions are in use.")
            ) from None

    def _count(self, change: int = 0) -> str:
        return f"{self.sessions.in_use + change} of {self.sessions.limit} in use"

    async def on_startup(self, app: web.Application) -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGHUP, self.request_exit)  # its terminal closed

    async def on_shutdown(self, app: web.Application) -> None:
        """Before aiohttp waits for the open websockets: end every app, which closes them."""
        if pids := self.sessions.pids:
            self._say(f"stopping {len(pids)} app{'' if len(pids) == 1 else 's'}")
        await self.sessions.stop_all()

    def serve(self, debug: bool = False) -> None:
        """textual-serve's `serve`, with the address announced once the port listens: aiohttp
        runs `on_startup` (where textual-serve prints) before it binds, so a browser or script
        opening the printed address at once was refused."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        loop.add_signal_handler(signal.SIGINT, self.request_exit)
        loop.add_signal_handler(signal.SIGTERM, self.request_exit)
        try:
            web.run_app(
                self._make_app(),
                host=self.host,
                port=self.port,
                handle_signals=False,
                loop=loop,
                print=lambda *_: self._announce(self),  # called after every site listens
            )
        finally:
            self.sessions.kill_all()  # what a failed or interrupted shutdown left
