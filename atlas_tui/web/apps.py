"""The app processes of `atlas-tui serve`: one per browser session, counted, and ended in time.

textual-serve starts one app process per websocket (`AppService`) and, when the websocket closes,
asks the app to quit and waits for it without a bound. `ServedApp` keeps textual-serve's protocol
and adds what a server left running for days needs:

- the app runs textual's web driver as `driver.ServedDriver`, which ends the app when this
  server's pipe is gone (the server was killed) instead of leaving it running for nobody;
- the server's token is not passed on to the app (it has no use for it);
- stopping is bounded: the app is asked to quit, then after `QUIT_S` sent SIGTERM, then after
  `TERM_S` SIGKILL, and the browser's websocket is closed ("Session ended.").

`AppSessions` counts the sessions of one server (at most `limit` at once) and stops them all when
the server stops. textual-serve makes its `AppService` itself, so a `ServedApp` finds the
`AppSessions` of the server that is making it through `current_sessions` (a context variable set
for the websocket's handler).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from textual_serve.app_service import AppService

DRIVER = "atlas_tui.web.driver:ServedDriver"
TOKEN_VARIABLE = "ATLAS_SERVE_TOKEN"  # serve's token, when the user fixed one; never an app's
QUIT_S = 5.0  # for the app to quit when asked (it saves its session on the way out)
TERM_S = 3.0  # then for it to end on SIGTERM, before SIGKILL

current_sessions: ContextVar[AppSessions] = ContextVar("atlas_serve_sessions")


class SessionsFull(Exception):
    """Every session this server allows is in use."""


class AppSessions:
    """The app sessions of one server: at most `limit` at once."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0  # websockets being served (each has, or is starting, one app)
        self._apps: set[ServedApp] = set()

    @property
    def full(self) -> bool:
        return self.in_use >= self.limit

    @contextlib.contextmanager
    def session(self) -> Iterator[None]:
        """One session's place, held while its websocket is served; SessionsFull when none is
        free. Taken and checked in one step (no await between): concurrent requests cannot both
        take the last place."""
        if self.full:
            raise SessionsFull
        self.in_use += 1
        token = current_sessions.set(self)
        try:
            yield
        finally:
            current_sessions.reset(token)
            self.in_use -= 1

    def add(self, app: ServedApp) -> None:
        self._apps.add(app)

    def discard(self, app: ServedApp) -> None:
        self._apps.discard(app)

    @property
    def pids(self) -> list[int]:
        """The process ids of the apps still running."""
        return [pid for app in self._apps if (pid := app.pid) is not None]

    async def stop_all(self) -> None:
        """Stop every app (each within `QUIT_S + TERM_S`, all at once)."""
        await asyncio.gather(*(app.stop() for app in list(self._apps)), return_exceptions=True)

    def kill_all(self) -> None:
        """SIGKILL whatever is left: the last resort when the server's loop is gone."""
        for pid in self.pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class ServedApp(AppService):
    """textual-serve's app process, with the driver, environment and bounded stop above."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sessions = current_sessions.get(None)
        if self._sessions is not None:
            self._sessions.add(self)

    @property
    def pid(self) -> int | None:
        process = self._process
        return process.pid if process is not None and process.returncode is None else None

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width=width, height=height)
        environment["TEXTUAL_DRIVER"] = DRIVER
        environment.pop(TOKEN_VARIABLE, None)
        return environment

    async def stop(self) -> None:
        """Ask the app to quit; past `QUIT_S` terminate it, past `TERM_S` more kill it. Then
        close the browser's websocket."""
        task, self._task = self._task, None
        try:
            if task is not None:
                await self._download_manager.cancel_app_downloads(
                    app_service_id=self.app_service_id
                )
                await self.send_meta({"type": "quit"})  # False (and no harm) once it has gone
                await self._end(task)
        finally:
            if self._sessions is not None:
                self._sessions.discard(self)
        with contextlib.suppress(Exception):  # already closed, or the connection is gone
            await self.remote_close()

    async def _end(self, task: asyncio.Task[None]) -> None:
        """Wait for the app's output to end: as asked, then after SIGTERM, then after SIGKILL;
        past that (a child of the app holding its pipe open) stop reading it."""
        process = self._process
        for wait_s, then in ((QUIT_S, signal.SIGTERM), (TERM_S, signal.SIGKILL), (TERM_S, None)):
            done, _ = await asyncio.wait({task}, timeout=wait_s)
            if done:
                return
            if then is None:
                task.cancel()
            elif process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(then)
