"""`atlas-tui serve`: the TUI in a web browser, through textual-serve.

textual-serve starts one app process per browser session (`python -m atlas_tui.cli` with the
options given to `serve`) and relays its terminal over a websocket to xterm.js in the page. There
is no authentication: whoever can reach the port can read the index, so it listens on loopback
unless `--allow-remote` says otherwise.
"""

from __future__ import annotations

import argparse
import ipaddress
import shlex
import socket
import sys
from urllib.parse import urlsplit

from atlas_tui.safety import terminal_safe

DEFAULT_PORT = 8000

REMOTE_WARNING = (
    "atlas-tui serve: WARNING: listening on {host}: anyone who can reach port {port} can read "
    "this index and ask it questions (there is no login). Put it behind the reverse proxy or "
    "SSH tunnel you already use; see the README."
)


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def public_url(text: str) -> str:
    """An argparse type: the address browsers use to reach the server (http or https)."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"must be an http:// or https:// URL, not {text!r}")
    return text.rstrip("/")


def port_number(text: str) -> int:
    """An argparse type: a TCP port browsers can name (1 to 65535)."""
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, not {text!r}")
    return port


def add_arguments(serve: argparse.ArgumentParser) -> None:
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=port_number, default=DEFAULT_PORT, help="port (8000)")
    serve.add_argument(
        "--public-url", type=public_url, help="the URL browsers use, when behind a proxy"
    )
    serve.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host other than loopback (no login: use a reverse proxy or SSH tunnel)",
    )


def app_command(args: argparse.Namespace, resume: str | None) -> str:
    """The shell command textual-serve runs for each browser session: the TUI, same options."""
    words = [sys.executable, "-m", "atlas_tui.cli"]
    for flag in ("db", "collection", "embedding_model", "config", "mode"):
        if (value := getattr(args, flag, None)) is not None:
            words += [f"--{flag.replace('_', '-')}", value]
    if resume is not None:
        words += ["--resume", resume]
    elif getattr(args, "new", False):
        words.append("--new")
    return shlex.join(words)


def run_serve(args: argparse.Namespace, resume: str | None) -> int:
    """Serve the TUI until Ctrl+C; 2 for a host that needs --allow-remote, 1 if it cannot bind."""
    if not is_loopback(args.host):
        if not args.allow_remote:
            host = terminal_safe(args.host)
            print(
                f"atlas-tui serve: --host {host} is not loopback: anyone who can reach it "
                "could read the index. Add --allow-remote to do so anyway (behind a reverse "
                "proxy or SSH tunnel), or keep 127.0.0.1.",
                file=sys.stderr,
            )
            return 2
        print(
            REMOTE_WARNING.format(host=terminal_safe(args.host), port=args.port),
            file=sys.stderr,
            flush=True,
        )
        if args.public_url is None:
            print(
                "atlas-tui serve: browsers on other machines also need --public-url "
                "(the address they reach this server by).",
                file=sys.stderr,
            )

    try:  # a port in use fails here, in one line, before textual-serve announces anything
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        with socket.create_server((args.host.strip("[]"), args.port), family=family):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        where = terminal_safe(f"{args.host}:{args.port}")
        print(f"atlas-tui serve: cannot listen on {where}: {reason}", file=sys.stderr)
        return 1

    from textual_serve.server import Server

    class AtlasServer(Server):
        async def on_startup(self, app: object) -> None:
            url = terminal_safe(self.public_url)
            print(f"atlas-tui in the browser: {url}/ (one app per browser tab)", flush=True)
            print("Press Ctrl+C to stop.", flush=True)

    AtlasServer(
        app_command(args, resume),
        host=args.host,
        port=args.port,
        title="atlas-tui",
        public_url=args.public_url,
    ).serve()
    return 0
