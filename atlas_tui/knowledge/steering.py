"""Watching and steering an ingest: its progress events, one weighted progress model, a stop handle.

One bar for the whole ingest: its two phases cost very different time per item (reading and
chunking a file: milliseconds; embedding its passages: seconds), so the fraction done is counted in
*estimated seconds of work*, not in files or passages: reading is weighted by the bytes read per
second so far, embedding by the embedding speed. Until embedding has started, how many passages
there will be is extrapolated from the bytes chunked so far, and their speed comes from the last
run on this index (`prior`) or a cautious default; from the first committed batch on it is the
measured speed. Passages are weighted by their estimated word-pieces (the encoder's cost grows
with its tokens; each window of pending passages is encoded shortest first; code and prose have
very different characters per token), so the estimate does not swing from batch to batch. The
fraction never goes back; the time estimate may (a machine shared with other work speeds up and
slows down: the speed is the average since embedding began).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

# The work of one passage, in estimated word-pieces: its words and punctuation marks (PIECES) times
# the word-pieces per piece (1.18 on the Python docs; the count correlates 0.89 with the real
# word-pieces, characters 0.70), up to what the encoder reads, plus a fixed part (committing).
PIECES = r"\w+|[^\w\s]"  # (a regular expression for `re` and for Arrow's compute functions)
WORD_PIECES_PER_PIECE = 1.18
UNIT_CAP = 256  # word-pieces all-MiniLM-L6-v2 reads (others differ; this is an estimate)
UNIT_FIXED = 8
DEFAULT_UNITS_PER_S = 1000.0  # ~4 full passages a second: a slow machine, until measured
DEFAULT_BYTES_PER_S = 2_000_000.0  # reading and chunking, until measured
MIN_MEASURED_S = 2.0  # a speed measured over less time than this is not trusted yet


_PIECES = re.compile(PIECES, re.ASCII)  # as Arrow's (RE2's) \w: ASCII letters, digits and _


def count_pieces(text: str) -> int:
    return len(_PIECES.findall(text))


def passage_units(pieces: int) -> int:
    """The estimated work of embedding a passage of this many words and punctuation marks."""
    return min(round(pieces * WORD_PIECES_PER_PIECE), UNIT_CAP) + UNIT_FIXED


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """What an ingest reports as it goes (`Ingestor(progress=...)`; the CLI and the TUI draw it)."""

    # waiting (for another ingest) | scanning | chunking | embedding | indexing, then done or
    # stopped (asked to stop, or interrupted: what was committed stays, the next run resumes)
    phase: str
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0  # passages embedded by this run so far
    chunks_total: int = 0  # passages this run has to embed (known once reading ends)
    chunks_per_s: float = 0.0  # passages embedded a second (0 until measured)
    workers: int = 1  # encoders at work (Ray: actors across the cluster)
    fraction: float = 0.0  # of the whole run, 0..1, weighted by what each phase costs
    eta_s: float | None = None  # seconds left (None: not known yet)
    elapsed_s: float = 0.0
    detail: str = ""  # waiting: for whom (an object-store index's lease holder, until when)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """One line for a status line or a progress bar's label (the bar shows `fraction`):
        "embedding 4,210/10,982 passages · 31.2/s · 5:41 left"."""
        if self.phase == "waiting":
            return self.detail or "waiting for another ingest into this index"
        if self.phase == "chunking":
            text = f"reading {self.files_done:,}/{self.files_total:,} files"
        elif self.phase == "embedding":
            text = f"embedding {self.chunks_done:,}/{self.chunks_total:,} passages"
            if self.chunks_per_s:
                text += f" · {self.chunks_per_s:.1f}/s"
                if self.workers > 1:
                    text += f" on {self.workers} workers"
        else:
            return self.phase
        return f"{text} · {duration(self.eta_s)} left" if self.eta_s is not None else text


def duration(seconds: float | None) -> str:
    """'5:41', '1:02:03', '0:07'; '?' when unknown."""
    if seconds is None:
        return "?"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


class StopHandle:
    """Asks a running ingest to stop. It finishes and commits the batch in hand, then returns its
    report (`interrupted`); what was written stays, and the next ingest resumes from there.
    Callable: pass it where a `should_stop` is wanted. Thread-safe."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def stop(self) -> None:
        self._event.set()

    @property
    def requested(self) -> bool:
        return self._event.is_set()

    def __call__(self) -> bool:
        return self._event.is_set()


class ProgressMeter:
    """The fraction done, the speed and the time left of one ingest (see the module doc).

    Feed it what happens (`reading`, `embedding_starts`, `embedded`); `event(phase)` makes the
    progress event. `clock` is injectable for tests."""

    def __init__(
        self,
        *,
        prior_units_per_s: float | None = None,
        workers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.clock = clock
        self.workers = workers
        self.started = clock()
        self.prior_units_per_s = prior_units_per_s or DEFAULT_UNITS_PER_S
        # reading and chunking
        self.files_done = self.files_total = 0
        self.bytes_done = self.bytes_total = 0
        self.units_found = 0  # the work of the passages chunked so far
        self.reading_s: float | None = None  # how long reading took (it starts with the meter)
        # embedding
        self.pending_units = 0  # work awaiting before this run's own passages (a resume)
        self.chunks_total = self.chunks_done = 0
        self.units_total = self.units_done = 0
        self._embedding_started: float | None = None
        self._partial = (0, 0)  # (passages, work) encoded in the batch in hand, not committed
        self._fraction = 0.0

    # --- what happened ---

    def pending_before(self, units: int) -> None:
        """Passages already awaiting a vector when the run starts (an earlier run's)."""
        self.pending_units = units

    def reading(self, files_done: int, files_total: int, bytes_done: int, bytes_total: int,
                units_found: int) -> None:  # fmt: skip
        self.files_done, self.files_total = files_done, files_total
        self.bytes_done, self.bytes_total = bytes_done, bytes_total
        self.units_found = units_found

    def embedding_starts(self, chunks: int, units: int) -> None:
        """Reading is over: `chunks` passages of `units` work now await a vector."""
        now = self.clock()
        self.reading_s = now - self.started
        self.chunks_total, self.units_total = chunks, units
        self.chunks_done = self.units_done = 0
        self._embedding_started = now

    def embedded(self, chunks: int, units: int) -> None:
        """`chunks` more passages (of `units` work) have their vectors."""
        self.chunks_done += chunks
        self.units_done += units
        self._partial = (0, 0)

    def encoding(self, chunks: int, units: int) -> None:
        """Of the batch in hand, `chunks` passages (`units` work) are encoded, not committed."""
        self._partial = (chunks, units)

    # --- what it means ---

    def embedding_seconds(self) -> float:
        return 0.0 if self._embedding_started is None else self.clock() - self._embedding_started

    def units_per_s(self) -> float:
        """The embedding speed: measured once there is enough of it, else the prior."""
        seconds = self.embedding_seconds()
        if self.units_done and seconds >= MIN_MEASURED_S:
            return self.units_done / seconds
        return self.prior_units_per_s

    def chunks_per_s(self) -> float:
        seconds = self.embedding_seconds()
        return self.chunks_done / seconds if self.chunks_done and seconds >= MIN_MEASURED_S else 0.0

    def _bytes_per_s(self) -> float:
        seconds = self.clock() - self.started
        return self.bytes_done / seconds if self.bytes_done and seconds > 0 else DEFAULT_BYTES_PER_S

    def _work_s(self) -> tuple[float, float]:
        """(seconds of work done, seconds of work in all), at the speeds known now."""
        speed = self.units_per_s()
        if self._embedding_started is not None:  # reading is over: its length is known
            reading, done = self.reading_s or 0.0, self.units_done + self._partial[1]
            return reading + done / speed, reading + self.units_total / speed
        per_byte = 1.0 / self._bytes_per_s()
        if self.bytes_done and self.bytes_total:
            expected = self.units_found * self.bytes_total / self.bytes_done
        else:
            expected = self.units_found
        embedding = (self.pending_units + expected) / speed
        return self.bytes_done * per_byte, self.bytes_total * per_byte + embedding

    def fraction(self) -> float:
        done, total = self._work_s()
        value = min(1.0, done / total) if total > 0 else 0.0
        self._fraction = max(self._fraction, value)
        return self._fraction

    def eta_s(self) -> float | None:
        """Seconds left; None until some of the work has been timed."""
        if self._embedding_started is None and not self.bytes_done:
            return None
        done, total = self._work_s()
        return max(0.0, total - done)

    def event(self, phase: str) -> IngestProgress:
        if phase == "done":
            fraction, eta = 1.0, 0.0
        else:
            fraction, eta = self.fraction(), self.eta_s()
        return IngestProgress(
            phase,
            self.files_done,
            self.files_total,
            self.chunks_done + self._partial[0],
            self.chunks_total,
            round(self.chunks_per_s(), 2),
            self.workers,
            round(fraction, 4),
            None if eta is None else round(eta, 1),
            round(self.clock() - self.started, 1),
        )
