"""Stream an answer to the terminal as it is written; fall back to `query()` if the stream breaks.

    python examples/streaming_example.py [QUESTION...]

The index is the one the environment configures (ATLAS_DB_PATH). Without ANTHROPIC_API_KEY the
answer comes from the offline extractive answerer.
"""

from __future__ import annotations

import sys

from _shared import print_delta, print_error, question_from

from atlas_tui import AtlasError, create_query_client
from atlas_tui.errors import GenerationError
from atlas_tui.safety import terminal_safe


def main(argv: list[str]) -> int:
    question = question_from(argv)
    client = create_query_client()
    print(f"Q: {terminal_safe(question)}\n", flush=True)
    try:
        client.query_streaming(question, print_delta)
        print()
        return 0
    except GenerationError as error:  # the answer broke off: ask again, without streaming
        print()
        print_error(error, "streaming failed")
    except AtlasError as error:  # no index, wrong model, ...: asking again would fail the same way
        print_error(error)
        return 1
    print("Falling back to query() ...", file=sys.stderr, flush=True)
    try:
        print(terminal_safe(client.query(question)))
    except AtlasError as error:
        print_error(error, "query failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
