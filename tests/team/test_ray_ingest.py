"""`atlas-tui ingest --engine ray` against a real local Ray cluster (tests/ray_cluster.py), driven
through the real CLI in subprocesses: the same index as the local path, incremental re-ingest,
a killed encoder actor, Ctrl+C then a rerun, and the index on SeaweedFS (s3://)."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.cli_run import run_cli, start_cli
from tests.corpus import write_files
from tests.ray_cluster import REPO, RayCluster, ray_env
from tests.seaweed import SeaweedS3

pytestmark = pytest.mark.xdist_group("ray")

RUN_TIMEOUT_S = 120
_VOCABULARY = (
    "lamp harbour granite willow ember quartz meadow lantern cipher orbit delta falcon maple "
    "signal copper tide basalt glacier ledger pylon saffron thistle vortex walnut yarrow zephyr "
    "anchor beacon canyon dune estuary fjord grove heron island juniper kelp lagoon marsh "
    "nectar oasis prairie quarry reef summit tundra upland valley wharf"
)
WORDS = tuple(_VOCABULARY.split())
QUERIES = ("how does the granite lantern work",)


def corpus(files: int, sections: int, seed: int) -> dict[str, str]:
    """Markdown notes of `sections` ~60-word sections each: one chunk per section."""
    rng = random.Random(seed)
    notes = {}
    for f in range(files):
        parts = [f"# Note {f} on {rng.choice(WORDS)}"]
        for s in range(sections):
            words = " ".join(rng.choice(WORDS) for _ in range(60))
            parts.append(f"## Part {s} about {rng.choice(WORDS)}\n\n{words.capitalize()}.")
        notes[f"notes/note{f:02d}.md"] = "\n\n".join(parts) + "\n"
    return notes


def atlas(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, env=env or ray_env(), timeout=RUN_TIMEOUT_S, cwd=REPO)


def ingest(root: Path, db: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    done = atlas("ingest", str(root), "--db", db, "--json", *extra, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def chunks(db: str) -> dict[str, dict[str, Any]]:
    import lancedb

    rows = lancedb.connect(db).open_table("atlas_knowledge_base").to_arrow().to_pylist()
    by_id = {row["id"]: row for row in rows}
    assert len(by_id) == len(rows), "a chunk was written twice"
    return by_id


def assert_same_chunks(db: str, reference: str) -> None:
    got, want = chunks(db), chunks(reference)
    assert got.keys() == want.keys()
    for key, row in want.items():
        assert got[key]["text"] == row["text"] and got[key]["source"] == row["source"]
        assert got[key]["vector"] is not None
        np.testing.assert_allclose(got[key]["vector"], row["vector"], atol=1e-6)


def search(db: str, query: str, env: dict[str, str] | None = None) -> list[dict[str, Any]]:
    done = atlas("search", query, "--db", db, "--json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def assert_same_results(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert [(p["rank"], p["source"], p["text"]) for p in got] == [
        (p["rank"], p["source"], p["text"]) for p in want
    ]
    assert [p["score"] for p in got] == pytest.approx([p["score"] for p in want], abs=1e-6)


@pytest.fixture(scope="module")
def notes(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~130 chunks: two batches (128 + the rest), one per actor, a few seconds of encoding."""
    return write_files(tmp_path_factory.mktemp("ray-notes"), corpus(12, 11, seed=7))


@pytest.fixture(scope="module")
def local_index(notes: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The same notes ingested by the local engine: what every Ray run must equal."""
    db = str(tmp_path_factory.mktemp("ray-local") / "db")
    report = ingest(notes, db)
    assert report["chunks_embedded"] == report["chunks_written"] > 128
    return db


@pytest.fixture(scope="module")
def local_results(local_index: str) -> dict[str, list[dict[str, Any]]]:
    return {query: search(local_index, query) for query in QUERIES}


def wait_for(condition: Any, what: str, timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start_ingest(cluster: RayCluster, root: Path, db: str) -> subprocess.Popen[str]:
    args = ["ingest", str(root), "--db", db, "--json", "--ray-address", cluster.address]
    return start_cli(*args, env=ray_env(), cwd=REPO)


def finish(process: subprocess.Popen[str]) -> tuple[int, dict[str, Any], str]:
    try:
        out, err = process.communicate(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return process.returncode, json.loads(out) if out.strip() else {}, err


def test_ray_ingest_equals_local(
    ray_cluster: RayCluster,
    notes: Path,
    local_index: str,
    local_results: dict[str, list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "db")
    report = ingest(notes, db, "--ray-address", ray_cluster.address)
    assert report["files_added"] == 12 and not report["skipped"] and report["chunks_pending"] == 0
    assert report["chunks_embedded"] == report["chunks_written"]
    assert_same_chunks(db, local_index)
    for query, want in local_results.items():
        assert_same_results(search(db, query), want)
    check = atlas("check", "--db", db, "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout


def test_incremental_reingest_on_ray(ray_cluster: RayCluster, tmp_path: Path) -> None:
    root = write_files(tmp_path / "notes", corpus(5, 2, seed=11))
    (root / "blob.md").write_bytes(b"\x00\x01\x02 not text" * 50)  # refused on a worker
    (root / "empty.md").write_text("   \n")
    db = str(tmp_path / "db")
    ray = ("--engine", "ray", "--ray-address", ray_cluster.address)
    first = ingest(root, db, *ray)
    assert sorted((Path(s["path"]).name, s["reason"]) for s in first["skipped"]) == [
        ("blob.md", "binary file"),
        ("empty.md", "empty file"),
    ]
    assert (
        first["engine"] == "ray"
        and first["files_added"] == 5
        and first["chunks_embedded"] == first["chunks_written"]
    )
    before = chunks(db)

    (root / "notes/note00.md").write_text("# Changed\n\nThe lighthouse keeper moved inland.\n")
    (root / "notes/note01.md").unlink()
    (root / "notes/new.md").write_text("# New\n\nA cormorant dries its wings on the pier.\n")
    # The config file's keys choose the engine and the cluster as the flags do.
    config = tmp_path / "config.toml"
    config.write_text(f'ingest_engine = "ray"\nray_address = "{ray_cluster.address}"\n')
    again = ingest(root, db, env={**ray_env(), "ATLAS_CONFIG": str(config)})
    assert again["engine"] == "ray"
    assert (again["files_added"], again["files_updated"], again["files_unchanged"]) == (1, 1, 3)
    assert [r["reason"] for r in again["removed"]] == ["removed: no longer on disk"]
    assert again["chunks_written"] == again["chunks_embedded"] == 2

    after = chunks(db)
    by_source: dict[str, list[str]] = {}
    for row in after.values():
        by_source.setdefault(row["source"], []).append(row["text"])
        assert row["vector"] is not None
    assert "notes/note01.md" not in by_source
    assert by_source["notes/note00.md"] == ["The lighthouse keeper moved inland."]
    assert by_source["notes/new.md"] == ["A cormorant dries its wings on the pier."]
    unchanged = {
        k
        for k, row in before.items()
        if row["source"] not in ("notes/note00.md", "notes/note01.md")
    }
    assert unchanged <= after.keys()  # the untouched files' chunks stay as they were
    assert len(after) == len(unchanged) + 2
    assert search(db, "cormorant wings pier")[0]["source"] == "notes/new.md"

    nothing = ingest(root, db, *ray)
    assert nothing["files_unchanged"] == 5 and nothing["chunks_written"] == 0


def test_a_killed_encoder_is_retried_and_nothing_written_twice(
    ray_cluster: RayCluster, notes: Path, local_index: str, tmp_path: Path
) -> None:
    db = str(tmp_path / "db")
    process = start_ingest(ray_cluster, notes, db)
    victim = wait_for(lambda: ray_cluster.encoder_actors(encoding=True), "an actor encoding")[0]
    before = set(ray_cluster.encoder_actors())
    os.kill(victim, signal.SIGKILL)
    # Ray restarts the actor in a new process, which loads the encoder and redoes the batch.
    wait_for(lambda: set(ray_cluster.encoder_actors()) - before, "the actor restarted")
    status, report, err = finish(process)
    assert status == 0, err
    assert report["chunks_embedded"] == report["chunks_written"] and report["chunks_pending"] == 0
    assert_same_chunks(db, local_index)


def test_ctrl_c_keeps_the_index_whole_and_a_rerun_resumes(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    # 12 notes of 90 sections: nine batches, more than the cluster holds out at once (two per
    # actor), so the stop always leaves some for the next run, however fast the encoder (int8 on
    # a VNNI machine embedded the shared notes' two batches before a ctrl+c landed).
    root = write_files(tmp_path / "many", corpus(12, 90, seed=7))
    db = str(tmp_path / "db")
    process = start_ingest(ray_cluster, root, db)
    wait_for(lambda: ray_cluster.encoder_actors(encoding=True), "an actor encoding")
    # ctrl+c stops handing out batches; the ones out on the cluster are committed.
    process.send_signal(signal.SIGINT)
    status, report, err = finish(process)
    assert status == 128 + signal.SIGINT and "Traceback" not in err, err
    assert report["interrupted"] and report["chunks_pending"] > 0, (report, err)
    assert report["chunks_written"] == report["chunks_embedded"] + report["chunks_pending"]
    check = atlas("check", "--db", db, "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout

    resumed = ingest(root, db, "--ray-address", ray_cluster.address)
    assert resumed["files_unchanged"] == 12 and resumed["chunks_written"] == 0
    assert resumed["chunks_embedded"] == report["chunks_pending"]
    assert resumed["chunks_pending"] == 0 and not resumed["interrupted"]
    check = atlas("check", "--db", db, "--json")
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout


def test_ray_ingest_into_seaweedfs(
    ray_cluster: RayCluster,
    seaweed: SeaweedS3,
    notes: Path,
    local_results: dict[str, list[dict[str, Any]]],
) -> None:
    env = {**ray_env(), **seaweed.env()}
    db = f"s3://{seaweed.make_bucket()}/team"
    report = ingest(notes, db, "--ray-address", ray_cluster.address, env=env)
    assert report["files_added"] == 12 and report["chunks_pending"] == 0
    for query, want in local_results.items():
        assert_same_results(search(db, query, env=env), want)


def test_an_unreachable_cluster_is_one_line_and_fast(tmp_path: Path) -> None:
    from tests.fake_anthropic import free_port

    root = write_files(tmp_path / "notes", corpus(1, 1, seed=3))
    started = time.monotonic()
    done = atlas(
        "ingest",
        str(root),
        "--db",
        str(tmp_path / "db"),
        "--ray-address",
        f"127.0.0.1:{free_port()}",
    )
    assert time.monotonic() - started < 30
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "atlas-tui: Cannot reach the Ray cluster at 127.0.0.1:"
    )


def test_an_unknown_engine_is_refused_in_one_line(tmp_path: Path) -> None:
    done = atlas("ingest", str(tmp_path), env={**ray_env(), "ATLAS_INGEST_ENGINE": "spark"})
    assert done.returncode == 1
    assert done.stderr == "atlas-tui: Unknown ingest engine 'spark'; use one of local, ray.\n"


def test_without_ray_installed_the_engine_says_which_extra(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None  # as if the extra were not installed\n"
        "from atlas_tui.cli import main\n"
        f"sys.exit(main(['ingest', {str(tmp_path)!r}, '--engine', 'ray']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=ray_env(),
        cwd=REPO,
        timeout=RUN_TIMEOUT_S,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "atlas-tui: The Ray engine needs the ray extra: pip install 'atlas-tui[ray]'\n"
    )


def test_the_tui_ingests_on_ray(
    ray_cluster: RayCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ctrl+o in the TUI with the Ray engine configured: Ray's driver needs standard streams
    with a file descriptor, which the TUI's stand-ins lack (the ingest failed with "file.fileno()
    is not a valid file descriptor")."""
    import asyncio

    from atlas_tui.config import Settings
    from atlas_tui.query import AtlasQuery
    from atlas_tui.tui.app import AtlasApp
    from atlas_tui.tui.screens.ingest import IngestScreen
    from atlas_tui.tui.widgets.status import StatusLine
    from tests.tui.helpers import until

    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    folder = write_files(tmp_path / "docs", {"note.md": "# Note\n\nAn orchard of quince trees.\n"})
    settings = Settings(
        db_path=str(tmp_path / "db"),
        sessions_path=str(tmp_path / "sessions.sqlite3"),
        provider="extractive",
        ingest_engine="ray",
        ray_address=ray_cluster.address,
    )

    async def session() -> tuple[str, list[str]]:
        app = AtlasApp(settings, client=AtlasQuery(settings))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            if app.screen is not app.screen_stack[0]:
                await pilot.press("escape")  # "ingest the demo?": not now
            await pilot.press("ctrl+o")
            await until(pilot, lambda: isinstance(app.screen, IngestScreen))
            app.screen.query_one("Input").value = str(folder)  # type: ignore[attr-defined]
            await pilot.press("enter")
            status = app.query_one(StatusLine)
            # (the count is measured while the ingest runs too: wait for its report)
            ended = ("Ingest finished", "Ingest failed", "Ingest stopped")
            await until(pilot, lambda: any(n.title in ended for n in app.notices), rounds=3000)
            await until(pilot, lambda: "index: 1 document," in status.index, rounds=3000)
            return status.index, [n.title for n in app.notices]

    import faulthandler

    was_enabled = faulthandler.is_enabled()
    faulthandler.disable()  # as in a user's process (pytest enables it, and then Ray skips it)
    try:
        index, titles = asyncio.run(session())
    finally:
        faulthandler.disable()
        if was_enabled:
            faulthandler.enable(file=sys.__stderr__)
    assert "1 document," in index and "Ingest finished" in titles and "Ingest failed" not in titles


def test_a_local_ray_keeps_its_new_token_private(tmp_path: Path) -> None:
    """Without an address, Ray starts on this machine and, with token auth (its default), writes
    a new token to ~/.ray/auth_token: readable by this user only, whatever the umask."""
    home = tmp_path / "home"
    home.mkdir()
    ray_tmp = Path(f"/tmp/atlas-ray-token-{os.getpid()}")  # (its sockets need a short path)
    env = {**ray_env(), "HOME": str(home), "RAY_TMPDIR": str(ray_tmp)}
    env.pop("RAY_AUTH_MODE")  # Ray's own default for a new local cluster: tokens
    env.pop("RAY_ADDRESS", None)
    root = write_files(tmp_path / "notes", corpus(1, 1, seed=5))
    old = os.umask(0o022)  # the common umask, which made the token 0644
    try:
        report = ingest(root, str(tmp_path / "db"), "--engine", "ray", env=env)
    finally:
        os.umask(old)
        shutil.rmtree(ray_tmp, ignore_errors=True)
    assert report["engine"] == "ray" and report["chunks_embedded"] == 1
    token = home / ".ray" / "auth_token"
    assert token.exists(), "Ray wrote no token (token auth off?)"
    assert oct(token.stat().st_mode & 0o777) == oct(0o600)
