"""Show the sources first, then stream the answer that cites them.

    python examples/streaming_with_context.py [QUESTION...]

`retrieve_only` returns the passages the answer will be built from (numbered as the answer cites
them: [1], [2], ...); `query_streaming` then streams the answer.
"""

from __future__ import annotations

import sys
from typing import Any

from _shared import print_delta, print_error, question_from

from atlas_tui import AtlasError, create_query_client
from atlas_tui.safety import terminal_safe

MAX_RESULTS = 5


def describe_source(number: int, document: dict[str, Any]) -> str:
    metadata = document["metadata"]
    heading = f" > {metadata['heading']}" if metadata.get("heading") else ""
    score = document["relevance_score"]
    return terminal_safe(f"[{number}] {metadata['source']}{heading}  (score {score:.3f})")


def main(argv: list[str]) -> int:
    question = question_from(argv)
    client = create_query_client()
    try:
        documents = client.retrieve_only(question, max_results=MAX_RESULTS)
        print("Sources:")
        if not documents:
            print("  (no passages matched)")
        for number, document in enumerate(documents, start=1):
            print(f"  {describe_source(number, document)}")
        print("\nAnswer:", flush=True)
        client.query_streaming(question, print_delta, max_results=MAX_RESULTS)
    except AtlasError as error:
        print()
        print_error(error)
        return 1
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
