"""A team's index on object storage: every verb, the TUI, concurrent writers, a reader during an
ingest, and the errors of a store that cannot be reached, against a real SeaweedFS S3 server.

The real `atlas-tui` in subprocesses (a team's machines are separate processes), the real model and
LanceDB; the server is tests/seaweed.py's, on loopback, with credentials it checks.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas_tui.config import Settings
from atlas_tui.errors import IndexError_
from atlas_tui.query import AtlasQuery
from atlas_tui.sessions import SessionStore
from tests.cli_run import run_cli, start_cli
from tests.corpus import NOTES, write_files
from tests.fake_anthropic import free_port
from tests.seaweed import SECRET_KEY, SeaweedS3
from tests.stalling_proxy import StallingProxy

pytestmark = pytest.mark.xdist_group("s3")  # one SeaweedFS for all of them

TIMEOUT = 240
MORE = {
    f"topic-{n}.md": f"# Topic {n}\n\nThe {word} is described in note {n} of the shared drive.\n"
    for n, word in enumerate(["astrolabe", "barometer", "chronometer", "dynamo", "escapement"])
}


def run(*args: str, env: dict[str, str], timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return run_cli(*args, env=env, timeout=timeout)


@pytest.fixture
def team_env(seaweed: SeaweedS3, tmp_path: Path) -> dict[str, str]:
    """An atlas-tui process's environment: the store's AWS variables, its own sessions file."""
    return {
        **os.environ,
        **seaweed.env(),
        "ATLAS_SESSIONS_PATH": str(tmp_path / "sessions.sqlite3"),
    }


def chunk_ids(uri: str) -> Counter[str]:
    import lancedb

    table = lancedb.connect(uri).open_table("atlas_knowledge_base")
    return Counter(table.to_arrow().column("id").to_pylist())


def test_every_verb_works_on_an_s3_index(seaweed: SeaweedS3, team_env, tmp_path: Path) -> None:
    corpus = write_files(tmp_path / "notes", NOTES)
    db = f"s3://{seaweed.make_bucket()}/team/index"

    ingest = run("ingest", str(corpus), "--db", db, "--json", env=team_env)
    assert ingest.returncode == 0, ingest.stderr
    report = json.loads(ingest.stdout)
    assert report["files_added"] == 2 and report["chunks_pending"] == 0

    env = {**team_env, "ATLAS_DB_PATH": db}  # the environment's form of --db
    found = run("search", "trimodal methodology", "--json", env=env)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout)[0]["source"] == "trimodal.md"

    asked = run("ask", "What is the trimodal methodology?", env=env)
    assert asked.returncode == 0, asked.stderr
    answer, _, sources = asked.stdout.partition("Sources:")
    assert "bottom-up" in answer and "[1]" in answer and "[1] trimodal.md" in sources

    stats = run("stats", "--json", env=env)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["documents"] == 2
    assert json.loads(stats.stdout)["location"] == db

    check = run("check", env=env)
    assert check.returncode == 0 and "sound" in check.stdout, check.stdout + check.stderr

    (corpus / "lighthouse.md").unlink()
    again = run("ingest", str(corpus), "--json", env=env)
    assert again.returncode == 0, again.stderr
    second = json.loads(again.stdout)
    assert second["files_unchanged"] == 1 and second["files_removed"] == 1

    listed = run("sessions", env=env)  # sessions stay on this machine, with the answer asked
    assert listed.returncode == 0 and "trimodal" in listed.stdout.lower()


def test_the_config_file_reaches_the_store_and_never_shows_its_secret(
    seaweed: SeaweedS3, tmp_path: Path
) -> None:
    bucket = seaweed.make_bucket()
    corpus = write_files(tmp_path / "notes", NOTES)
    config = tmp_path / "config.toml"
    base = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "ATLAS_DB_PATH"
    }
    env = {**base, "ATLAS_CONFIG": str(config), "ATLAS_SESSIONS_PATH": str(tmp_path / "s.db")}

    def configure(secret: str) -> None:
        config.write_text(
            f'db_path = "s3://{bucket}/from-config"\n\n[storage]\n'
            f'aws_endpoint = "{seaweed.endpoint}"\naws_region = "us-east-1"\n'
            f'aws_allow_http = true\naws_access_key_id = "atlas-test-key"\n'
            f'aws_secret_access_key = "{secret}"\n'
        )

    configure(SECRET_KEY)
    ingest = run("ingest", str(corpus), env=env)
    assert ingest.returncode == 0, ingest.stderr
    found = run("search", "lamp wick", "--json", env=env)
    assert json.loads(found.stdout)[0]["source"] == "lighthouse.md"

    configure("a-wrong-secret-0123")
    refused = run("search", "lamp wick", env=env)
    assert refused.returncode != 0
    assert "refused the credentials (SignatureDoesNotMatch)" in refused.stderr
    assert "a-wrong-secret-0123" not in refused.stderr + refused.stdout
    assert "Traceback" not in refused.stderr


def test_two_concurrent_ingests_into_a_new_index_both_succeed_and_write_each_chunk_once(
    seaweed: SeaweedS3, s3_env: SeaweedS3, team_env, tmp_path: Path
) -> None:
    corpus = write_files(tmp_path / "drive", {**NOTES, **MORE})
    db = f"s3://{seaweed.make_bucket()}/shared"
    runs = [start_cli("ingest", str(corpus), "--db", db, "--json", env=team_env) for _ in range(2)]
    results = [(p.communicate(timeout=TIMEOUT), p.returncode) for p in runs]
    for (out, err), code in results:
        assert code == 0, err
        report = json.loads(out)
        assert report["files_added"] + report["files_updated"] + report["files_unchanged"] == 7

    ids = chunk_ids(db)
    assert ids and max(ids.values()) == 1  # no chunk twice
    check = run("check", "--db", db, env=team_env)
    assert check.returncode == 0 and "7 documents" in check.stdout, check.stdout + check.stderr
    found = run("search", "chronometer", "--db", db, "--json", env=team_env)
    assert json.loads(found.stdout)[0]["source"] == "topic-2.md"


def test_a_reader_keeps_answering_during_an_ingest_and_then_sees_its_files(
    seaweed: SeaweedS3, s3_env: SeaweedS3, team_env, tmp_path: Path
) -> None:
    db = f"s3://{seaweed.make_bucket()}/live"
    first = write_files(tmp_path / "first", NOTES)
    assert run("ingest", str(first), "--db", db, env=team_env).returncode == 0

    reader = AtlasQuery(Settings(db_path=db, provider="extractive"))  # opened before the ingest
    reader.warm()
    second = write_files(tmp_path / "second", MORE)
    ingest = start_cli("ingest", str(second), "--db", db, env=team_env)
    answered = 0
    try:
        while ingest.poll() is None:
            passages = reader.retrieve("trimodal methodology")
            assert passages and passages[0].source == "trimodal.md"
            answered += 1
        assert ingest.returncode == 0, ingest.stderr.read() if ingest.stderr else ""
    finally:
        ingest.kill()
        ingest.communicate(timeout=30)
    assert answered >= 3  # it read the index many times while the ingest wrote it
    after = reader.retrieve("barometer")
    assert after and after[0].source == "topic-1.md"


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """An endpoint that accepts connections and never answers (a hung or firewalled proxy)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(50)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


def test_an_ingest_waiting_for_a_lease_says_who_holds_it_and_gives_up_in_time(
    seaweed: SeaweedS3, s3_env: SeaweedS3, team_env, tmp_path: Path
) -> None:
    import lancedb

    from atlas_tui.config import DEFAULT_EMBEDDING_MODEL
    from atlas_tui.knowledge.store import Store

    db = f"s3://{seaweed.make_bucket()}/index"
    Store(db, "atlas_knowledge_base").open_for_writing(DEFAULT_EMBEDDING_MODEL, 384)
    lease = lancedb.connect(db).open_table(
        "atlas_knowledge_base__lease"
    )  # as a writer whose clock ran an hour fast left it when it died
    lease.update(
        where="name = 'writer'",
        values={"owner": "laptop-7:311:c0ffee00", "expires": time.time() + 3600},
    )
    config = tmp_path / "config.toml"
    config.write_text("lease_timeout = 4\n")
    started = time.monotonic()
    result = run(
        "ingest",
        str(write_files(tmp_path / "notes", NOTES)),
        "--db",
        db,
        env={**team_env, "ATLAS_CONFIG": str(config)},
        timeout=120,
    )
    took = time.monotonic() - started
    assert result.returncode == 1
    waiting, error = result.stderr.strip().splitlines()  # the error says its hint on its line
    assert "Waiting for this index's write lease, held by laptop-7:311:c0ffee00" in waiting
    assert "by its own clock" in waiting and "given up after 4 s" in waiting
    assert "laptop-7:311:c0ffee00" in error and "gave up waiting after 4 s" in error
    assert "lease_timeout" in error and "Traceback" not in result.stderr
    assert took < 60, f"gave up after {took:.0f} s"  # 4 s of waiting, plus start-up


@pytest.mark.parametrize(
    ("case", "verb", "expected"),
    [
        ("missing bucket", ("ingest", "--demo"), "the bucket 'no-such-bucket' does not exist"),
        ("wrong secret", ("search", "x"), "refused the credentials (SignatureDoesNotMatch)"),
        ("unknown key", ("stats",), "refused the credentials (InvalidAccessKeyId)"),
        ("nothing listening", ("ingest", "--demo"), "(connection refused)"),
        ("silent endpoint", ("search", "x"), "did not answer within 5 s"),
        ("no network", ("ask", "x"), "could not be resolved (no network, or a wrong endpoint)"),
    ],
)
def test_a_store_that_cannot_be_reached_is_a_clear_error_in_seconds(
    seaweed: SeaweedS3,
    team_env,
    silent_endpoint: str,
    case: str,
    verb: tuple[str, ...],
    expected: str,
) -> None:
    bucket = seaweed.make_bucket()
    env = dict(team_env)
    db = f"s3://{bucket}/index"
    if case == "missing bucket":
        db = "s3://no-such-bucket/index"
    elif case == "wrong secret":
        env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    elif case == "unknown key":
        env["AWS_ACCESS_KEY_ID"] = "nobody"
    elif case == "nothing listening":
        env["AWS_ENDPOINT"] = f"http://127.0.0.1:{free_port()}"
    elif case == "silent endpoint":
        env["AWS_ENDPOINT"] = silent_endpoint
    else:  # no endpoint given: the real AWS, whose name does not resolve without a network
        env.pop("AWS_ENDPOINT")
    started = time.monotonic()
    result = run(*verb, "--db", db, env=env, timeout=90)
    took = time.monotonic() - started
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()  # the error, and for `ask` its hint below it
    assert len(lines) <= 2 and expected in lines[0] and "Traceback" not in result.stderr
    assert took < 60, f"{verb[0]} took {took:.0f} s to fail ({case})"  # not minutes of retries


QUICK_STORE = '[storage]\ntimeout = "5s"\nclient_retry_timeout = "5"\n'  # a 10 s bound


def test_a_store_that_stalls_after_the_probe_fails_within_its_bound(
    seaweed: SeaweedS3, team_env, tmp_path: Path
) -> None:
    """The probe's connection is answered, every later one stalls: before, one opening step
    made LanceDB repeat its request 6 times (18 connections with these options: 94 s; with the
    defaults 6 x 30 s). Now the step is bounded as a whole: timeout + client_retry_timeout.
    (Connecting is the step that stalls, for `ingest` as for `stats`: one verb is enough.)"""
    db = f"s3://{seaweed.make_bucket()}/index"
    config = tmp_path / "config.toml"
    config.write_text(QUICK_STORE)
    with StallingProxy(seaweed.port, forward=1) as proxy:
        env = {**team_env, "AWS_ENDPOINT": proxy.endpoint, "ATLAS_CONFIG": str(config)}
        started = time.monotonic()
        result = run("stats", "--db", db, env=env, timeout=120)
        took = time.monotonic() - started
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "the store stopped answering (no answer within 10 s)" in line
    assert proxy.stalled >= 1
    assert took < 40, f"stats took {took:.0f} s"  # 10 s, start-up and LanceDB's exit


def test_a_store_that_stalls_mid_session_bounds_each_search(
    seaweed: SeaweedS3, s3_env: SeaweedS3, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = f"s3://{seaweed.make_bucket()}/index"
    corpus = write_files(tmp_path / "notes", NOTES)
    assert AtlasQuery(Settings(db_path=db)).ingest([str(corpus)]).ok
    with StallingProxy(seaweed.port, forward=10_000) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT", proxy.endpoint)
        storage = {"timeout": "2s", "client_retry_timeout": "2"}  # a 4 s bound
        client = AtlasQuery(Settings(db_path=db, provider="extractive", storage=storage))
        assert client.retrieve_only("trimodal methodology")  # answered while the store did
        proxy.stall()
        for mode in ("vector", "keyword", "hybrid"):
            started = time.monotonic()
            with pytest.raises(IndexError_, match=r"could not be searched: the store stopped"):
                client.retrieve_only("lighthouse keeper", mode=mode)
            took = time.monotonic() - started
            assert 4 <= took < 15, f"{mode}: {took:.1f} s"  # before: 6 requests' worth (~40 s)


def test_the_tui_answers_from_an_s3_index(seaweed: SeaweedS3, s3_env: SeaweedS3, tmp_path: Path):
    db = f"s3://{seaweed.make_bucket()}/tui"
    settings = Settings(db_path=db, provider="extractive", sessions_path=str(tmp_path / "s.db"))
    client = AtlasQuery(settings)
    assert client.ingest([str(write_files(tmp_path / "notes", NOTES))]).ok

    import asyncio

    from atlas_tui.tui.app import AtlasApp
    from tests.tui.helpers import ask, settled

    async def session() -> str:
        app = AtlasApp(settings, client=client)
        async with app.run_test(size=(120, 36)) as pilot:
            view = await ask(pilot, "What is the trimodal methodology?")
            await settled(pilot)
            return view.answer.source

    answer = asyncio.run(session())
    assert "bottom-up" in answer and "(cite:1)" in answer  # a citation, opening passage 1
    with SessionStore(settings.resolved_sessions_path) as store:
        (summary,) = store.list_sessions()
    assert summary.turns == 1
