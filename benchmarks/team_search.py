"""`bench_team.py search`: search latency on an object store (SeaweedFS here) vs local disk.

    nice -n -15 python benchmarks/bench_team.py search --db /work/bench-db \
        --collection atlas_knowledge_base [--repeats 3]

The local index (the Python docs) and a fresh demo index are copied as they are into a bucket of a
SeaweedFS server started on loopback (tests/seaweed.py), then searched through `KnowledgeBase`
in each mode with the dev questions: warm (model loaded, index opened), p50 and p95 per mode, and
the first search of a fresh client (opening the index included) for each location. With
--vector-index, also a copy of the Python docs with the IVF_HNSW_SQ vector index built (below
20k rows the store searches exactly, which on an object store reads every vector per query).
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from bench_search import load_questions, time_modes

from atlas_tui.config import Settings, demo_corpus_path
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.store import Store

QUESTIONS = Path(__file__).resolve().parents[2] / "shared/eval/python-docs-dev-questions.jsonl"


def copy_index(local: str, collection: str, server, bucket: str) -> str:  # type: ignore[no-untyped-def]
    """Copy a local index's tables into the bucket; return the s3:// URI of the copy."""
    from pyarrow import fs

    target = server.filesystem()
    for name in (collection, f"{collection}__files", f"{collection}__meta"):
        fs.copy_files(
            f"{local}/{name}.lance",
            f"{bucket}/index/{name}.lance",
            destination_filesystem=target,
        )
    return f"s3://{bucket}/index"


def measure(
    db: str, collection: str, questions: list[str], repeats: int
) -> tuple[int, float, dict[str, tuple[float, float, int]]]:
    """(chunks, first search ms with the open, warm (p50, p95, n) per mode) of one index."""
    started = time.perf_counter()
    kb = KnowledgeBase(Settings(db_path=db, collection=collection))
    kb.warm()  # the model, and the index opened: what the TUI does at start-up
    kb.search(questions[0])
    cold_ms = (time.perf_counter() - started) * 1000
    return kb.stats().chunks, cold_ms, time_modes(kb, questions, repeats)


def demo_index(root: Path) -> str:
    db = str(root / "demo-db")
    KnowledgeBase(Settings(db_path=db)).ingest([str(demo_corpus_path())])
    return db


def run(args: argparse.Namespace) -> None:
    from tests.seaweed import SeaweedS3

    questions = load_questions(args.questions)
    root = Path(tempfile.mkdtemp(prefix="atlas-team-bench-"))
    server = SeaweedS3(root / "seaweed")
    for name, value in server.env().items():
        os.environ[name] = value
    try:
        demo = demo_index(root)
        indexes = [
            ("demo", demo, "atlas_knowledge_base"),
            ("python docs", args.db, args.collection),
        ]
        if args.vector_index:  # the Python docs again, with the IVF_HNSW_SQ index built on a copy
            copy = root / "indexed-copy"
            shutil.copytree(args.db, copy)
            with_index = Store(str(copy), args.collection)
            with_index.build_vector_index(with_index.count())
            indexes.append(("docs+index", str(copy), args.collection))
        for label, local, collection in indexes:
            remote = copy_index(local, collection, server, server.make_bucket())
            for where, db in (("local disk", local), ("SeaweedFS s3://", remote)):
                chunks, cold_ms, modes = measure(db, collection, questions, args.repeats)
                print(f"{label:12} {where:16} {chunks} chunks, first search {cold_ms:.0f} ms")
                for mode, (p50, p95, n) in modes.items():
                    print(f"{'':30} {mode:8} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  ({n} queries)")
    finally:
        server.stop()


def add_parser(sub: argparse._SubParsersAction) -> None:
    search = sub.add_parser("search", help="search p50/p95 on s3:// (SeaweedFS) vs local disk")
    search.add_argument("--db", default="/work/bench-db", help="a local index of the Python docs")
    search.add_argument("--collection", default="atlas_knowledge_base")
    search.add_argument("--questions", default=str(QUESTIONS))
    search.add_argument("--repeats", type=int, default=3)
    search.add_argument(
        "--vector-index", action="store_true", help="also the docs with a vector index built"
    )
    search.set_defaults(func=run)
