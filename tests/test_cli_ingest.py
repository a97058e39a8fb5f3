"""`atlas-tui ingest` steered from the terminal, in a real subprocess: ctrl+c mid-embedding stops
after the batch in hand and says what was kept, `check` finds the index sound, and `atlas-tui
ingest` with no paths resumes until every passage is embedded."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from tests.cli_run import run_cli, start_cli
from tests.corpus import write_files

TIMEOUT_S = 180
NOTES = 400  # one passage each: four batches (3 x 128 + 16)


def cli_env() -> dict[str, str]:
    return {**os.environ, "LANCEDB_LOG": "error", "HF_HUB_OFFLINE": "1"}


def embedded(db: Path) -> int:
    """Passages with a vector, read from the index as another process writes it."""
    import lancedb

    try:
        table = lancedb.connect(str(db)).open_table("atlas_knowledge_base")
        return int(table.count_rows("vector IS NOT NULL"))
    except (ValueError, OSError, RuntimeError):  # not made yet, or made while we looked
        return 0


def stats(db: Path) -> dict[str, object]:
    done = run_cli("stats", "--db", str(db), "--json", env=cli_env(), timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_ctrl_c_mid_embedding_keeps_the_index_sound_and_ingest_resumes(tmp_path: Path) -> None:
    notes = write_files(
        tmp_path / "notes",
        {f"n{i:03}.md": f"# Note {i}\n\nThe lamp keeper logs entry {i}.\n" for i in range(NOTES)},
    )
    db = tmp_path / "db"
    process = start_cli("ingest", str(notes), "--db", str(db), env=cli_env())
    try:
        deadline = time.monotonic() + TIMEOUT_S
        while embedded(db) == 0:  # the first batch is committed: now stop
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no batch was embedded in time"
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 128 + signal.SIGINT, err
    assert "Traceback" not in err and "Stopping after this batch" in err
    said = re.search(
        r"Stopped: ([\d,]+) of ([\d,]+) passages embedded; run `atlas-tui ingest`", out
    )
    assert said, out
    kept, total = (int(n.replace(",", "")) for n in said.groups())
    assert total == NOTES and 0 < kept < NOTES
    before = stats(db)
    assert (before["embedded_chunks"], before["pending_chunks"]) == (kept, NOTES - kept)

    check = run_cli("check", "--db", str(db), "--json", env=cli_env(), timeout=TIMEOUT_S)
    assert check.returncode == 0 and json.loads(check.stdout)["ok"], check.stdout

    resumed = run_cli("ingest", "--db", str(db), env=cli_env(), timeout=TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Embedded {NOTES - kept} passages in" in resumed.stdout
    after = stats(db)
    assert (after["embedded_chunks"], after["chunks"], after["pending_chunks"]) == (NOTES, NOTES, 0)

    again = run_cli("ingest", "--db", str(db), env=cli_env(), timeout=TIMEOUT_S)
    assert again.returncode == 0
    assert again.stdout.startswith(f"Nothing to resume: all {NOTES} passages are embedded.")


def test_ingest_without_paths_or_index_says_what_to_name(tmp_path: Path) -> None:
    done = run_cli("ingest", "--db", str(tmp_path / "none"), env=cli_env(), timeout=TIMEOUT_S)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("atlas-tui ingest: name at least one folder or file (or --demo)")
    assert "no index" in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_forced_encoder_of_another_kind_is_one_line(tmp_path: Path) -> None:
    notes = write_files(tmp_path / "notes", {"a.md": "# A\n\nOne note about kites.\n"})
    db = str(tmp_path / "db")
    first = run_cli("ingest", str(notes), "--db", db, "--encoder", "fp32", "--json",
                    env=cli_env(), timeout=TIMEOUT_S)  # fmt: skip
    assert first.returncode == 0 and json.loads(first.stdout)["encoder"] == "fp32"
    forced = run_cli("ingest", str(notes), "--db", db, env={**cli_env(), "ATLAS_ENCODER": "int8"},
                     timeout=TIMEOUT_S)  # fmt: skip
    assert forced.returncode == 1 and "Traceback" not in forced.stderr
    assert forced.stderr.startswith("atlas-tui: This index holds fp32 vectors; the int8 encoder")
    assert len(forced.stderr.splitlines()) == 1
    assert stats(Path(db))["vectors"] == "fp32"
