"""What LanceDB guarantees on an S3-compatible store, tested on SeaweedFS (docs/scaling.md).

- The store honours conditional writes (`If-None-Match: *` refused with 412 on an existing key):
  what LanceDB's commits rely on for atomicity there.
- Commits are atomic: processes appending at once lose no rows (each commit is a new version,
  a loser of the race rebases and commits again).
- Not guaranteed: two `merge_insert`s inserting the same new key at once both succeed, so
  atlas-tui's writers take the index's lease (lease.py): no two processes ever hold it at once,
  and a lease left by a dead holder expires.
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


def test_a_lease_left_by_a_dead_holder_expires(
    seaweed: SeaweedS3, s3_env: SeaweedS3, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = f"s3://{seaweed.make_bucket()}/db"
    monkeypatch.setattr(lease_module, "TTL_S", 1.0)
    Store(uri, "kb").open_for_writing("hand-placed", 8)
    held = Store(uri, "kb").exclusive()
    held.__enter__()  # taken and never released: its holder "died"
    started = time.monotonic()
    with Store(uri, "kb").exclusive():
        waited = time.monotonic() - started
    assert 0.5 < waited < 30  # it waited for the expiry, not for ever
    del held
