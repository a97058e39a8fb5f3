"""What the examples share: the question from the command line, and how errors are shown.

Not an example itself. Each example runs as `python examples/NAME.py [QUESTION...]`, which puts
this folder on `sys.path`, so `import _shared` finds this file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from atlas_tui.errors import AtlasError
from atlas_tui.safety import terminal_safe

DEFAULT_QUESTION = "What is the trimodal methodology in Atlas?"


def question_from(argv: Sequence[str]) -> str:
    """The words given on the command line, or the classic first question."""
    return " ".join(argv).strip() or DEFAULT_QUESTION


def print_error(error: AtlasError, what: str = "error") -> None:
    """The error's message and what to do about it, on stderr."""
    print(f"{what}: {terminal_safe(error.describe())}", file=sys.stderr, flush=True)


def print_delta(delta: str, _full_text: str) -> None:
    """A `query_streaming` callback that prints each piece of the answer as it arrives."""
    print(terminal_safe(delta), end="", flush=True)
