"""A kill between any two writes of an ingest (and of the deletes inside it) leaves an index the
next ingest turns into exactly a clean build: no orphans, no duplicates, no stale text (issue 9).

The killed ingest runs in a subprocess (tests/hostile/crash_child.py) that exits before its Nth
LanceDB write; the recovering ingest runs here, with the real store and model.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from atlas_tui.config import Settings
from atlas_tui.knowledge import health
from atlas_tui.knowledge.base import KnowledgeBase
from tests.corpus import write_files
from tests.hostile.crash_child import KILLED

REPO = Path(__file__).resolve().parents[2]
CHILD_TIMEOUT = 120

BEFORE = {
    "kept.md": "# Kept\n\nThe kept note is about lighthouse keepers.\n",
    "changed.md": "# Changed\n\nThe old text says the zanzibar password is hunter2.\n",
    "deleted.md": "# Deleted\n\nA deleted note about tidal charts.\n",
    "emptied.md": "# Emptied\n\nSoon nothing: a note about foghorns.\n",
    "sub/deep.md": "# Deep\n\nA deeper note about lamp wicks.\n",
}


def make_after(root: Path) -> None:
    """The edit the killed ingest was applying: a change, a delete, an emptied and a new file."""
    (root / "changed.md").write_text("# Changed\n\nThe new text names the harbour master.\n")
    (root / "deleted.md").unlink()
    (root / "emptied.md").write_text("")
    (root / "added.md").write_text("# Added\n\nA new note about buoys and beacons.\n")


def snapshot(db: Path) -> dict[str, Any]:
    kb = KnowledgeBase(Settings(db_path=str(db)))
    store = kb.store
    store.open()
    rows = store.chunks.search().select(["id", "source", "text", "vector"]).limit(None).to_arrow()
    ids = rows.column("id").to_pylist()
    files = {k: (r.source, r.content_hash, r.chunks) for k, r in store.files().items()}
    return {
        "ids": sorted(ids),
        "unique": len(ids) == len(set(ids)),
        "texts": sorted(
            zip(rows.column("source").to_pylist(), rows.column("text").to_pylist(), strict=True)
        ),
        "unembedded": rows.column("vector").null_count,
        "files": files,
        "clean": health.check(store).clean,
    }


def child(db: Path, root: Path, kill_at: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO), LANCEDB_LOG="error", HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "tests.hostile.crash_child", str(db), str(root), str(kill_at)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=CHILD_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, embedder) -> tuple[Path, Path, dict[str, Any], int]:
    """(corpus after the edit, index before it, the clean build after it, writes of the edit)."""
    base = tmp_path_factory.mktemp("crash")
    root = write_files(base / "corpus", BEFORE)
    before = base / "before-db"
    assert KnowledgeBase(Settings(db_path=str(before))).ingest([root]).files_added == 5
    make_after(root)
    clean = base / "clean-db"
    KnowledgeBase(Settings(db_path=str(clean))).ingest([root])
    dry = base / "dry-db"
    shutil.copytree(before, dry)
    result = child(dry, root, 0)
    assert result.returncode == 0, result.stderr
    writes = json.loads(result.stdout)["writes"]
    assert snapshot(dry) == snapshot(clean)  # the uninterrupted edit is the clean build
    return root, before, snapshot(clean), writes


def test_the_edit_has_writes_to_interrupt(scenario) -> None:
    _root, _before, clean, writes = scenario
    assert writes >= 8  # delete + add + record per flush, deletes, vectors, indexes, meta
    assert clean["clean"] and clean["unique"] and clean["unembedded"] == 0
    sources = {source for source, _text in clean["texts"]}
    assert sources == {"kept.md", "changed.md", "added.md", "sub/deep.md"}
    assert not any("hunter2" in text for _source, text in clean["texts"])


def test_a_kill_before_any_write_converges_to_the_clean_build(scenario, tmp_path: Path) -> None:
    root, before, clean, writes = scenario
    outcomes = {}
    for kill_at in range(1, writes + 2):
        db = tmp_path / f"db-{kill_at}"
        shutil.copytree(before, db)
        killed = child(db, root, kill_at)
        expected_code = KILLED if kill_at <= writes else 0
        assert killed.returncode == expected_code, (kill_at, killed.stderr[-2000:])
        report = KnowledgeBase(Settings(db_path=str(db))).ingest([root])
        assert report.ok and not report.interrupted, kill_at
        got = snapshot(db)
        outcomes[kill_at] = got == clean
        assert got == clean, (kill_at, report.to_dict())
        shutil.rmtree(db)
    assert len(outcomes) == writes + 1 and all(outcomes.values())
