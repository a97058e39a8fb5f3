"""`atlas-tui serve`: the TUI in a web browser, through textual-serve (atlas_tui/web/).

textual-serve starts one app process per browser session (`python -m atlas_tui.cli` with the
options given to `serve`) and relays its terminal over a websocket to xterm.js in the page. Only
the address it prints opens it: that URL carries a secret made for this run (or taken from
$ATLAS_SERVE_TOKEN), and every request must name this server and come from its own page
(web/guard.py). It listens on loopback unless `--allow-remote` says otherwise, and runs at most
`serve_max_sessions` apps at once.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import socket
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from atlas_tui.config import Settings, allowed_range, coerce_setting
from atlas_tui.errors import ConfigError
from atlas_tui.safety import terminal_safe
from atlas_tui.web.guard import is_loopback

if TYPE_CHECKING:
    from atlas_tui.web.server import AtlasServer

DEFAULT_PORT = 8000
TOKEN_VARIABLE = "ATLAS_SERVE_TOKEN"
MIN_TOKEN_CHARS = 16
WILDCARDS = ("0.0.0.0", "::", "[::]", "")

REMOTE_WARNING = (
    "atlas-tui serve: WARNING: listening on {host}: anyone who can reach port {port} can read "
    "this index and ask it questions (there is no login). Put it behind the reverse proxy or "
    "SSH tunnel you already use; see the README."
)


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
        help="allow a --host other than loopback (use a reverse proxy or SSH tunnel too)",
    )
    serve.add_argument(
        "--max-sessions",
        type=max_sessions,
        metavar="N",
        help="app sessions (browser tabs) at once (serve_max_sessions, default 4)",
    )
    serve.add_argument(
        "--no-token",
        action="store_true",
        help="open without the URL's secret token (anyone on this machine could then use it)",
    )


def max_sessions(text: str) -> int:
    """An argparse type: the `serve_max_sessions` setting, within its range."""
    try:
        return int(coerce_setting("serve_max_sessions", text))
    except ConfigError:
        raise argparse.ArgumentTypeError(
            f"must be {allowed_range('serve_max_sessions')}, not {text!r}"
        ) from None


def app_command(args: argparse.Namespace, resume: str | None) -> str:
    """The shell command textual-serve runs for each browser session: the TUI, same options. The
    shell execs it, so the app is the server's own child (stopped, it stops)."""
    words = [sys.executable, "-m", "atlas_tui.cli"]
    for flag in ("db", "collection", "embedding_model", "config", "mode"):
        if (value := getattr(args, flag, None)) is not None:
            words += [f"--{flag.replace('_', '-')}", value]
    if resume is not None:
        words += ["--resume", resume]
    elif getattr(args, "new", False):
        words.append("--new")
    return "exec " + shlex.join(words)


def run_serve(args: argparse.Namespace, resume: str | None, settings: Settings) -> int:
    """Serve the TUI until stopped; 2 for a host that needs --allow-remote (or a bad token), 1 if
    it cannot bind."""
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
    token = None if args.no_token else server_token()
    if token == "":
        print(
            f"atlas-tui serve: ${TOKEN_VARIABLE} must be at least {MIN_TOKEN_CHARS} characters "
            "of letters, digits, '-' or '_' (or leave it unset for a new token each run).",
            file=sys.stderr,
        )
        return 2

    try:  # a port in use fails here, in one line, before textual-serve announces anything
        family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
        with socket.create_server((args.host.strip("[]"), args.port), family=family):
            pass
    except OSError as error:
        reason = error.strerror or str(error)
        where = terminal_safe(f"{args.host}:{args.port}")
        print(f"atlas-tui serve: cannot listen on {where}: {reason}", file=sys.stderr)
        return 1

    from atlas_tui.web.guard import RequestGuard
    from atlas_tui.web.server import AtlasServer

    served = () if args.host in WILDCARDS else (args.host,)
    guard = RequestGuard(
        port=args.port, served_hosts=served, public_url=args.public_url, token=token
    )
    limit = args.max_sessions or settings.serve_max_sessions
    AtlasServer(
        app_command(args, resume),
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        guard=guard,
        max_sessions=limit,
        announce=announce,
        say=say,
    ).serve()
    return 0


def server_token() -> str:
    """The token of this run: $ATLAS_SERVE_TOKEN when set ("" if it is unfit), else a new one."""
    given = os.environ.get(TOKEN_VARIABLE)
    if not given:
        return secrets.token_urlsafe(24)
    fit = len(given) >= MIN_TOKEN_CHARS and all(c.isalnum() or c in "-_" for c in given)
    return given if fit and given.isascii() else ""


def announce(server: AtlasServer) -> None:
    """The lines `serve` prints once it listens: the address to open (with its token)."""
    limit = server.sessions.limit
    print(
        f"atlas-tui in the browser: {terminal_safe(server.url)}\n"
        f"  (one app per browser tab, at most {limit} at once; this address's token is the "
        "key: share it only with whoever may read this index)",
        flush=True,
    )
    if server.guard.token is None:
        print(
            "atlas-tui serve: WARNING: --no-token: any program or user on this machine can "
            "open it (web pages of other sites still cannot).",
            flush=True,
        )
    print("Press Ctrl+C to stop.", flush=True)


def say(line: str) -> None:
    """One line of the server's log (sessions opened and closed, requests refused)."""
    print(f"atlas-tui serve: {line}", flush=True)
