"""What a LanceDB failure becomes (knowledge/faults.py): one line a person can read, the right error
and hint for a full disk, an object store out of reach or a damaged index, and commits retried
when another writer won the race."""

from __future__ import annotations

import errno
from types import SimpleNamespace

import pytest

from atlas_tui.errors import AtlasError, IndexCorruptError, IndexError_, IngestError
from atlas_tui.knowledge import faults
from atlas_tui.knowledge.faults import (
    CORRUPT_HINT,
    DISK_FULL_HINT,
    explain,
    guard,
    is_conflict,
    retrying,
    short_reason,
)
from atlas_tui.knowledge.object_store import REMOTE_HINT

RUST = (
    'LanceError(IO): Generic { store: "S3", source: reqwest::Error { kind: Request, message: '
    '"error sending request" } }, /root/.cargo/registry/src/lance-0.1/src/io.rs:12:3'
)


class Panic(BaseException):
    """Like pyo3_runtime.PanicException: not an Exception."""


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (RUST, "LanceError(IO): Generic: error sending request"),
        ("IO { source: Os { code: 2, kind: NotFound } }", "IO: NotFound"),
        ("x { kind: A } y { kind: B }", "x: B"),
        (
            'LanceError(IO): IO { source: Os { code: 13, kind: PermissionDenied, message: "Perm'
            'ission denied" } }',
            "LanceError(IO): Permission denied",
        ),
        ("Lance error: IO: { kind: Interrupted }", "Lance error: Interrupted"),
        ('Schema error: Field { name: "vector" }', "Schema error: Field"),  # no message, no kind
        ("Not found: /data/t.lance, /root/.cargo/lance/src/a.rs:100", "Not found: /data/t.lance"),
        ("plain  words\n over   lines", "plain words over lines"),
        ("w " * 150, "w " * 100),  # at most 200 characters
    ],
)
def test_a_failure_is_told_in_one_line_without_rust_debug_text(text: str, reason: str) -> None:
    assert short_reason(RuntimeError(text)) == reason


def test_a_failure_without_words_is_named_by_its_kind() -> None:
    assert short_reason(KeyError()) == "KeyError"


@pytest.mark.parametrize(
    "exc",
    [
        OSError(errno.ENOSPC, "No space left on device"),
        RuntimeError("LanceError(IO): Os { code: 28, kind: StorageFull }"),
        RuntimeError("write failed: os error 28"),
    ],
)
def test_a_full_disk_says_so_wherever_the_index_is(exc: BaseException) -> None:
    for location in ("/data/index", "s3://bucket/index"):
        error = explain(exc, location, "written", IngestError)
        assert type(error) is IngestError
        assert error.message == (
            f"The index at {location} could not be written: the disk is full "
            "(no space left on device)."
        )
        assert error.hint == DISK_FULL_HINT


def test_a_full_disk_is_found_in_the_cause_of_a_failure() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as cause:
            raise RuntimeError("commit failed") from cause
    except RuntimeError as exc:
        assert explain(exc, "/data/index", "written").hint == DISK_FULL_HINT


def test_a_full_disk_is_found_in_a_failure_raised_while_handling_it() -> None:
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("commit failed")  # noqa: B904 (the context, not the cause)
    except RuntimeError as exc:
        assert explain(exc, "/data/index", "written").hint == DISK_FULL_HINT


def test_another_os_error_is_not_a_full_disk() -> None:
    error = explain(PermissionError(errno.EACCES, "Permission denied"), "/data/i", "written")
    assert (error.message, error.hint) == (
        "The index at /data/i could not be written: [Errno 13] Permission denied",
        CORRUPT_HINT,
    )


def test_a_damaged_local_index_says_how_to_check_and_rebuild_it() -> None:
    error = explain(Panic(RUST), "/data/index", "opened")
    assert type(error) is IndexCorruptError and error.hint == CORRUPT_HINT
    assert error.message == (
        "The index at /data/index could not be opened: LanceError(IO): Generic: error sending "
        "request"
    )
    other = explain(RuntimeError("bad row"), "/data/index", "written", IngestError)
    assert (type(other), other.message, other.hint) == (
        IngestError,
        "The index at /data/index could not be written: bad row",
        "",
    )


def test_an_object_store_out_of_reach_is_not_called_damaged() -> None:
    described = explain(
        RuntimeError(
            'Generic { source: Os { message: "Connection refused" } }, uri: Some(http://'
            "127.0.0.1:9) }"
        ),
        "s3://notes/index",
        "opened",
    )
    assert type(described) is IndexError_ and described.hint == REMOTE_HINT
    assert described.message.startswith("The index at s3://notes/index could not be reached: ")
    assert "connection refused" in described.message

    unknown = explain(RuntimeError("Forbidden by policy"), "s3://notes/index", "opened")
    assert (type(unknown), unknown.message, unknown.hint) == (
        IndexError_,
        "The index at s3://notes/index could not be reached: Forbidden by policy",
        REMOTE_HINT,
    )
    other = explain(RuntimeError("schema mismatch"), "s3://notes/index", "written", IngestError)
    assert (type(other), other.message, other.hint) == (
        IngestError,
        "The index at s3://notes/index could not be written: schema mismatch",
        REMOTE_HINT,
    )


def test_a_cause_deep_in_the_chain_names_what_failed_on_the_store() -> None:
    try:
        try:
            raise RuntimeError("<Code>NoSuchBucket</Code>")
        except RuntimeError as cause:
            raise RuntimeError("open failed") from cause
    except RuntimeError as exc:
        error = explain(exc, "s3://notes/index", "opened")
    assert error.message == (
        "The index at s3://notes/index could not be reached: the bucket 'notes' does not exist "
        "at the endpoint (create it first)."
    )


def test_a_cause_given_outside_a_handler_names_what_failed_on_the_store() -> None:
    failure = RuntimeError("open failed")
    failure.__cause__ = OSError("dns error: failed to lookup address information")
    assert failure.__context__ is None
    error = explain(failure, "s3://notes/index", "opened")
    assert (type(error), error.message) == (
        IndexError_,
        "The index at s3://notes/index could not be reached: the host of the endpoint could not "
        "be resolved (no network, or a wrong endpoint).",
    )


def test_guard_converts_panics_and_lets_interrupts_and_own_errors_through() -> None:
    with pytest.raises(IndexCorruptError) as caught, guard("/data/index", "read"):
        raise Panic("garbled manifest")
    assert caught.value.message == "The index at /data/index could not be read: garbled manifest"
    assert isinstance(caught.value.__cause__, Panic)
    for passing in (KeyboardInterrupt(), AtlasError("mine"), SystemExit(3)):
        with pytest.raises(type(passing)), guard("/data/index", "read"):
            raise passing


@pytest.mark.parametrize(
    ("text", "conflict"),
    [
        ("Commit conflict for version 7", True),
        ("Retryable commit conflict", True),
        ("a conflicting transaction", True),
        ("Incompatible transaction: Delete", True),
        ("Not found: data.lance", False),
    ],
)
def test_what_counts_as_losing_a_commit_race(text: str, conflict: bool) -> None:
    assert is_conflict(RuntimeError(text)) is conflict


def test_a_lost_commit_race_is_retried_until_it_lands_or_attempts_run_out() -> None:
    calls: list[int] = []

    def lands_third_time() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("commit conflict")
        return "written"

    assert retrying(lands_third_time, attempts=3, first_delay=0.001) == "written"
    assert len(calls) == 3

    calls.clear()

    def always_conflicts() -> None:
        calls.append(1)
        raise RuntimeError("commit conflict")

    with pytest.raises(RuntimeError, match="commit conflict"):
        retrying(always_conflicts, attempts=4, first_delay=0.001)
    assert len(calls) == 4


def test_other_failures_and_interrupts_are_not_retried() -> None:
    calls: list[int] = []

    def fails(exc: BaseException):
        def action() -> None:
            calls.append(1)
            raise exc

        return action

    for exc in (RuntimeError("disk error"), KeyboardInterrupt(), IngestError("mine")):
        calls.clear()
        with pytest.raises(type(exc)):
            retrying(fails(exc), attempts=5, first_delay=0.001)
        assert calls == [1]


def test_the_waits_double_from_a_twentieth_of_a_second_up_to_one_with_jitter(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twelve attempts by default; each wait is the delay and up to as much again at random."""
    waits: list[float] = []
    monkeypatch.setattr(faults, "time", SimpleNamespace(sleep=waits.append))
    monkeypatch.setattr(faults, "random", SimpleNamespace(random=lambda: 0.5))

    def always_conflicts() -> None:
        raise RuntimeError("commit conflict")

    with pytest.raises(RuntimeError, match="commit conflict"):
        retrying(always_conflicts)
    delays = [0.05, 0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    assert waits == pytest.approx([1.5 * delay for delay in delays])
