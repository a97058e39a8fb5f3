"""Which HTTP requests a web server of atlas-tui answers (`atlas-tui serve`, the web example).

A server on 127.0.0.1 is reachable by every web page the user's browser opens, so listening on
loopback is not enough. Before anything else, each request must pass these checks, in order:

1. `Host` names this server: a loopback name (`localhost`, `127.0.0.1`, `[::1]`), the address it
   listens on, or the host of `--public-url`. A page of `evil.example` whose name an attacker
   re-points at 127.0.0.1 (DNS rebinding) sends `Host: evil.example`: refused.
2. `Origin`, when a browser sends one, is this server: its host and port are the `Host` the
   request was sent to, or it is `--public-url`'s origin. A page on another site or another port
   (any other origin) is refused: its websocket never opens, its `fetch` gets a 403.
3. For anything but a navigation to the page itself, `Sec-Fetch-Site` (sent by every current
   browser, and unlike `Origin` also on a plain cross-site GET such as an `<img>`) must say the
   request comes from this origin or from the user (`same-origin`, `none`). A page on another
   port of 127.0.0.1 is "same-site", not same-origin: refused too.
4. The per-run secret token, when the server has one (`atlas-tui serve` does by default, as
   Jupyter does): from `?token=`, an `Authorization: token ...` or `Bearer ...` header, or the
   cookie set on the first request that carried it (HttpOnly, SameSite=Strict, so scripts cannot
   read it and other sites' requests do not carry it). Compared in constant time, never logged.

Requests without `Origin` or `Sec-Fetch-Site` (curl, scripts) pass 2 and 3: they come from a
program on this machine, not from a web page, and `serve` still wants its token from them.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus
from http.cookies import CookieError, SimpleCookie
from typing import Protocol
from urllib.parse import urlsplit

TOKEN_PARAMETER = "token"
COOKIE_PREFIX = "atlas-tui-"
_HOST = re.compile(r"^(?:\[(?P<ipv6>[0-9A-Fa-f:.]+)\]|(?P<name>[A-Za-z0-9._-]+))(?::\d{1,5})?$")
_AUTHORIZATION = re.compile(r"^\s*(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)
_FROM_HERE = {"same-origin", "none"}  # Sec-Fetch-Site values of this origin's pages and the user


class Headers(Protocol):
    """Request headers, looked up without regard to case (aiohttp's and http.server's both)."""

    def get(self, name: str, default: None = None) -> str | None: ...


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1 or localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve anywhere


def host_name(header: str | None) -> str | None:
    """The host a `Host` header names, lower case, without port or brackets; None when the header
    is missing or is not a plain host[:port] (user info, paths and spaces are never one)."""
    match = _HOST.match(header or "")
    if match is None:
        return None
    name = match.group("ipv6") or match.group("name")
    return name.lower().rstrip(".")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one request."""

    allowed: bool
    status: int = HTTPStatus.OK
    reason: str = ""  # for the requester: one line, none of the request's own text in it
    detail: str = ""  # for the server's log: what was refused (request text: make it safe first)
    set_cookie: bool = False  # the token came in the URL or a header: keep it in the cookie


def _refused(reason: str, detail: str) -> Verdict:
    return Verdict(False, HTTPStatus.FORBIDDEN, reason, detail)


class RequestGuard:
    """The checks above for one server. `token=None`: no token is asked for (the web example)."""

    def __init__(
        self,
        *,
        port: int,
        served_hosts: Iterable[str] = (),
        public_url: str | None = None,
        token: str | None = None,
    ) -> None:
        self.token = token
        self._token = token.encode() if token is not None else None
        self.cookie_name = f"{COOKIE_PREFIX}{port}"  # one per port: two servers keep their own
        self.secure = False
        self._public_origin = ""
        self._names = {name.lower().strip("[]") for name in served_hosts}
        if public_url:
            parts = urlsplit(public_url)
            self._public_origin = f"{parts.scheme}://{parts.netloc}".lower()
            self._names.add((parts.hostname or "").lower())
            self.secure = parts.scheme == "https"

    def serves(self, name: str) -> bool:
        """Whether this server answers to the host name `name` (from `host_name`)."""
        return is_loopback(name) or name in self._names

    def check(self, headers: Headers, query_token: str | None, *, navigation: bool) -> Verdict:
        """The verdict on a request. `navigation`: a GET of the page itself (which may come from
        a link anywhere); anything else (the websocket, an answer, a file) must come from here."""
        host = headers.get("Host")
        name = host_name(host)
        if name is None or not self.serves(name):
            return _refused(
                "This server does not answer to that host name: open the address it printed.",
                f"Host {host!r} is not this server's name",
            )
        origin = headers.get("Origin")
        if origin is not None and not self._same_origin(origin, host or ""):
            return _refused(
                "Requests from another web page are refused.", f"a page of Origin {origin!r}"
            )
        site = headers.get("Sec-Fetch-Site")
        if not navigation and site is not None and site.lower() not in _FROM_HERE:
            return _refused(
                "Requests from another web page are refused.", f"Sec-Fetch-Site {site!r}"
            )
        if self._token is None:
            return Verdict(True)
        if self._matches(query_token) or self._matches(_bearer(headers.get("Authorization"))):
            return Verdict(True, set_cookie=True)
        if self._matches(_cookie(headers.get("Cookie"), self.cookie_name)):
            return Verdict(True)
        return Verdict(
            False,
            HTTPStatus.FORBIDDEN,
            "This server needs its token: open the full address `atlas-tui serve` printed "
            "(it ends in ?token=...).",
            "no valid token",
        )

    def _same_origin(self, origin: str, host: str) -> bool:
        parts = urlsplit(origin.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return False  # "null" (a sandboxed frame, a file://) or something unreadable
        if parts.netloc.lower() == host.lower():
            return True
        return f"{parts.scheme}://{parts.netloc}".lower() == self._public_origin

    def _matches(self, given: str | None) -> bool:
        """Whether `given` is the token, compared in constant time (no timing says how close)."""
        return given is not None and hmac.compare_digest(given.encode(), self._token or b"")

    def cookie(self) -> dict[str, object]:
        """The cookie that keeps the token after the first request: its name, value and flags,
        as aiohttp's `set_cookie` takes them."""
        return {
            "name": self.cookie_name,
            "value": self.token,
            "path": "/",
            "httponly": True,
            "samesite": "Strict",
            "secure": self.secure,
        }


def _bearer(header: str | None) -> str | None:
    match = _AUTHORIZATION.match(header or "")
    return match.group(1) if match else None


def _cookie(header: str | None, name: str) -> str | None:
    if not header:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(header)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None
