"""Ingest over hostile input and faults, through the real CLI and the library (issue 9)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from atlas_tui.cli.progress import WAITING
from atlas_tui.config import Settings
from atlas_tui.errors import ConfigError, IndexError_, IngestError
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.faults import explain
from atlas_tui.knowledge.store import Store
from atlas_tui.knowledge.writer_lock import writer_lock
from tests.cli_run import atlas as run_atlas
from tests.corpus import write_files
from tests.hostile.corpus import DEEP_LEVELS, MARKER, hostile_corpus

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 240
# what must never reach a terminal from a document: escapes and other controls (bidi and
# zero-width characters are the filter's other half, tested with it in tests/test_safety.py)
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


atlas = partial(run_atlas, timeout=TIMEOUT)  # the real CLI, given longer on hostile input


def cli_env(db: Path) -> dict[str, str]:
    values = dict(os.environ)
    values.update(
        ATLAS_DB_PATH=str(db),
        PYTHONPATH=str(REPO),
        LANCEDB_LOG="error",
        HF_HUB_OFFLINE="1",
        RUST_BACKTRACE="0",
    )
    return values


def one_line_error(result: subprocess.CompletedProcess) -> str:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr and "{" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 2, result.stderr  # the message, and its hint
    return lines[0]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Iterator[tuple[Path, Path, subprocess.CompletedProcess]]:
    base = tmp_path_factory.mktemp("hostile")
    corpus = hostile_corpus(base / "corpus", blob_bytes=30_000)
    started = time.monotonic()
    result = atlas("ingest", str(corpus.root), env=cli_env(base / "db"))
    assert time.monotonic() - started < TIMEOUT
    yield corpus.root, base / "db", result
    # pytest's own clean-up of old temp dirs recurses, and 1,100 folders deep is too deep for it
    subprocess.run(["rm", "-rf", str(base / "corpus")], timeout=60, check=True)


def test_hostile_corpus_ingests_without_hanging_or_leaking_escapes(hostile) -> None:
    _root, db, result = hostile
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert not UNSAFE.search(result.stdout), repr(UNSAFE.search(result.stdout))
    report = result.stdout
    assert "pipe.md: not a regular file" in report
    assert "device.md: not a regular file" in report
    assert re.search(r"fifo-ignore/\.gitignore: \.gitignore not used: not a regular file", report)
    assert re.search(r"zero-ignore/\.gitignore: \.gitignore not used: not a regular file", report)
    search = atlas("search", MARKER, "--mode", "keyword", "--limit", "50", env=cli_env(db))
    assert search.returncode == 0 and not UNSAFE.search(search.stdout)
    assert "line one" in search.stdout  # the file named with a newline was indexed


def test_deep_nesting_and_files_beside_hostile_ignores_are_indexed(hostile) -> None:
    _root, db, _result = hostile
    kb = KnowledgeBase(Settings(db_path=str(db)))
    sources = {p.source for p in kb.search(MARKER, mode="keyword", limit=100)}
    assert "/".join(["deep", *["d"] * DEEP_LEVELS, "bottom.md"]) in sources
    assert {"fifo-ignore/kept.md", "zero-ignore/kept.md"} <= sources


def test_token_less_blob_is_split_into_chunks_the_encoder_reads(hostile) -> None:
    from atlas_tui.knowledge.tokens import load_token_counter

    _root, db, _result = hostile
    kb = KnowledgeBase(Settings(db_path=str(db)))
    rows = kb.store.chunks.search().where("source = 'blob.txt'").limit(None).to_arrow()
    texts = rows.column("text").to_pylist()
    assert len(texts) > 50  # 30 KB cut into encoder-sized pieces, not one 30 KB chunk
    assert sum(len(t) for t in texts) >= 30_000 - 2
    counter = load_token_counter(kb.embedder.model_path)
    tokenizer = counter._tokenizer  # the encoder's own tokenizer: no [UNK] for the blob
    encoded = tokenizer.encode(_embedding_text(texts[0]))
    assert "[UNK]" not in encoded.tokens and len(encoded.ids) <= 256


def _embedding_text(text: str) -> str:
    from atlas_tui.knowledge.records import Chunk

    return Chunk(text, "", 0, 0, 0, 0, 0).embedding_text("blob.txt")


def test_no_longer_ingestible_files_lose_their_chunks(tmp_path: Path, kb: KnowledgeBase) -> None:
    secret = "The zanzibar password is hunter2."
    files = {
        f"{name}.md": f"# {name}\n\n{secret} Kept in the {name} file.\n"
        for name in ("emptied", "binary", "ignored", "excluded", "kept")
    }
    root = write_files(tmp_path / "c", files)
    assert kb.ingest([root]).files_added == 5
    (root / "emptied.md").write_text("")
    (root / "binary.md").write_bytes(b"\x00\x01\x02" * 100)
    (root / ".gitignore").write_text("ignored.md\n")
    report = kb.ingest([root], exclude=["excluded.md"])
    removed = {Path(s.path).name: s.reason for s in report.removed}
    assert removed["emptied.md"] == "removed: now empty file"
    assert removed["binary.md"] == "removed: now binary file"
    assert removed["ignored.md"].startswith("removed: now excluded")
    assert removed["excluded.md"].startswith("removed: now excluded")
    assert set(removed) == {"emptied.md", "binary.md", "ignored.md", "excluded.md"}
    hits = kb.search("zanzibar password", mode="keyword", limit=20)
    assert {p.source for p in hits} == {"kept.md"}
    assert report.files_removed == 4 and kb.stats().documents == 1


def test_over_the_size_cap_loses_its_chunks(tmp_path: Path, embedder) -> None:
    root = write_files(tmp_path / "c", {"big.md": "# Big\n\nThe zanzibar password is hunter2.\n"})
    db = str(tmp_path / "db")
    assert KnowledgeBase(Settings(db_path=db)).ingest([root]).files_added == 1
    (root / "big.md").write_text("# Big\n\nThe zanzibar password is hunter2.\n" + "x " * 600)
    report = KnowledgeBase(Settings(db_path=db, max_file_bytes=1000)).ingest([root])
    assert [s.reason for s in report.removed] == [
        "removed: now too large (1,241 bytes; the limit is 1,000)"
    ]
    from atlas_tui.cli.progress import format_report

    assert "big.md: removed: now too large" in format_report(report)
    with pytest.raises(Exception, match="holds no documents"):
        KnowledgeBase(Settings(db_path=db)).search("zanzibar", mode="keyword")


def test_source_glob_matches_the_relative_path_only(tmp_path: Path, kb: KnowledgeBase) -> None:
    root = write_files(
        tmp_path / "tmpdocs",  # the absolute path starts with /tmp: `[!t]*` must not see it
        {"tide.md": "# Tide\n\nThe tide rises.\n", "moon.md": "# Moon\n\nThe moon and tide.\n"},
    )
    kb.ingest([root])
    assert {p.source for p in kb.search("tide", source="[!t]*", limit=10)} == {"moon.md"}
    assert {p.source for p in kb.search("tide", source=f"{root}/*", limit=10)} == set()


@pytest.mark.parametrize(
    ("knobs", "setting"),
    [
        ({"limit": 0}, "result limit"),
        ({"limit": -3}, "result limit"),
        ({"limit": 2.9}, "result limit"),
        ({"limit": True}, "result limit"),
        ({"min_score": float("nan")}, "minimum score"),
        ({"min_score": float("inf")}, "minimum score"),
        ({"min_score": "0.5"}, "minimum score"),
    ],
)
def test_bad_search_knobs_are_refused_at_the_library_edge(
    tmp_path: Path, embedder, knobs: dict, setting: str
) -> None:
    kb = KnowledgeBase(Settings(db_path=str(tmp_path / "no-index")))
    with pytest.raises(ConfigError, match=setting) as caught:
        kb.search("anything", **knobs)
    assert "\n" not in str(caught.value)


def test_damaged_full_text_index_is_rebuilt_by_ingest(tmp_path: Path, embedder) -> None:
    root = write_files(tmp_path / "c", {"a.md": "# Owls\n\nOwls hunt at night.\n"})
    db = tmp_path / "db"
    env = cli_env(db)
    assert atlas("ingest", str(root), env=env).returncode == 0
    for path in (db / "atlas_knowledge_base.lance" / "_indices").rglob("*"):
        if path.is_file():
            path.write_bytes(b"garbage" * 64)
    broken = atlas("search", "owls", "--mode", "keyword", env=env)
    one_line_error(broken)
    checked = atlas("check", env=env)
    assert checked.returncode == 1 and "full-text index is damaged" in checked.stderr
    assert "check --repair" in checked.stderr
    again = atlas("ingest", str(root), env=env)
    assert again.returncode == 0 and "rebuilt the full-text index" in again.stdout
    assert "a.md" in atlas("search", "owls", "--mode", "keyword", env=env).stdout
    assert atlas("check", env=env).returncode == 0


def test_damaged_chunk_data_is_found_by_check(tmp_path: Path, embedder) -> None:
    root = write_files(tmp_path / "c", {"a.md": "# Owls\n\nOwls hunt at night.\n"})
    db = tmp_path / "db"
    env = cli_env(db)
    assert atlas("ingest", str(root), env=env).returncode == 0
    assert atlas("check", env=env).returncode == 0
    data_files = list((db / "atlas_knowledge_base.lance" / "data").glob("*.lance"))
    assert data_files
    for data in data_files:
        raw = bytearray(data.read_bytes())
        start = len(raw) // 3
        raw[start:-16] = os.urandom(len(raw) - 16 - start)  # pages and column metadata
        data.write_bytes(bytes(raw))
    checked = atlas("check", env=env)
    assert checked.returncode == 1
    assert "Traceback" not in checked.stderr and "panicked" not in checked.stderr
    assert "ingest" in checked.stderr  # says how to get back to a working index
    stats = atlas("search", "owls", "--mode", "vector", env=env)
    one_line_error(stats)


def test_unreachable_object_store_is_one_honest_line(tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    env.update(
        ATLAS_DB_PATH="s3://atlas-nowhere/index",
        AWS_ENDPOINT="http://127.0.0.1:9",
        AWS_ALLOW_HTTP="true",
        AWS_ACCESS_KEY_ID="x",
        AWS_SECRET_ACCESS_KEY="y",
        AWS_REGION="us-east-1",
    )
    result = atlas("stats", env=env, timeout=120)
    line = one_line_error(result)
    assert "s3://atlas-nowhere/index could not be reached" in line
    assert "Move the folder" not in result.stderr and "endpoint" in result.stderr
    assert "reqwest" not in result.stderr and ".rs" not in result.stderr


def test_a_full_disk_says_so() -> None:
    full = OSError(28, "No space left on device")
    rust = RuntimeError('lance error: IO { source: Os { code: 28, message: "No space left" } }')
    for exc in (full, rust):
        error = explain(exc, "/data/db", "written", IngestError)
        assert "disk is full" in error.message and "another program" not in error.describe()
        assert isinstance(error, IngestError)
    remote = explain(RuntimeError("Generic S3 error: dns error"), "s3://b/x", "opened")
    assert isinstance(remote, IndexError_) and "could not be reached" in remote.message


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    pipe = subprocess.PIPE
    return subprocess.Popen(command, env=env, stdout=pipe, stderr=pipe, text=True)


def test_two_ingests_into_one_new_index_both_succeed(tmp_path: Path, embedder) -> None:
    files = {f"doc{i}.md": f"# Doc {i}\n\nLighthouse number {i} has a keeper.\n" for i in range(8)}
    root = write_files(tmp_path / "c", files)
    env = cli_env(tmp_path / "db")
    command = [sys.executable, "-m", "atlas_tui.cli", "ingest", str(root), "--json"]
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=TIMEOUT) for run in runs]
    for run, (out, err) in zip(runs, outcomes, strict=True):
        assert run.returncode == 0, err
        assert json.loads(out)["ok"] is True
    # into the existing index, two more at once (the second waits for the first)
    (root / "doc0.md").write_text("# Doc 0\n\nChanged: a foghorn now.\n")
    runs = [
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    for run in runs:
        _out, err = run.communicate(timeout=TIMEOUT)
        assert run.returncode == 0, err
    settle = atlas("ingest", str(root), env=env)
    assert settle.returncode == 0
    kb = KnowledgeBase(Settings(db_path=str(tmp_path / "db")))
    ids = kb.store.chunks.search().select(["id"]).limit(None).to_arrow().column("id").to_pylist()
    assert len(ids) == len(set(ids)) == kb.stats().chunks and kb.stats().documents == 8
    assert atlas("check", env=env).returncode == 0
    texts = " ".join(p.text for p in kb.search("foghorn lighthouse", mode="keyword", limit=20))
    assert "foghorn" in texts and "Lighthouse number 0 " not in texts


def test_an_ingest_waits_for_the_one_writing_the_index_then_runs(tmp_path: Path, embedder) -> None:
    root = write_files(tmp_path / "c", {"a.md": "# A\n\nThe lighthouse keeper rows out.\n"})
    env = cli_env(tmp_path / "db")
    assert atlas("ingest", str(root), env=env).returncode == 0
    (root / "b.md").write_text("# B\n\nA foghorn sounds at dusk.\n")
    err_path = tmp_path / "stderr"
    with writer_lock(str(tmp_path / "db"), Settings().collection), err_path.open("w") as err:
        run = subprocess.Popen(
            [sys.executable, "-m", "atlas_tui.cli", "ingest", str(root), "--json"],
            env=env, stdout=subprocess.PIPE, stderr=err, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + TIMEOUT
        while WAITING not in err_path.read_text() and time.monotonic() < deadline:
            assert run.poll() is None, err_path.read_text()
            time.sleep(0.2)
        assert WAITING in err_path.read_text()
        time.sleep(1)
        assert run.poll() is None  # still waiting: nothing written under the lock
        assert KnowledgeBase(Settings(db_path=str(tmp_path / "db"))).stats().documents == 1
    out, _ = run.communicate(timeout=TIMEOUT)
    assert run.returncode == 0, err_path.read_text()
    assert json.loads(out)["files_added"] == 1
    assert KnowledgeBase(Settings(db_path=str(tmp_path / "db"))).stats().documents == 2


def test_a_wait_for_the_writer_lock_ends_when_asked_to_stop(tmp_path: Path) -> None:
    waits: list[str] = []
    with (
        writer_lock(str(tmp_path / "db"), "kb"),
        writer_lock(
            str(tmp_path / "db"), "kb", on_wait=lambda: waits.append("w"), should_stop=lambda: True
        ) as locked,
    ):
        assert locked is False
    assert waits == ["w"]
    with writer_lock(str(tmp_path / "db"), "kb") as locked:  # released by both
        assert locked is True


def test_store_can_be_created_twice_in_one_process(tmp_path: Path, embedder) -> None:
    first = Store(str(tmp_path / "db"), "kb")
    second = Store(str(tmp_path / "db"), "kb")
    first.open_for_writing(embedder.name, embedder.dimension)
    second.open_for_writing(embedder.name, embedder.dimension)  # the loser just opens it
    assert second.meta()["embedding_model"] == embedder.name


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 300 KB file system (a tmpfs), or a skip where mounting one is not permitted."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], timeout=30, check=True)


def test_a_full_disk_during_ingest_is_one_honest_line(tmp_path: Path, small_disk: Path) -> None:
    files = {f"f{i}.txt": "word " + os.urandom(30_000).hex() for i in range(10)}
    root = write_files(tmp_path / "c", files)
    result = atlas("ingest", str(root), env=cli_env(small_disk / "db"))
    line = one_line_error(result)
    assert "could not be written: the disk is full (no space left on device)." in line
    assert "Free some disk space" in result.stderr and "another program" not in result.stderr
