"""An index on object storage (s3://, gs://, az://): the options LanceDB gets, and its failures.

Options, layered like every setting: atlas-tui's defaults < the config file's `[storage]` table
< the environment. The environment's standard variables (AWS_ENDPOINT, AWS_REGION,
AWS_ALLOW_HTTP, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY...) are read by LanceDB itself, so a
`[storage]` key whose variable is set is not passed at all. Credentials are best left to the
environment or the AWS chain (profiles, instance roles); they are never shown or stored.

An endpoint that does not answer fails in seconds, not after minutes of retries: before the
first connection to an S3 endpoint, `probe` asks it for the bucket (one HEAD, 5 s at most; any
HTTP answer will do, a 403 included), because LanceDB makes several requests to open an index and
object_store gives each its own timeout and retries. The defaults then bound each request to a
store that stops answering later: 5 s to connect, 30 s per request, 2 retries within 15 s. But one
step of LanceDB's can make many requests (opening an index lists its namespace manifest six times
over when the store stalls: 3 minutes), so `within_deadline` bounds each step that opens an index
(connect, list, open) as a whole: `timeout` + `client_retry_timeout` (45 s by default) at most.

`describe_failure` reads what the store answered (its XML error code, the connection error)
out of LanceDB's Rust debug text, so a missing bucket, refused credentials, an endpoint where
nothing listens and a name that does not resolve each get their own sentence.
"""

from __future__ import annotations

import os
import queue
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from typing import TypeVar
from urllib.parse import urlsplit

from atlas_tui.errors import IndexError_

DEFAULTS: dict[str, str] = {
    "connect_timeout": "5s",
    "timeout": "30s",
    "client_max_retries": "2",
    "client_retry_timeout": "15",
}
REMOTE_HINT = (
    "Check the URI, the object store's endpoint and credentials (AWS_ENDPOINT, AWS_ACCESS_KEY_ID, "
    "AWS_SECRET_ACCESS_KEY, AWS_REGION) and the network."
)
PROBE_TIMEOUT_S = 5.0
T = TypeVar("T")
_probed: set[str] = set()  # endpoints that answered once in this process

_CODE = re.compile(r"<Code>([A-Za-z]+)</Code>")
_STATUS = re.compile(r"status: (\d{3})")
_URL = re.compile(r"uri: Some\((\w+://[^/\s)]+)")
_CREDENTIAL_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}


def is_remote(location: str) -> bool:
    return "://" in location


def bucket_of(uri: str) -> str:
    return urlsplit(uri).netloc


def storage_options(
    configured: Mapping[str, str], environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The options to open an object-store index with (see the module doc for the layering)."""
    environ = os.environ if environ is None else environ
    options = dict(DEFAULTS)
    for key, value in configured.items():
        name = key.lower()
        if name.upper() in environ or f"AWS_{name.upper()}" in environ:
            continue  # the environment wins over the config file, as for every setting
        options[name] = value
    return options


def _unresolved(endpoint: str) -> str:
    return f"the host of {endpoint} could not be resolved (no network, or a wrong endpoint)"


def _refused(endpoint: str) -> str:
    return f"nothing answers at {endpoint} (connection refused)"


def describe_failure(text: str, uri: str) -> str | None:
    """What went wrong reaching `uri`, in words, or None when the text says nothing we know."""
    code = next(iter(_CODE.findall(text)), "")
    endpoint = next(iter(_URL.findall(text)), "the endpoint")
    if code == "NoSuchBucket":
        return f"the bucket {bucket_of(uri)!r} does not exist at {endpoint} (create it first)"
    if code in _CREDENTIAL_CODES:
        return f"{endpoint} refused the credentials ({code})"
    if "dns error" in text or "failed to lookup address" in text:
        return _unresolved(endpoint)
    if "ConnectionRefused" in text or "Connection refused" in text:
        return _refused(endpoint)
    if re.search(r"timed out|Timeout|operation timed out", text):
        return f"{endpoint} did not answer in time"
    if "Network is unreachable" in text or "NetworkUnreachable" in text:
        return f"{endpoint} cannot be reached: the network is unreachable"
    status = next(iter(_STATUS.findall(text)), "")
    if status in {"401", "403"}:
        return f"{endpoint} refused the request (HTTP {status}: check the credentials)"
    return None


def endpoint_of(uri: str, options: Mapping[str, str], environ: Mapping[str, str]) -> str | None:
    """The HTTP endpoint an s3:// URI is reached at (None for other schemes)."""
    if urlsplit(uri).scheme not in {"s3", "s3a"}:
        return None
    for name in ("AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        if environ.get(name):
            return environ[name].rstrip("/")
    if options.get("aws_endpoint") or options.get("endpoint"):
        return (options.get("aws_endpoint") or options["endpoint"]).rstrip("/")
    region = environ.get("AWS_REGION") or options.get("aws_region") or "us-east-1"
    return f"https://s3.{region}.amazonaws.com"


def probe(uri: str, options: Mapping[str, str], environ: Mapping[str, str] | None = None) -> None:
    """Raise a one-line `IndexError_` when the endpoint of `uri` does not answer HTTP at all."""
    environ = os.environ if environ is None else environ
    endpoint = endpoint_of(uri, options, environ)
    if endpoint is None or endpoint in _probed:
        return
    request = urllib.request.Request(f"{endpoint}/{bucket_of(uri)}", method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=PROBE_TIMEOUT_S):
            pass
    except urllib.error.HTTPError:
        pass  # it answered (403 unsigned, 404 no bucket: LanceDB's own requests say which)
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, socket.gaierror):
            why = _unresolved(endpoint)
        elif isinstance(reason, ConnectionRefusedError):
            why = _refused(endpoint)
        elif isinstance(reason, TimeoutError | socket.timeout):
            why = f"{endpoint} did not answer within {PROBE_TIMEOUT_S:g} s"
        else:
            why = f"{endpoint} cannot be reached ({reason})"
        raise IndexError_(
            f"The index at {uri} could not be reached: {why}.", hint=REMOTE_HINT
        ) from exc
    _probed.add(endpoint)


def _seconds(text: str, default: float) -> float:
    """A duration option ("30s", "500ms", "2m", "15") in seconds; `default` if unreadable."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*", text)
    if match is None:
        return default
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[match.group(2) or "s"]
    return float(match.group(1)) * scale


def deadline_s(options: Mapping[str, str]) -> float:
    """How long one step on the store may take in all: a request's timeout and its retries."""
    request = _seconds(options.get("timeout", DEFAULTS["timeout"]), 30.0)
    retries = _seconds(options.get("client_retry_timeout", DEFAULTS["client_retry_timeout"]), 15.0)
    return request + retries


def within_deadline(action: Callable[[], T], uri: str, seconds: float, doing: str) -> T:
    """`action()` (a LanceDB step on an object store), given `seconds` in all; past that an
    `IndexError_` says the store stopped answering. The step is left to end on its own thread
    (LanceDB cannot be interrupted), its result dropped."""
    results: queue.SimpleQueue[tuple[bool, object]] = queue.SimpleQueue()

    def run() -> None:
        try:
            results.put((True, action()))
        except BaseException as exc:  # every outcome reaches the caller, who waits for it
            results.put((False, exc))

    threading.Thread(target=run, name="atlas-store-step", daemon=True).start()
    try:
        ok, value = results.get(timeout=seconds)
    except queue.Empty:
        raise IndexError_(
            f"The index at {uri} could not be {doing}: the store stopped answering (no answer "
            f"within {seconds:g} s).",
            hint=REMOTE_HINT,
        ) from None
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
