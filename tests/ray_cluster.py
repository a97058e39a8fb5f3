"""A real local Ray cluster for the Ray ingest tests: `ray start --head --block` on 127.0.0.1 with
2 CPUs, in its own temp dir, stopped (SIGTERM, then its process group) at the end of the run.

Its workers import this checkout (PYTHONPATH) and run with token auth off, whatever ~/.ray holds.
`encoder_actors()` finds the processes of the ingest's encoder actors among the cluster's own
descendants (Ray titles a worker `ray::<Class>.<method>` while it runs a method).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_anthropic import free_port

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0
READY_LINE = "block forever"


def ray_env() -> dict[str, str]:
    """The environment of the cluster and of the CLI processes that use it."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["RAY_AUTH_MODE"] = "disabled"
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


class RayCluster:
    def __init__(self, root: Path, cpus: int = 2) -> None:
        binary = Path(sys.executable).with_name("ray")
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.root = root
        # Ray's socket paths must stay under 107 bytes: a short temp dir of its own.
        self.temp_dir = Path(f"/tmp/atlas-ray-{self.port}")
        args = [
            str(binary if binary.exists() else shutil.which("ray") or "ray"),
            "start",
            "--head",
            "--block",
            f"--num-cpus={cpus}",
            "--node-ip-address=127.0.0.1",
            f"--port={self.port}",
            f"--temp-dir={self.temp_dir}",
            "--include-dashboard=false",
            "--disable-usage-stats",
            "--object-store-memory=200000000",
        ]
        self.log_path = root / "ray.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            args,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=ray_env(),
            cwd=REPO,
            start_new_session=True,
        )
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ray start exited: {self.log_path.read_text()[-2000:]}")
            if READY_LINE in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Ray did not start within {START_TIMEOUT_S:.0f} s")

    def descendants(self) -> dict[int, str]:
        """pid -> command line of every live process this cluster started."""
        parents: dict[int, int] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        found: dict[int, str] = {}
        frontier = [self.process.pid]
        while frontier:
            parent = frontier.pop()
            for pid, ppid in parents.items():
                if ppid == parent and pid not in found:
                    try:
                        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
                    except OSError:
                        continue
                    found[pid] = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
                    frontier.append(pid)
        return found

    def encoder_actors(self, *, encoding: bool = False) -> list[int]:
        """The encoder actors' pids (only those running `encode` just now, with `encoding`)."""
        title = "ray::_EncoderActor.encode" if encoding else "ray::_EncoderActor"
        return [pid for pid, cmd in self.descendants().items() if cmd.startswith(title)]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # ray start stops what it started
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.log.close()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RayCluster]:
    """One 2-CPU Ray cluster per test process, stopped at the end of the run."""
    cluster = RayCluster(tmp_path_factory.mktemp("ray"))
    try:
        yield cluster
    finally:
        cluster.stop()
