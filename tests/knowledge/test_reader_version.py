"""A file read by an older reader is read again by the next ingest, though its bytes are the same;
a passage whose text is unchanged keeps its vector (only new text is embedded)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import lancedb
import pytest

from atlas_tui.cli.progress import format_report
from atlas_tui.config import Settings
from atlas_tui.knowledge import engine, records
from atlas_tui.knowledge.base import KnowledgeBase

WORDS = "Each step below is safe to repeat. " * 16  # a section too long to share a passage
GUIDE = f"# Guide\n\n## Install\n\nInstall it. {WORDS}\n\n## Use\n\nUse it. {WORDS}\n"


def passages(kb: KnowledgeBase) -> dict[tuple[str, str, str], Any]:
    """(source, heading, text) -> vector, for every passage in the index."""
    rows = kb.store.chunks.search().select(["source", "heading", "text", "vector"]).limit(None)
    return {
        (r["source"], r["heading"], r["text"]): r["vector"] for r in rows.to_arrow().to_pylist()
    }


def older_reader(monkeypatch: pytest.MonkeyPatch, *, shouting: bool) -> None:
    """Make the ingests that follow an older reader (version 0), which, if `shouting`, read
    every passage in capitals."""
    monkeypatch.setattr(records, "READER_VERSION", 0)
    if shouting:
        real = engine.chunk_document
        monkeypatch.setattr(
            engine,
            "chunk_document",
            lambda doc, counter: [
                dataclasses.replace(c, text=c.text.upper()) for c in real(doc, counter)
            ],
        )


def test_files_an_older_reader_read_are_read_again(
    kb: KnowledgeBase, write_corpus, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_corpus()
    older_reader(monkeypatch, shouting=True)
    kb.ingest([root])
    old = passages(kb)
    assert all(text == text.upper() for _s, _h, text in old)
    monkeypatch.undo()  # this version's reader

    report = kb.ingest([root])
    assert (report.files_reread, report.files_unchanged, report.files_updated) == (3, 0, 0)
    assert (report.files_added, report.files_removed, report.files_indexed) == (0, 0, 3)
    assert report.chunks_reused == 0 and report.chunks_embedded == report.chunks_written > 0
    assert "3 read again (new reader)" in format_report(report)
    new = passages(kb)
    assert not set(new) & set(old)  # no passage of the old reading is left
    fresh = KnowledgeBase(dataclasses.replace(settings, collection="fresh"))
    fresh.ingest([root])
    assert set(passages(fresh)) == set(new)  # exactly what this reader makes of the files
    assert {f.reader for f in kb.store.files().values()} == {records.READER_VERSION}

    again = kb.ingest([root])
    assert (again.files_unchanged, again.files_reread, again.chunks_written) == (3, 0, 0)


def test_a_passage_whose_text_is_unchanged_keeps_its_vector(
    kb: KnowledgeBase, write_corpus, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_corpus({"guide.md": GUIDE, "notes.txt": "Plain notes about gears.\n"})
    older_reader(monkeypatch, shouting=False)  # an older version that read these files alike
    kb.ingest([root])
    before = passages(kb)
    monkeypatch.undo()

    report = kb.ingest([root])
    assert report.files_reread == 2
    assert report.chunks_reused == report.chunks_written == len(before) == 3
    assert report.chunks_embedded == 0 and report.chunks_pending == 0
    assert "(3 with the embedding of an unchanged passage), 0 embedded" in format_report(report)
    assert passages(kb) == before

    # an edit to one section: only that section's passage is embedded again
    (root / "guide.md").write_text(GUIDE.replace("Use it.", "Use it daily."))
    edited = kb.ingest([root])
    assert (edited.files_updated, edited.files_unchanged, edited.files_reread) == (1, 1, 0)
    assert (edited.chunks_written, edited.chunks_reused, edited.chunks_embedded) == (2, 1, 1)
    after = passages(kb)
    install = next(key for key in before if key[1] == "Guide > Install")
    assert after[install] == before[install]
    use = next(key for key in after if key[1] == "Guide > Use")
    assert "daily" in use[2] and after[use] is not None
    hits = kb.search("Use it daily", mode="vector", limit=1)
    assert hits[0].heading == "Guide > Use"


def test_an_index_from_before_readers_were_recorded(
    kb: KnowledgeBase, write_corpus, settings: Settings
) -> None:
    root = write_corpus()
    kb.ingest([root])
    files = lancedb.connect(settings.db_path).open_table(f"{settings.collection}__files")
    files.drop_columns(["reader"])  # as an older atlas-tui wrote it

    legacy = KnowledgeBase(settings)
    assert legacy.search("tomatoes", mode="keyword", source="*.md")  # reading needs no upgrade
    assert {f.reader for f in legacy.store.files().values()} == {0}
    report = legacy.ingest([root])
    assert (report.files_reread, report.files_unchanged) == (3, 0)
    assert report.chunks_reused == report.chunks_written  # the same text: no new embedding
    assert {f.reader for f in legacy.store.files().values()} == {records.READER_VERSION}
    assert legacy.ingest([root]).files_unchanged == 3


def test_a_record_of_another_reader_is_not_taken_for_this_one(
    kb: KnowledgeBase, write_corpus
) -> None:
    """Two ingests that read one file at once: a record of the same bytes by another reader does
    not make the second skip its write (the passages would be the other reader's)."""
    root = write_corpus({"notes.txt": "Plain notes about gears.\n"})
    kb.ingest([root])
    (record,) = kb.store.files().values()
    rows = kb.store.chunks.search().limit(None).to_arrow()
    older = dataclasses.replace(record, reader=record.reader - 1)
    assert kb.store.write_files([older], rows) == rows.num_rows
    assert kb.store.write_files([older], rows) == 0  # the very same record: left as it is
    assert next(iter(kb.store.files().values())).reader == record.reader - 1


def test_the_reader_version_names_the_passages(tmp_path: Path) -> None:
    from atlas_tui.knowledge.store import chunk_id

    assert chunk_id("f", "h", 1, 0) != chunk_id("f", "h", 2, 0)
    assert chunk_id("f", "h", 1, 0) != chunk_id("f", "h", 1, 1)
    assert chunk_id("f", "h", 1, 0) == chunk_id("f", "h", 1, 0)


def test_the_real_command_reads_an_older_readers_files_again_and_says_so(
    tmp_path: Path, write_corpus
) -> None:
    """`atlas-tui ingest` over an index whose records name an older reader: every file is read
    again, the summary says so (in words and in --json), the same text keeps its vectors, and
    the next run finds everything unchanged."""
    import json
    import os

    from tests.cli_run import run_cli

    root = write_corpus({"guide.md": GUIDE, "notes.txt": "Plain notes about gears.\n"})
    db = tmp_path / "cli-db"
    env = {**os.environ, "ATLAS_DB_PATH": str(db), "LANCEDB_LOG": "error", "HF_HUB_OFFLINE": "1"}
    first = run_cli("ingest", str(root), "--json", env=env, timeout=180)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["files_added"] == 2
    files = lancedb.connect(str(db)).open_table("atlas_knowledge_base__files")
    files.update(values={"reader": records.READER_VERSION - 1})  # as the older version left it

    again = run_cli("ingest", str(root), env=env, timeout=180)
    assert again.returncode == 0, again.stderr
    assert "0 added, 0 updated, 2 read again (new reader), 0 unchanged" in again.stdout
    assert "(3 with the embedding of an unchanged passage), 0 embedded" in again.stdout
    files = lancedb.connect(str(db)).open_table("atlas_knowledge_base__files")  # as written now
    assert set(files.to_arrow().column("reader").to_pylist()) == {records.READER_VERSION}

    last = run_cli("ingest", str(root), "--json", env=env, timeout=180)
    report = json.loads(last.stdout)
    counts = (report["files_unchanged"], report["files_reread"], report["chunks_written"])
    assert counts == (2, 0, 0)
