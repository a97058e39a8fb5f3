"""The progress model of a whole ingest (weighted by phase, never going back), its time estimate,
its one-line description, and the stop handle."""

from __future__ import annotations

import threading

import pytest

from atlas_tui.knowledge.steering import (
    DEFAULT_BYTES_PER_S,
    DEFAULT_UNITS_PER_S,
    UNIT_CAP,
    UNIT_FIXED,
    IngestProgress,
    ProgressMeter,
    StopHandle,
    count_pieces,
    duration,
    passage_units,
)

FULL = passage_units(10_000)  # a passage that fills the encoder's window


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def simulate(meter: ProgressMeter, clock: Clock, *, files: int, passages: int, rate: float):
    """Read `files` files (0.1 s and one 10 kB file each, passages spread evenly), then embed
    `passages` full passages in batches of 10 at `rate` passages/s; yield each event."""
    per_file = passages // files
    for done in range(1, files + 1):
        clock.now += 0.1
        meter.reading(done, files, done * 10_000, files * 10_000, done * per_file * FULL)
        yield meter.event("chunking")
    meter.embedding_starts(passages, passages * FULL)
    yield meter.event("embedding")
    for _ in range(passages // 10):
        clock.now += 10 / rate
        meter.embedded(10, 10 * FULL)
        yield meter.event("embedding")
    yield meter.event("done")


def test_reading_is_a_small_part_of_the_bar_and_it_never_goes_back() -> None:
    """The bar of the issue: 97-100% on "chunking N/N files", then 0% for embedding."""
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=20 * FULL, clock=clock)
    events = list(simulate(meter, clock, files=50, passages=2000, rate=20.0))
    reading = [e.fraction for e in events if e.phase == "chunking"]
    fractions = [e.fraction for e in events]
    # reading: 5 s of a ~105 s run
    assert 0.03 < reading[-1] < 0.08
    assert fractions == sorted(fractions)
    assert fractions[-1] == 1.0
    halfway = next(e for e in events if e.phase == "embedding" and e.chunks_done == 1000)
    assert halfway.fraction == pytest.approx(0.5, abs=0.03)


def test_a_wrong_prior_speed_does_not_make_the_bar_go_back() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=1000 * FULL, clock=clock)  # far too optimistic
    fractions = [e.fraction for e in simulate(meter, clock, files=20, passages=500, rate=5.0)]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_the_time_estimate_is_the_work_left_at_the_measured_speed() -> None:
    clock = Clock()
    meter = ProgressMeter(clock=clock)
    assert meter.event("scanning").eta_s is None  # nothing timed yet: no guess shown
    events = list(simulate(meter, clock, files=10, passages=1000, rate=25.0))
    late = [e for e in events if e.phase == "embedding" and e.chunks_done >= 100]
    for event in late:
        assert event.eta_s == pytest.approx((1000 - event.chunks_done) / 25.0, rel=0.01)
        assert event.chunks_per_s == pytest.approx(25.0, rel=0.01)
    assert events[-1].eta_s == 0.0


def test_before_embedding_the_estimate_uses_the_prior_speed_and_the_bytes_left() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=2 * FULL, clock=clock)
    meter.pending_before(100 * FULL)  # an earlier run left 100 passages: 50 s at the prior
    clock.now += 1.0
    meter.reading(1, 4, 1000, 4000, 10 * FULL)  # a quarter read in 1 s: 40 passages expected
    event = meter.event("chunking")
    assert event.eta_s == pytest.approx(3.0 + (100 + 40) / 2, rel=0.01)
    assert event.chunks_per_s == 0.0  # not measured: none shown


def test_long_passages_weigh_more_than_short_ones() -> None:
    clock = Clock()
    meter = ProgressMeter(clock=clock)
    short, long = passage_units(50), passage_units(5000)
    assert (short, long) == (59 + UNIT_FIXED, UNIT_CAP + UNIT_FIXED)  # 50 pieces: ~59 word-pieces
    meter.embedding_starts(20, 10 * short + 10 * long)
    clock.now += 5
    meter.embedded(10, 10 * short)  # half the passages, the short half
    event = meter.event("embedding")
    assert event.chunks_done == 10 and event.fraction == pytest.approx(
        short / (short + long), abs=1e-3
    )


def test_words_and_punctuation_marks_are_the_pieces() -> None:
    assert count_pieces("def parse(path: str) -> dict:") == 11
    assert count_pieces("  The café, naïve.  ") == 8  # ASCII word characters, as Arrow counts
    assert count_pieces("") == 0


def test_the_count_moves_while_a_batch_encodes() -> None:
    clock = Clock()
    meter = ProgressMeter(clock=clock)
    assert meter.event("embedding").chunks_done == 0
    meter.embedding_starts(128, 128 * FULL)
    meter.encoding(32, 32 * FULL)
    assert meter.event("embedding").chunks_done == 32
    assert meter.event("embedding").fraction == 0.25
    meter.embedded(128, 128 * FULL)
    assert meter.event("embedding").chunks_done == 128


def test_the_speed_needs_a_few_seconds_before_it_is_believed() -> None:
    clock = Clock()
    meter = ProgressMeter(clock=clock)
    meter.embedding_starts(100, 100 * FULL)
    clock.now += 0.5
    meter.embedded(10, 10 * FULL)
    assert meter.units_per_s() == DEFAULT_UNITS_PER_S and meter.chunks_per_s() == 0.0
    clock.now += 1.5  # 2 s: believed
    assert meter.chunks_per_s() == 5.0 and meter.units_per_s() == 5 * FULL


@pytest.mark.parametrize(
    ("event", "line"),
    [
        (IngestProgress("waiting"), "waiting for another ingest into this index"),
        (
            IngestProgress(
                "waiting", detail="Waiting for the index's lease (held by b until 10:02)"
            ),
            "Waiting for the index's lease (held by b until 10:02)",
        ),
        (IngestProgress("scanning"), "scanning"),
        (IngestProgress("chunking", 120, 497, eta_s=None), "reading 120/497 files"),
        (
            IngestProgress("embedding", 497, 497, 4210, 10982, 31.24, eta_s=341.0),
            "embedding 4,210/10,982 passages · 31.2/s · 5:41 left",
        ),
        (
            IngestProgress("embedding", 0, 0, 64, 130, 12.0, workers=2, eta_s=5.4),
            "embedding 64/130 passages · 12.0/s on 2 workers · 0:05 left",
        ),
        (IngestProgress("embedding", 0, 0, 0, 130, eta_s=None), "embedding 0/130 passages"),
        (IngestProgress("stopped", fraction=0.4), "stopped"),
    ],
)
def test_one_line_says_what_it_does(event: IngestProgress, line: str) -> None:
    assert event.describe() == line


def test_durations_read_as_a_clock() -> None:
    assert [duration(s) for s in (None, 0.4, 7, 341, 3723)] == [
        "?",
        "0:00",
        "0:07",
        "5:41",
        "1:02:03",
    ]


def test_the_stop_handle_is_a_should_stop_any_thread_can_set() -> None:
    stop = StopHandle()
    assert not stop() and not stop.requested
    threading.Thread(target=stop.stop).start()
    for _ in range(100):
        if stop():
            break
        threading.Event().wait(0.01)
    assert stop() and stop.requested


def test_an_event_carries_every_figure_rounded_for_display() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=1000.0, workers=3, clock=clock)
    meter.embedding_starts(3, 3000)
    assert (meter.event("embedding").fraction, meter.event("embedding").eta_s) == (0.0, 3.0)
    clock.now += 3.0
    meter.embedded(1, 1000)  # a third of the work in 3 s: 6 s left
    event = meter.event("embedding")
    assert event == IngestProgress("embedding", 0, 0, 1, 3, 0.33, 3, 0.3333, 6.0, 3.0)
    assert event.to_dict() == {
        "phase": "embedding",
        "files_done": 0,
        "files_total": 0,
        "chunks_done": 1,
        "chunks_total": 3,
        "chunks_per_s": 0.33,
        "workers": 3,
        "fraction": 0.3333,
        "eta_s": 6.0,
        "elapsed_s": 3.0,
        "detail": "",
    }
    assert meter.event("stopped").fraction == 0.3333  # a stopped run keeps its place
    done = meter.event("done")
    assert (done.fraction, done.eta_s, done.chunks_done) == (1.0, 0.0, 1)


def test_reading_counts_the_files_and_bytes_it_is_told() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=1.0, clock=clock)
    assert meter.event("scanning") == IngestProgress("scanning", workers=1)  # nothing to show
    clock.now += 1.0
    assert meter.event("scanning").fraction == 0.0  # time passing is no progress
    meter.reading(0, 10, 0, 1000, 0)  # files found, none read yet
    assert meter.event("chunking").fraction == 0.0
    clock.now += 1.0
    meter.reading(3, 12, 500, 2000, 3)  # 250 B/s: 6 s to read the rest; 12 units expected
    event = meter.event("chunking")
    assert (event.files_done, event.files_total, event.chunks_total) == (3, 12, 0)
    assert event.eta_s == 6.0 + 12.0
    assert event.fraction == round(2.0 / (8.0 + 12.0), 4)
    meter.embedding_starts(4, 4)
    assert meter.reading_s == 2.0
    event = meter.event("embedding")
    assert (event.eta_s, event.fraction) == (4.0, round(2 / 6, 4))


def test_reading_at_once_divides_by_nothing() -> None:
    meter = ProgressMeter(clock=Clock())
    meter.reading(1, 2, 100, 200, 5)  # no time has passed: the default reading speed
    reading, embedding = 200 / DEFAULT_BYTES_PER_S, 10 / DEFAULT_UNITS_PER_S  # 10 units expected
    assert meter.event("chunking").fraction == round(reading / 2 / (reading + embedding), 4)


def test_a_tiny_or_overfull_run_ends_at_one() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=1000.0, clock=clock)
    meter.embedding_starts(1, 100)  # 0.1 s of work
    meter.embedded(1, 100)
    assert meter.event("embedding").fraction == 1.0
    meter.embedded(2, 300)  # more than counted (another ingest added some meanwhile)
    assert meter.event("embedding").fraction == 1.0


def test_figures_are_rounded_for_display_only() -> None:
    clock = Clock()
    meter = ProgressMeter(prior_units_per_s=1000.0, clock=clock)
    meter.embedding_starts(3, 3000)
    clock.now += 3.36
    meter.embedded(1, 1000)  # 297.6 units/s: 6.72 s left
    event = meter.event("embedding")
    assert (event.chunks_per_s, event.eta_s, event.elapsed_s) == (0.3, 6.7, 3.4)
