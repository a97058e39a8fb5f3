"""One ingest at a time into a local index (knowledge/writer_lock.py): a second writer says it waits
and runs after the first, or gives up when asked; an object-store index takes no lock file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from atlas_tui.errors import IngestError
from atlas_tui.knowledge.writer_lock import writer_lock


def test_a_second_writer_says_it_waits_then_runs_after_the_first(tmp_path: Path) -> None:
    uri = str(tmp_path / "index")
    order: list[str] = []
    first_holds, second_waits = threading.Event(), threading.Event()

    def second() -> None:
        first_holds.wait(timeout=30)
        with writer_lock(uri, "kb", on_wait=lambda: (order.append("waits"), second_waits.set())):
            order.append("second writes")

    thread = threading.Thread(target=second)
    thread.start()
    with writer_lock(uri, "kb") as held:
        assert held and (tmp_path / "index" / ".kb.ingest.lock").exists()
        first_holds.set()
        assert second_waits.wait(timeout=30)
        order.append("first writes")
    thread.join(timeout=30)
    assert order == ["waits", "first writes", "second writes"]


def test_a_writer_without_a_rival_does_not_say_it_waits(tmp_path: Path) -> None:
    waited: list[bool] = []
    with writer_lock(str(tmp_path / "a" / "b"), "kb", on_wait=lambda: waited.append(True)) as held:
        assert held
    assert waited == []
    with writer_lock(str(tmp_path / "a" / "b"), "kb") as held:  # released: free again
        assert held


def test_a_waiting_writer_gives_up_when_told_to_stop(tmp_path: Path) -> None:
    uri = str(tmp_path / "index")
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) > 2

    with writer_lock(uri, "kb"), writer_lock(uri, "kb", should_stop=stop) as held:
        assert held is False
        assert len(asked) == 3  # polled until told to stop
    with writer_lock(uri, "other") as held:  # another collection has its own lock
        assert held


def test_an_object_store_index_takes_no_lock_file(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with writer_lock("s3://bucket/index", "kb") as held:
        assert held
    assert list(tmp_path.iterdir()) == []


def test_a_place_where_no_lock_can_be_made_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(IngestError) as caught, writer_lock(str(tmp_path / "file"), "kb"):
        pass
    assert str(caught.value).startswith(
        f"The index at {tmp_path / 'file'} could not be locked for writing: "
    )
