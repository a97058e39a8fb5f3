"""What LanceDB guarantees on an S3-compatible store, tested on SeaweedFS (docs/scaling.md).

- The store honours conditional writes (`If-None-Match: *` refused with 412 on an existing key):
  what LanceDB's commits rely on for atomicity there.
- Commits are atomic: processes appending at once lose no rows (each commit is a new version,
  a loser of the race rebases and commits again).
- Not guaranteed: two `merge_insert`s inserting the same new key at once both succeed, so
  atlas-tui's writers take the index's lease (lease.py): no two processes ever hold it at once,
  a lease left by a dead holder is taken over (judged by this machine's clock only: the holder's
  may run fast or slow), and a live holder is waited for within a bound, by name.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pytest

from atlas_tui.knowledge import lease as lease_module
from atlas_tui.knowledge.lease import LeaseTimeout
from atlas_tui.knowledge.store import Store
from tests.seaweed import SeaweedS3

pytestmark = pytest.mark.xdist_group("s3")
ROOT = Path(__file__).resolve().parents[2]


def racers(seaweed: SeaweedS3, *args: str, count: int = 3) -> list[str]:
    start_at = str(time.time() + 4.0)  # every process imported and connected by then
    env = {**os.environ, **seaweed.env(), "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.team.race_worker", *args, start_at, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for n in range(count)
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


def test_the_store_refuses_a_second_create_of_one_key(seaweed: SeaweedS3) -> None:
    bucket = seaweed.make_bucket()
    filesystem = seaweed.filesystem()
    with filesystem.open_output_stream(f"{bucket}/manifest") as out:
        out.write(b"v1")
    status = seaweed.signed_put_status(f"{bucket}/manifest", b"v2", if_none_match=True)
    assert status == 412
    assert seaweed.signed_put_status(f"{bucket}/other", b"v1", if_none_match=True) == 200


def test_concurrent_appends_lose_no_rows(seaweed: SeaweedS3, s3_env: SeaweedS3) -> None:
    import lancedb

    uri = f"s3://{seaweed.make_bucket()}/db"
    table = lancedb.connect(uri).create_table(
        "t", data=pa.table({"writer": ["seed"], "batch": [-1]})
    )
    racers(seaweed, "append", uri, "t")
    rows = lancedb.connect(uri).open_table("t").to_arrow().to_pylist()
    assert len(rows) == 1 + 3 * 5 * 10
    assert {(r["writer"], r["batch"]) for r in rows if r["writer"] != "seed"} == {
        (str(w), b) for w in range(3) for b in range(5)
    }
    assert table.version >= 1


def test_no_two_processes_hold_the_lease_at_once(seaweed: SeaweedS3, s3_env: SeaweedS3) -> None:
    uri = f"s3://{seaweed.make_bucket()}/db"
    Store(uri, "kb").open_for_writing("hand-placed", 8)  # as the first ingest does: every table
    outputs = racers(seaweed, "lease", uri, "kb")
    holds = sorted(tuple(map(float, line.split())) for out in outputs for line in out.splitlines())
    assert len(holds) == 15
    for (_, first_end), (second_start, _) in itertools.pairwise(holds):
        assert second_start >= first_end  # one holder at a time


def leave_lease(uri: str, collection: str, owner: str, expires: float) -> None:
    """The lease row as a writer that then died left it."""
    import lancedb

    table = lancedb.connect(uri).open_table(f"{collection}__lease")
    table.update(where="name = 'writer'", values={"owner": owner, "expires": expires})


@pytest.fixture
def quick_lease(monkeypatch: pytest.MonkeyPatch) -> None:
    """A holder renews every 0.3 s; a row unchanged for 2 s is stale (60 s and 10 s in use)."""
    monkeypatch.setattr(lease_module, "HEARTBEAT_S", 0.3)
    monkeypatch.setattr(lease_module, "STALE_S", 2.0)
    monkeypatch.setattr(lease_module, "POLL_S", 0.2)


def test_a_dead_holder_whose_clock_ran_an_hour_fast_is_taken_over_after_stale_s(
    seaweed: SeaweedS3, s3_env: SeaweedS3, quick_lease: None
) -> None:
    uri = f"s3://{seaweed.make_bucket()}/db"
    Store(uri, "kb").open_for_writing("hand-placed", 8)
    leave_lease(uri, "kb", "fast-clock-host:4242:deadbeef", time.time() + 3600)
    store = Store(uri, "kb", lease_timeout=60)
    said: list[str] = []
    store.on_lease_wait = said.append
    started = time.monotonic()
    with store.exclusive():
        waited = time.monotonic() - started
    assert 2.0 <= waited < 20  # unchanged for STALE_S by this machine's clock, not for an hour
    (line,) = said  # said once, with who holds it and until when
    assert "fast-clock-host:4242:deadbeef" in line and "by its own clock" in line
    hour = time.strftime("%Y-%m-%d %H", time.localtime(time.time() + 3600))
    assert hour in line


def test_a_live_holder_with_a_slow_clock_is_not_robbed_and_the_wait_is_bounded(
    seaweed: SeaweedS3, s3_env: SeaweedS3, quick_lease: None
) -> None:
    uri = f"s3://{seaweed.make_bucket()}/db"
    Store(uri, "kb").open_for_writing("hand-placed", 8)
    holder = Store(uri, "kb")
    holder._lease._clock = lambda: time.time() - 3600  # its expiry: an hour ago, by our clock
    with holder.exclusive():
        waiter = Store(uri, "kb", lease_timeout=4)
        started = time.monotonic()
        with pytest.raises(LeaseTimeout) as refused, waiter.exclusive():
            pytest.fail("took a lease its live holder renews")
        waited = time.monotonic() - started
    assert 4 <= waited < 20
    message = refused.value.message
    assert holder._lease.owner in message and "gave up waiting after 4 s" in message
    assert "lease_timeout" in refused.value.hint
    with Store(uri, "kb", lease_timeout=4).exclusive():  # released: free at once
        pass
