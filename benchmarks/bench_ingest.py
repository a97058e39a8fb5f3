"""Ingest speed: throughput vs the raw encoder, time until keyword-searchable, unchanged re-ingest.

    python benchmarks/bench_ingest.py --corpus /usr/share/doc/python3.11/html/_sources \
        --db /work/bench-db [--fresh] [--quick]

`--quick` ingests only the first 20 files (into `<db>-quick`). Figures go to stdout; progress to
stderr. The raw encoder figure encodes a sample of the same chunks (same embedding text, same
batching) with nothing else around it: the physical limit of the ingest.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import Settings
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.ingest import EMBED_BATCH, IngestProgress
from atlas_tui.knowledge.records import Chunk


class Clock:
    """Records when each phase first appears, and prints progress now and then."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self._last_print = 0.0

    def __call__(self, event: IngestProgress) -> None:
        now = time.perf_counter() - self.start
        self.first.setdefault(event.phase, now)
        self.last[event.phase] = now
        if now - self._last_print > 15 or event.phase == "done":
            self._last_print = now
            print(f"[{now:7.1f}s] {event}", file=sys.stderr, flush=True)


def raw_encoder_rate(kb: KnowledgeBase, sample: int) -> tuple[float, int]:
    rows = kb.store.chunks.search().select(["text", "heading", "title"]).limit(None).to_list()
    random.Random(0).shuffle(rows)
    rows = sorted(rows[:sample], key=lambda r: len(r["text"]))
    texts = [Chunk(r["text"], r["heading"], 0, 0, 0, 0, 0).embedding_text(r["title"]) for r in rows]
    kb.embedder.encode_documents(texts[:8])  # warm
    started = time.perf_counter()
    for i in range(0, len(texts), EMBED_BATCH):
        kb.embedder.encode_documents(texts[i : i + EMBED_BATCH])
    return len(texts) / (time.perf_counter() - started), len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="/usr/share/doc/python3.11/html/_sources")
    parser.add_argument("--db", default="")
    parser.add_argument("--fresh", action="store_true", help="delete the db first")
    parser.add_argument("--quick", action="store_true", help="20 files only")
    parser.add_argument("--sample", type=int, default=512, help="chunks for the raw encoder rate")
    args = parser.parse_args()

    corpus = Path(args.corpus)
    if args.quick:
        quick = Path(tempfile.mkdtemp(prefix="atlas-bench-corpus-"))
        for path in sorted(corpus.rglob("*.rst.txt"))[:20]:
            target = quick / path.relative_to(corpus)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        corpus, args.sample = quick, min(args.sample, 128)
    db = args.db or tempfile.mkdtemp(prefix="atlas-bench-db-")
    if args.quick and args.db:
        db = f"{args.db}-quick"
    if args.fresh or args.quick:
        shutil.rmtree(db, ignore_errors=True)
    kb = KnowledgeBase(Settings(db_path=db, collection="bench"))

    clock = Clock()
    report = kb.ingest([corpus], progress=clock)
    total = time.perf_counter() - clock.start
    embed_s = clock.last.get("embedding", total) - clock.first.get("embedding", 0.0)
    print(f"corpus            {corpus} ({report.files_added + report.files_updated} files)")
    print(f"chunks            {report.chunks_written} written, {report.chunks_embedded} embedded")
    print(
        f"first ingest      {total:.1f} s ({report.chunks_embedded / total:.2f} chunks/s overall)"
    )
    # the embedding phase starts once every chunk is written and the full-text index is current
    print(f"keyword-searchable after {clock.first.get('embedding', total):.1f} s")
    if report.chunks_embedded:
        ingest_rate = report.chunks_embedded / embed_s
        raw_rate, n = raw_encoder_rate(kb, args.sample)
        print(f"embedding phase   {ingest_rate:.2f} chunks/s")
        print(f"raw encoder       {raw_rate:.2f} chunks/s on {n} of the same chunks")
        print(
            f"ingest/raw        {report.chunks_embedded / total / raw_rate:.2f} (whole run), "
            f"{ingest_rate / raw_rate:.2f} (embedding phase)"
        )
    started = time.perf_counter()
    again = kb.ingest([corpus])
    redo = time.perf_counter() - started
    print(
        f"unchanged re-ingest {redo:.2f} s ({again.files_unchanged} files unchanged, "
        f"{redo / total:.1%} of the first ingest)"
    )
    print(f"index size        {kb.stats().size_bytes / 1e6:.1f} MB at {db}")


if __name__ == "__main__":
    main()
