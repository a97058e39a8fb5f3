"""Count the tokens of a streamed answer and report the rate at the end.

    python examples/token_counter.py [QUESTION...]

Tokens are approximate: characters / 4, the usual rule of thumb for English text (the offline
answerer has no tokenizer, and Claude's exact count arrives only with the finished message).
"""

from __future__ import annotations

import sys
import time

from _shared import print_error, question_from

from atlas_tui import AtlasError, create_query_client
from atlas_tui.safety import terminal_safe

CHARS_PER_TOKEN = 4


class TokenCounter:
    """A `query_streaming` callback that prints the answer and counts its approximate tokens."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_delta: float | None = None
        self.last_delta: float | None = None
        self.characters = 0
        self.deltas = 0

    def __call__(self, delta: str, full_text: str) -> None:
        now = time.perf_counter()
        if self.first_delta is None:
            self.first_delta = now
        self.last_delta = now
        self.deltas += 1
        self.characters = len(full_text)
        print(terminal_safe(delta), end="", flush=True)

    @property
    def tokens(self) -> int:
        return round(self.characters / CHARS_PER_TOKEN)

    def tokens_per_second(self) -> float:
        """Tokens over the time from the call to the last delta (retrieval included)."""
        if self.last_delta is None or self.last_delta <= self.started:
            return 0.0
        return self.tokens / (self.last_delta - self.started)

    def summary(self) -> str:
        if self.first_delta is None:
            return "No answer text arrived."
        first_ms = (self.first_delta - self.started) * 1000
        total_s = (self.last_delta or self.first_delta) - self.started
        return (
            f"~{self.tokens} tokens (characters / {CHARS_PER_TOKEN}) in {self.deltas} deltas "
            f"over {total_s:.2f} s from the call; first token after {first_ms:.0f} ms; "
            f"{self.tokens_per_second():.1f} tokens/s"
        )


def main(argv: list[str]) -> int:
    question = question_from(argv)
    client = create_query_client()
    try:
        client.warm()  # load the model first, so the timings measure the question alone
        counter = TokenCounter()
        client.query_streaming(question, counter)
    except AtlasError as error:
        print()
        print_error(error)
        return 1
    print()
    print(counter.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
