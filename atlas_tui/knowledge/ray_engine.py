"""The Ray engine (`atlas-tui ingest --engine ray [--ray-address ADDR]`): the heavy work of an
ingest on a Ray cluster, every write from the driver.

- Files: the driver reads and hashes each file (an unchanged one costs no task), then sends the
  bytes of new and changed files, a few MB per task, to Ray tasks that extract and chunk them
  (`engine.prepare_file`) and return the rows. The driver needs no shared filesystem with the
  workers, and a task retried after a worker died only computes again.
- Embeddings: one actor per free CPU loads the encoder once (`get_embedder`, on one thread) and
  encodes the batches the driver hands out, two per actor in flight. A killed actor is restarted
  by Ray and its batches retried (`max_restarts`, `max_task_retries`).
- The driver consumes results in order and commits them through `Store` exactly as the local
  path does (same schema, ids, incremental semantics and indexes), so nothing is written twice
  and an interrupted run leaves whole files and whole batches, which the next run resumes from.

Without an address a Ray instance is started on this machine for the run and stopped after it.
Ray then writes its new token to ~/.ray/auth_token with the process's umask (0644: every user of
the machine could read it and run code on the cluster); here it is made 0600, and files made while
Ray starts are the user's own (`_private_files`). `import ray` happens here only, on first use:
Ray is an optional extra.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from itertools import chain
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from atlas_tui.errors import RAY_MISSING, AtlasError, ConfigError, IngestError
from atlas_tui.knowledge.engine import FileJob, Outcome, encode_batch, prepare_file

if TYPE_CHECKING:
    import numpy as np

    from atlas_tui.knowledge.embedding import Embedder
    from atlas_tui.knowledge.tokens import TokenCounter

FILES_PER_TASK = 16
BYTES_PER_TASK = 4_000_000
IN_FLIGHT_PER_WORKER = 2  # tasks (or batches) out per CPU: one running, one queued behind it
logger = logging.getLogger(__name__)
PROBE_TIMEOUT_S = 5.0
RETRIES = 3  # a task rerun / an actor restarted this many times after its worker died


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


# --- what runs on the workers (plain functions and a class, made remote at connect time) ---

_counters: dict[str, TokenCounter] = {}  # per worker process: the tokenizer loads once


def _prepare_files(jobs: list[FileJob], model: str) -> list[Outcome]:
    from atlas_tui.knowledge.chunking import load_token_counter
    from atlas_tui.knowledge.embedding import get_embedder

    if model not in _counters:
        _counters[model] = load_token_counter(get_embedder(model).model_path)
    return [prepare_file(job, _counters[model]) for job in jobs]


class _EncoderActor:
    """One encoder, loaded once, encoding on the one CPU Ray gave this actor."""

    def __init__(self, model: str, encoder: str) -> None:
        from atlas_tui.knowledge.embedding import get_embedder

        self.embedder = get_embedder(model, encoder)
        self.embedder.batch_threads = 1
        self.embedder.warm()

    def encode(self, texts: list[str]) -> np.ndarray:
        return encode_batch(self.embedder, texts)


def _file_batches(jobs: Iterator[FileJob]) -> Iterator[list[FileJob]]:
    """Jobs grouped into tasks of at most FILES_PER_TASK files or about BYTES_PER_TASK bytes."""
    batch: list[FileJob] = []
    size = 0
    for job in jobs:
        if batch and (len(batch) >= FILES_PER_TASK or size + len(job.raw) > BYTES_PER_TASK):
            yield batch
            batch, size = [], 0
        batch.append(job)
        size += len(job.raw)
    if batch:
        yield batch


class RayEngine:
    """`engine.Engine` on a Ray cluster (see the module doc)."""

    name = "ray"

    def __init__(self, embedder: Embedder, *, address: str | None = None) -> None:
        self.embedder = embedder
        self.address = address
        self.workers = 0  # known once connected: the cluster's free CPUs
        self._ray: Any = None
        self._owns_connection = False
        self._actors: list[Any] = []
        self._out: deque[Any] = deque()  # object refs of tasks and batches in flight
        self._restore_printer: Callable[[], None] = lambda: None

    # --- the Engine interface ---

    def prepare(self, jobs: Iterable[FileJob]) -> Iterator[Outcome]:
        batches = _file_batches(iter(jobs))
        first = next(batches, None)
        if first is None:  # nothing new or changed: no cluster needed
            return
        ray = self._connect()
        task = ray.remote(_prepare_files).options(num_cpus=1, max_retries=RETRIES)
        model = self.embedder.name
        submit = self._submitter(
            chain([first], batches), lambda batch, _n: task.remote(batch, model)
        )
        for outcomes in self._drain(submit):
            yield from outcomes

    def embed(
        self, batches: Iterable[list[str]], encoded: Callable[[int], None]
    ) -> Iterator[np.ndarray]:
        texts = iter(batches)
        first = next(texts, None)
        if first is None:
            return
        actors = self._pool(self._connect())
        submit = self._submitter(
            chain([first], texts), lambda batch, n: actors[n % len(actors)].encode.remote(batch)
        )
        yield from self._drain(submit)

    def close(self) -> None:
        """Stop the actors and drop what is still in flight; disconnect (and stop a Ray started
        here). Called once the run ends, however it ends."""
        ray, self._ray = self._ray, None
        if ray is None:
            return
        for ref in self._out:
            ray.cancel(ref)
        for actor in self._actors:
            ray.kill(actor, no_restart=True)
        self._out.clear()
        self._actors = []
        if self._owns_connection:
            ray.shutdown()
        self._restore_printer()

    # --- helpers ---

    def _connect(self) -> Any:
        if self._ray is not None:
            return self._ray
        ray = _import_ray()
        if not ray.is_initialized():  # (a caller that connected already keeps its connection)
            options: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
            if not self.address:
                options["include_dashboard"] = False
            try:
                _probe(self.address)
                with warnings.catch_warnings(), _real_stderr(), _private_files(self.address):
                    # Starting Ray here spawns its services (fork then exec at once): LanceDB's
                    # warning about code running on in a forked child does not apply.
                    warnings.filterwarnings("ignore", "lancedb fork support", RuntimeWarning)
                    ray.init(address=self.address or None, **options)
            except (OSError, RuntimeError, ValueError) as exc:
                where = f"the Ray cluster at {self.address}" if self.address else "a local Ray"
                raise IngestError(
                    f"Cannot reach {where}: {_first_line(exc)}",
                    hint="Check --ray-address / ATLAS_RAY_ADDRESS (`ray status` on the head "
                    "node prints it), or drop it to start Ray on this machine. A cluster started "
                    "with token authentication (`ray start`'s default) also needs "
                    "RAY_AUTH_MODE=token here, and its token (~/.ray/auth_token or "
                    "RAY_AUTH_TOKEN).",
                ) from None
            self._owns_connection = True
        self._ray = ray
        self._restore_printer = _quiet_cluster_messages()
        self.workers = max(1, int(ray.available_resources().get("CPU", 1)))
        return ray

    def _pool(self, ray: Any) -> list[Any]:
        if not self._actors:
            actor = ray.remote(_EncoderActor).options(
                num_cpus=1, max_restarts=RETRIES, max_task_retries=RETRIES
            )
            self.workers = max(1, int(ray.available_resources().get("CPU", 1)))
            encoder = self.embedder.requested_encoder
            self._actors = [actor.remote(self.embedder.name, encoder) for _ in range(self.workers)]
        return self._actors

    def _submitter(
        self, items: Iterator[Any], send: Callable[[Any, int], Any]
    ) -> Callable[[], bool]:
        """A function that sends the next item out (False when there is none left)."""
        sent = 0

        def submit() -> bool:
            nonlocal sent
            item = next(items, None)
            if item is None:
                return False
            self._out.append(send(item, sent))
            sent += 1
            return True

        return submit

    def _drain(self, submit: Callable[[], bool]) -> Iterator[Any]:
        """Results in the order sent, keeping IN_FLIGHT_PER_WORKER items per worker out."""
        while len(self._out) < IN_FLIGHT_PER_WORKER * self.workers and submit():
            pass
        while self._out:
            result = self._get(self._out[0])
            self._out.popleft()
            submit()  # before handing the result over: the cluster keeps busy meanwhile
            yield result

    def _get(self, ref: Any) -> Any:
        ray = self._ray
        try:
            return ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            cause = exc.cause if isinstance(exc.cause, BaseException) else exc
            if isinstance(cause, AtlasError):
                raise cause from None  # e.g. the model cannot load on a worker
            raise IngestError(f"A Ray task failed: {_first_line(cause)}") from None
        except ray.exceptions.RayError as exc:  # e.g. a worker died more than RETRIES times
            raise IngestError(
                f"The Ray cluster failed during the ingest: {_first_line(exc)}",
                hint="What was committed is whole; run the same ingest again to resume.",
            ) from None


def _quiet_cluster_messages() -> Callable[[], None]:
    """Ray's driver prints the cluster's error messages ("A worker died...", after which Ray
    retries) to stdout, where they would corrupt `--json` and the terminal: log them instead.
    Returns what puts Ray's printer back."""
    from ray._private import worker  # (no public switch for this in Ray 2.x)

    original = getattr(worker, "print_to_stdstream", None)
    if original is None:
        return lambda: None

    def to_log(data: dict[str, Any], ignore_prefix: bool = False) -> None:
        logger.info("Ray cluster: %s", " ".join(str(line) for line in data.get("lines", ())))

    worker.print_to_stdstream = to_log
    return lambda: setattr(worker, "print_to_stdstream", original)


@contextmanager
def _real_stderr() -> Iterator[None]:
    """Standard streams with a file descriptor while Ray connects: a driver enables
    `faulthandler` on sys.stderr, which fails ("file.fileno() is not a valid file descriptor")
    under the TUI, whose stand-in streams have none. There they point at os.devnull (kept open:
    faulthandler keeps writing to it), never at the terminal the TUI draws on."""
    streams = {"stdout": sys.stdout, "stderr": sys.stderr}
    if all(_has_descriptor(stream) for stream in streams.values()):
        yield
        return
    global _DEVNULL
    if _DEVNULL is None:
        _DEVNULL = open(os.devnull, "w")  # noqa: SIM115 - held for the process's lifetime
    sys.stdout = sys.stderr = _DEVNULL
    try:
        yield
    finally:
        sys.stdout, sys.stderr = streams["stdout"], streams["stderr"]


_DEVNULL: IO[str] | None = None
RAY_TOKEN = Path("~/.ray/auth_token")


@contextmanager
def _private_files(address: str | None) -> Iterator[None]:
    """While a local Ray starts (no `address`), what it writes is readable by this user only
    (umask 077), and a token file it made is 0600 afterwards whatever it did. A cluster we only
    connect to writes nothing here."""
    if address:
        yield
        return
    token = RAY_TOKEN.expanduser()
    made_here = not token.exists()
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)
        if made_here and token.exists():
            token.chmod(0o600)


def _has_descriptor(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.fileno() >= 0)
    except (OSError, ValueError, AttributeError):  # io.UnsupportedOperation is an OSError
        return False


def _probe(address: str | None, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Fail fast (OSError) when a HOST:PORT address does not answer: Ray itself retries for
    minutes. ("auto" and ray:// client addresses are left to Ray.)"""
    if not address or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    if not port.isdigit():
        raise ValueError(f"{address!r} is not HOST:PORT")
    with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
        pass


def _first_line(exc: BaseException) -> str:
    """The first line of an error's text, ending a sentence (a hint may follow on the line)."""
    text = (str(exc).strip() or type(exc).__name__).splitlines()[0].rstrip()
    return text if text.endswith((".", "!", "?", ")")) else f"{text}."
