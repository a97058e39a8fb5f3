"""The bound on one step of an object-store index (object_store.py): how long it is, read from the
store's options, and what the caller sees when a step outlives it. (Against a real store that
stalls: tests/team/test_s3.py.)"""

from __future__ import annotations

import threading
import time

import pytest

from atlas_tui.errors import IndexError_
from atlas_tui.knowledge.object_store import DEFAULTS, deadline_s, within_deadline


@pytest.mark.parametrize(
    ("options", "seconds"),
    [
        (DEFAULTS, 45.0),  # 30 s per request, retries within 15 s
        ({}, 45.0),
        ({"timeout": "5s", "client_retry_timeout": "5"}, 10.0),
        ({"timeout": "500ms", "client_retry_timeout": "2s"}, 2.5),
        ({"timeout": "2m", "client_retry_timeout": "0"}, 120.0),
        ({"timeout": " 1.5 s ", "client_retry_timeout": "15"}, 16.5),
        ({"timeout": "soon", "client_retry_timeout": "later"}, 45.0),  # unreadable: defaults
        ({"timeout": "-3s"}, 45.0),
    ],
)
def test_a_steps_bound_is_a_requests_timeout_and_its_retries(
    options: dict[str, str], seconds: float
) -> None:
    assert deadline_s(options) == pytest.approx(seconds)


def test_a_step_within_its_bound_gives_its_result_or_its_error() -> None:
    assert within_deadline(lambda: 42, "s3://bucket/index", 5, "read") == 42
    with pytest.raises(KeyError, match="missing"):
        within_deadline(lambda: {}["missing"], "s3://bucket/index", 5, "read")


def test_a_step_that_outlives_its_bound_is_a_one_line_error_at_the_bound() -> None:
    release = threading.Event()
    started = time.monotonic()
    with pytest.raises(IndexError_) as raised:
        within_deadline(lambda: release.wait(30), "s3://bucket/index", 0.3, "searched")
    took = time.monotonic() - started
    release.set()
    assert 0.3 <= took < 5
    assert raised.value.message == (
        "The index at s3://bucket/index could not be searched: the store stopped answering "
        "(no answer within 0.3 s)."
    )
    assert "AWS_ENDPOINT" in raised.value.hint
