"""The request guard of the web servers (atlas_tui/web/guard.py), request by request: what a page of
another site, a DNS-rebinding page, a program without the token and the user's own page each get.
(The same rules seen from a real browser: tests/browser/test_serve_security.py.)"""

from __future__ import annotations

from http import HTTPStatus

import pytest

from atlas_tui.web.guard import RequestGuard, host_name, is_loopback

TOKEN = "s3cret-token-of-this-run-0123456789"
HOST = "127.0.0.1:8000"


def guard(**options: object) -> RequestGuard:
    settings: dict[str, object] = {"port": 8000, "token": TOKEN}
    settings.update(options)
    return RequestGuard(**settings)  # type: ignore[arg-type]


def check(
    headers: dict[str, str],
    token: str | None = TOKEN,
    *,
    navigation: bool = False,
    server: RequestGuard | None = None,
):
    lower = {name.lower(): value for name, value in headers.items()}

    class Headers:  # looked up without regard to case, as aiohttp's and http.server's are
        def get(self, name: str, default: None = None) -> str | None:
            return lower.get(name.lower(), default)

    return (server or guard()).check(Headers(), token, navigation=navigation)


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("127.0.0.1:8000", "127.0.0.1"),
        ("LOCALHOST:8000", "localhost"),
        ("localhost.:8000", "localhost"),  # the fully qualified spelling
        ("[::1]:8000", "::1"),
        ("[::1]", "::1"),
        ("atlas.example.com", "atlas.example.com"),
        ("evil.example:8000", "evil.example"),
        (None, None),
        ("", None),
        ("evil.example@127.0.0.1:8000", None),  # user info is never part of a Host
        ("127.0.0.1:8000/path", None),
        ("127.0.0.1:8000 evil", None),
        ("[::1:8000", None),
        ("127.0.0.1:123456", None),
    ],
)
def test_host_name_reads_only_a_plain_host_and_port(header: str | None, name: str | None) -> None:
    assert host_name(header) == name


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("LocalHost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.5", False),
        ("localhost.evil.example", False),
        ("evil.example", False),
        ("X127.0.0.1", False),  # only brackets are taken off
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_users_own_page_with_the_token_passes_and_keeps_it_in_a_cookie() -> None:
    verdict = check({"Host": HOST}, navigation=True)
    assert verdict.allowed and verdict.status == HTTPStatus.OK
    assert verdict.set_cookie  # the next requests (static files, the websocket) bring it


def test_the_cookie_alone_passes_without_setting_it_again() -> None:
    verdict = check(
        {
            "Host": HOST,
            "Origin": "http://127.0.0.1:8000",
            "Sec-Fetch-Site": "same-origin",
            "Cookie": f"theme=dark; atlas-tui-8000={TOKEN}",
        },
        token=None,
    )
    assert verdict.allowed and not verdict.set_cookie


@pytest.mark.parametrize(
    "authorization", [f"token {TOKEN}", f"Bearer {TOKEN}", f"  TOKEN   {TOKEN} "]
)
def test_a_program_may_send_the_token_as_a_header(authorization: str) -> None:
    verdict = check({"Host": HOST, "Authorization": authorization}, token=None)
    assert verdict.allowed and verdict.set_cookie


@pytest.mark.parametrize(
    ("headers", "token"),
    [
        ({"Host": HOST}, None),  # nothing
        ({"Host": HOST}, ""),
        ({"Host": HOST}, TOKEN[:-1]),  # almost
        ({"Host": HOST}, TOKEN + "x"),
        ({"Host": HOST}, TOKEN.upper()),
        ({"Host": HOST, "Cookie": f"atlas-tui-8001={TOKEN}"}, None),  # another server's cookie
        ({"Host": HOST, "Cookie": "atlas-tui-8000=wrong"}, None),
        ({"Host": HOST, "Cookie": 'atlas-tui-8000="unterminated'}, None),
        ({"Host": HOST, "Authorization": f"Basic {TOKEN}"}, None),
        ({"Host": HOST, "Authorization": f"token {TOKEN} extra"}, None),
    ],
)
def test_without_the_token_nothing_is_served(headers: dict[str, str], token: str | None) -> None:
    verdict = check(headers, token, navigation=True)
    assert not verdict.allowed
    assert verdict.status == HTTPStatus.FORBIDDEN
    assert verdict.reason == (
        "This server needs its token: open the full address `atlas-tui serve` printed "
        "(it ends in ?token=...)."
    )
    assert verdict.detail == "no valid token"


@pytest.mark.parametrize(
    "host",
    [
        "evil.example:8000",  # DNS rebinding: the attacker's name, pointed at 127.0.0.1
        "evil.example",
        "192.168.1.5:8000",
        "0.0.0.0:8000",
        "localhost.evil.example:8000",
        "evil.example@127.0.0.1:8000",
        "",
    ],
)
def test_a_host_name_that_is_not_this_server_is_refused_even_with_the_token(host: str) -> None:
    verdict = check({"Host": host}, navigation=True)
    assert not verdict.allowed and verdict.status == HTTPStatus.FORBIDDEN
    # nothing of the request in the answer, but the log says what it was
    assert verdict.reason == (
        "This server does not answer to that host name: open the address it printed."
    )
    assert verdict.detail == f"Host {host!r} is not this server's name"


def test_a_request_without_host_is_refused() -> None:
    assert not check({}, navigation=True).allowed


@pytest.mark.parametrize("host", ["localhost:8000", "[::1]:8000", "127.0.0.1:2222"])
def test_every_loopback_name_and_a_tunnels_port_are_this_server(host: str) -> None:
    assert check({"Host": host}, navigation=True).allowed


def test_the_listening_address_and_the_public_urls_host_are_this_server_too() -> None:
    served = ["192.168.1.5", "Atlas.LAN", "[2001:db8::5]"]
    server = guard(served_hosts=served, public_url="https://Atlas.Example.com")
    for host in (
        "192.168.1.5:8000",
        "atlas.lan:8000",
        "ATLAS.lan",
        "[2001:db8::5]:8000",
        "atlas.example.com",
        "ATLAS.example.com:443",
        HOST,
    ):
        assert check({"Host": host}, navigation=True, server=server).allowed, host
    for host in ("192.168.1.6:8000", "[2001:db8::6]:8000", "xxxx"):
        assert not check({"Host": host}, navigation=True, server=server).allowed, host
    hostless = guard(public_url="http://:8080")  # a public URL without a host names nothing
    assert not check({"Host": "xxxx"}, navigation=True, server=hostless).allowed


@pytest.mark.parametrize(
    "origin",
    [
        "http://127.0.0.1:9999",  # another port: another origin, though the same site
        "http://evil.example",
        "http://127.0.0.1",
        "http://localhost:8000",  # this server by another name: not the page that asks
        "null",  # a sandboxed frame, a file:// page
        "",
        "127.0.0.1:8000",
        "ftp://127.0.0.1:8000",
    ],
)
def test_a_page_of_another_origin_is_refused(origin: str) -> None:
    for navigation in (True, False):
        verdict = check({"Host": HOST, "Origin": origin}, navigation=navigation)
        assert not verdict.allowed and verdict.status == HTTPStatus.FORBIDDEN
        assert verdict.reason == "Requests from another web page are refused."
        assert repr(origin) in verdict.detail


@pytest.mark.parametrize(
    ("host", "origin"),
    [
        (HOST, "http://127.0.0.1:8000"),
        (HOST, "HTTP://127.0.0.1:8000"),
        (HOST, " https://127.0.0.1:8000 "),
        ("localhost:8000", "http://LocalHost:8000"),  # names compare without regard to case
        ("LOCALHOST:8000", "http://localhost:8000"),
    ],
)
def test_the_servers_own_origin_passes(host: str, origin: str) -> None:
    assert check({"Host": host, "Origin": origin}).allowed


def test_behind_a_proxy_the_public_origin_passes_whatever_host_the_proxy_sends() -> None:
    server = guard(public_url="https://atlas.example.com")
    headers = {"Host": HOST, "Origin": "https://atlas.example.com"}
    assert check(headers, server=server).allowed
    assert not check({**headers, "Origin": "http://atlas.example.com"}, server=server).allowed
    assert not check({**headers, "Origin": "https://evil.example"}, server=server).allowed
    assert not check({**headers, "Origin": "https://atlas.example.com"}).allowed  # no public URL


@pytest.mark.parametrize("site", ["cross-site", "same-site", "Cross-Site", "bogus"])
def test_a_request_from_another_page_is_refused_unless_it_is_a_navigation(site: str) -> None:
    headers = {"Host": HOST, "Sec-Fetch-Site": site}
    verdict = check(headers)
    assert not verdict.allowed and verdict.status == HTTPStatus.FORBIDDEN
    assert verdict.reason == "Requests from another web page are refused."
    assert verdict.detail == f"Sec-Fetch-Site {site!r}"
    assert check(headers, navigation=True).allowed  # a link to the page, from anywhere


@pytest.mark.parametrize("site", ["same-origin", "none", "Same-Origin"])
def test_the_servers_own_pages_and_the_users_typing_pass(site: str) -> None:
    assert check({"Host": HOST, "Sec-Fetch-Site": site}).allowed


def test_without_a_token_the_host_and_origin_rules_still_hold() -> None:
    server = RequestGuard(port=8000)
    assert check({"Host": HOST}, token=None, server=server).allowed
    assert not check({"Host": "evil.example:8000"}, token=None, server=server).allowed
    cross = {"Host": HOST, "Origin": "http://127.0.0.1:9"}
    assert not check(cross, token=None, server=server).allowed
    blind = {"Host": HOST, "Sec-Fetch-Site": "cross-site"}  # an <img>: no Origin
    assert not check(blind, token=None, server=server).allowed
    assert not check({"Host": HOST}, token=None, server=server).set_cookie


def test_the_cookie_is_httponly_strict_and_secure_behind_https() -> None:
    cookie = guard().cookie()
    assert cookie == {
        "name": "atlas-tui-8000",
        "value": TOKEN,
        "path": "/",
        "httponly": True,
        "samesite": "Strict",
        "secure": False,
    }
    assert guard(public_url="https://atlas.example.com").cookie()["secure"] is True
    assert guard(public_url="http://atlas.example.com").cookie()["secure"] is False
