"""Run every benchmark in turn and print its figures (`make bench`, or `make bench-quick`).

The Python documentation corpus comes from Debian's `python3.11-doc`; the index is kept in
benchmarks/out/ (ignored by git) so a second run measures the incremental path too.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = "/usr/share/doc/python3.11/html/_sources"
QUESTIONS = str(HERE.parents[1] / "shared/eval/python-docs-dev-questions.jsonl")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes: minutes, not an hour")
    parser.add_argument("--db", default=str(HERE / "out" / "db"))
    args = parser.parse_args()
    if not Path(CORPUS).is_dir():
        print(f"{CORPUS} is missing: apt-get install python3.11-doc", file=sys.stderr)
        return 1
    quick = ["--quick"] if args.quick else []
    db = ["--db", args.db]
    steps = [
        ["chunking_throughput.py", CORPUS],
        ["bench_encoder.py", *quick],
        ["bench_ingest.py", *db, *quick],
        # Scoring needs the whole corpus embedded (about half an hour on 2 cores).
        *(
            []
            if args.quick
            else [["eval_retrieval.py", "--corpus", CORPUS, "--questions", QUESTIONS, *db]]
        ),
        ["bench_search.py", *db, *quick],
        ["bench_query.py", *db, "--collection", "bench"],
        [
            "bench_research.py",
            *db,
            "--collection",
            "bench",
            *(["--runs", "5"] if args.quick else []),
        ],
        # one line when no model can call tools is configured
        ["eval_research.py", "--db", f"python={args.db}", "--collection", "python=bench"],
        ["bench_tui.py"],
        ["bench_citations.py"],
        ["bench_browser.py"],  # the demo corpus, in Chromium and tmux
    ]
    failed = 0
    for script, *rest in steps:
        print(f"\n=== {script} {' '.join(rest)}", flush=True)
        failed += subprocess.call([sys.executable, str(HERE / script), *rest]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
