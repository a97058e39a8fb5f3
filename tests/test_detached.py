"""`continue_in_background`: an ingest carried on by a process of its own after the app quits."""

from __future__ import annotations

from pathlib import Path

from atlas_tui.config import Settings
from atlas_tui.detached import ingest_command
from atlas_tui.knowledge.steering import StopHandle
from atlas_tui.query import AtlasQuery
from tests.corpus import write_files

TIMEOUT_S = 180


def test_the_command_names_the_same_index_model_encoder_and_engine() -> None:
    settings = Settings(db_path="/srv/idx", collection="team", encoder="int8", ray_address="h:1")
    command = ingest_command(settings, ["/docs"], config_file="/etc/atlas.toml")
    assert command[1:5] == ["-m", "atlas_tui.cli", "ingest", "/docs"]
    flags = dict(zip(command[5::2], command[6::2], strict=True))
    assert flags == {
        "--db": "/srv/idx",
        "--collection": "team",
        "--embedding-model": "all-MiniLM-L6-v2",
        "--encoder": "int8",
        "--engine": "local",
        "--ray-address": "h:1",
        "--config": "/etc/atlas.toml",
    }


def test_a_stopped_ingest_is_finished_by_a_detached_process(tmp_path: Path) -> None:
    notes = write_files(
        tmp_path / "notes",
        {f"n{i:03}.md": f"# Note {i}\n\nThe lamp keeper logs entry {i}.\n" for i in range(200)},
    )
    client = AtlasQuery(Settings(db_path=str(tmp_path / "db"), collection="c"))
    stop = StopHandle()

    def progress(event) -> None:
        if event.phase == "embedding" and event.chunks_done:
            stop.stop()

    stopped = client.ingest([str(notes)], progress=progress, should_stop=stop)
    assert stopped.interrupted and 0 < client.pending() < 200

    detached = client.continue_in_background()
    assert detached.process.wait(timeout=TIMEOUT_S) == 0, detached.log.read_text()
    assert client.pending() == 0 and client.stats().embedded_chunks == 200
    log = detached.log.read_text()
    assert f"Embedded {stopped.chunks_pending} passages" in log and "Traceback" not in log
    assert (
        detached.log.parent
        == Path(client.settings.resolved_db_path).parent.parent / "data" / "logs"
        or detached.log.is_file()
    )
