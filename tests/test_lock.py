"""The dependency lock's writer (scripts/lock.py): what it pins and how it reports a change."""

from __future__ import annotations

import sys
from pathlib import Path

from scripts.lock import LOCK, changes, frozen, read_pins


def test_the_lock_pins_each_package_once_and_never_the_project() -> None:
    lines = LOCK.read_text().splitlines()
    pins = read_pins(lines)
    assert len(pins) == sum(1 for line in lines if "==" in line and not line.startswith("#"))
    assert "atlas-tui" not in pins
    for needed in ("anthropic", "httpx2", "lancedb", "textual", "pytest", "ruff", "torch"):
        assert needed in pins, needed
    assert "+" not in pins["torch"]  # the CPU build's local label is not a version PyPI knows


def test_a_venv_is_frozen_without_the_project_and_without_local_labels() -> None:
    pins = frozen(Path(sys.executable))
    assert "atlas-tui" not in pins and "pytest" in pins
    assert all("+" not in version for version in pins.values())


def test_changes_say_added_removed_and_moved_packages() -> None:
    old = {"anthropic": "2.15.0", "gone": "1.0", "same": "3"}
    new = {"anthropic": "2.17.0", "fresh": "0.1", "same": "3"}
    assert changes(old, new) == [
        "  ~ anthropic 2.15.0 -> 2.17.0",
        "  + fresh 0.1",
        "  - gone 1.0",
    ]
    assert changes(new, new) == []


def test_names_are_compared_as_pip_spells_them() -> None:
    assert read_pins(["Typing_Extensions==4.15.0", "ruamel.yaml==0.18", "# a==1", "-e ."]) == {
        "typing-extensions": "4.15.0",
        "ruamel-yaml": "0.18",
    }
