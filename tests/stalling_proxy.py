"""A TCP proxy in front of a server that forwards its first connections, then stalls: it accepts
every later connection and never answers (a store whose network path died after it answered).

`StallingProxy(target_port, forward=1)`: the first `forward` connections reach the target, every
other one is held open in silence until the proxy stops. `stalled` counts those. `stall()` stops
forwarding on the open connections too (bytes are read and dropped): a store that stops answering
in the middle of a session."""

from __future__ import annotations

import contextlib
import socket
import threading


class StallingProxy:
    def __init__(self, target_port: int, *, forward: int = 1) -> None:
        self._target = ("127.0.0.1", target_port)
        self._forward = forward
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.accepted = 0
        self.stalled = 0
        self._held: list[socket.socket] = []
        self._closing = threading.Event()
        self._stalling = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self.accepted <= self._forward and not self._stalling.is_set():
                upstream = socket.create_connection(self._target, timeout=10)
                for a, b in ((client, upstream), (upstream, client)):
                    args = (a, b, self._stalling)
                    threading.Thread(target=_pipe, args=args, daemon=True).start()
            else:
                self.stalled += 1
                self._held.append(client)  # read nothing, answer nothing

    def stall(self) -> None:
        """From now on nothing gets through, on the open connections either."""
        self._stalling.set()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for held in self._held:
            held.close()

    def __enter__(self) -> StallingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pipe(source: socket.socket, sink: socket.socket, stalling: threading.Event) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            if not stalling.is_set():
                sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
