"""The served app's driver: textual's web driver, which also ends the app once the server is gone.

An app under `atlas-tui serve` reads its input from the server's pipe and writes its screen to
another. textual's `WebDriver` stops reading at the end of its input and then waits for a quit
message that can no longer come, and a write to a closed pipe fails on every frame: an app whose
server was killed ran on for nobody (seen: 18 minutes at 36% CPU, its parent now init). Here the
end of the input, or a write the pipe refuses, means the server is gone: the app is asked to exit,
and if it has not within `EXIT_S` (a worker that does not stop) the process ends anyway.
"""

from __future__ import annotations

import asyncio
import os
import threading

from textual.drivers.web_driver import WebDriver

EXIT_S = 5.0


class ServedDriver(WebDriver):
    """`WebDriver` that ends its app when the server's pipe is gone."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._write_to_server = self._write
        self._write = self._write_or_leave
        self._gone = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def start_application_mode(self) -> None:
        self._loop = asyncio.get_running_loop()
        super().start_application_mode()

    def run_input_thread(self) -> None:
        super().run_input_thread()
        if not self.exit_event.is_set():  # input ended, but the app never stopped it: EOF
            self.server_gone()

    def _write_or_leave(self, data: bytes) -> int:
        if self._gone.is_set():
            return len(data)  # nobody reads it any more
        try:
            return int(self._write_to_server(data))
        except OSError:  # EPIPE and the like: the server closed its end
            self.server_gone()
            return len(data)

    def server_gone(self) -> None:
        """Exit the app (once), and end the process if that takes more than `EXIT_S`."""
        if self._gone.is_set():
            return
        self._gone.set()
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._app.exit)
        threading.Thread(target=_end_after, args=(EXIT_S,), daemon=True).start()


def _end_after(seconds: float) -> None:
    """End this process `seconds` from now, if nothing else has (a daemon thread: a clean exit
    before then ends it with the process)."""
    threading.Event().wait(seconds)
    os._exit(1)
