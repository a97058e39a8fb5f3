"""Ingest speed: whole ingests per encoder path, interleaved, with the time estimate's error.

    python benchmarks/bench_ingest.py --corpus /usr/share/doc/python3.11/html/_sources \
        --db /work/bench-db [--encoders fp32,auto --rounds 2] [--quick]

Each round ingests the corpus from scratch once per encoder path, in turn (fp32, auto, fp32,
auto...), so that load from other work on a shared machine falls on every path alike; run it
under one `nice` for all. Per run: the path, its passages (and how many were encoded ahead, while
files were still read: ahead.py), its wall time, the embedding phase's passages/s (its own only),
the load average over the run, and the error of the time estimate (`IngestProgress.eta_s`) 1, 5 and
10 minutes in (estimated minus actual time left, and that as a share of the actual). Then the
speed-up of each path over the first, per round and over all rounds. The first run's index is
kept at `<db>` (collection "bench", for bench_search.py and eval_retrieval.py), the others at
`<db>-<path>-<round>`. With one encoder, also: time until keyword-searchable, the raw encoder's
speed on the same passages, and an unchanged re-ingest. `--quick`: the first 20 files.
Figures go to stdout; progress to stderr.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import Settings
from atlas_tui.knowledge.base import KnowledgeBase
from atlas_tui.knowledge.engine import embedding_text
from atlas_tui.knowledge.hardware import this_cpu
from atlas_tui.knowledge.ingest import EMBED_BATCH, IngestReport
from atlas_tui.knowledge.steering import IngestProgress

MARKS_S = (60, 300, 600)  # when the time estimate is checked


@dataclass
class Clock:
    """What one run's progress events said, and when."""

    start: float = field(default_factory=time.perf_counter)
    first: dict[str, float] = field(default_factory=dict)
    last: dict[str, float] = field(default_factory=dict)
    estimates: dict[int, tuple[float, float | None]] = field(default_factory=dict)
    loads: list[float] = field(default_factory=list)
    phase_embedded: int = 0  # passages embedded in the embedding phase (not those ahead of it)
    _printed: float = 0.0

    def __call__(self, event: IngestProgress) -> None:
        now = time.perf_counter() - self.start
        self.first.setdefault(event.phase, now)
        self.last[event.phase] = now
        if event.phase == "embedding":
            self.phase_embedded = event.chunks_done
        for mark in MARKS_S:
            if now >= mark and mark not in self.estimates:
                self.estimates[mark] = (now, event.eta_s)
        if now - self._printed > 15 or event.phase in ("done", "stopped"):
            self._printed = now
            self.loads.append(os.getloadavg()[0])
            print(f"[{now:7.1f}s] {event.describe()} ({event.fraction:.1%})", file=sys.stderr)

    def eta_errors(self, total: float) -> list[str]:
        """Per mark: estimated minus actual seconds left (and as a share of the actual)."""
        cells = []
        for mark in MARKS_S:
            if mark not in self.estimates or self.estimates[mark][1] is None or mark >= total:
                cells.append("-")
                continue
            at, eta = self.estimates[mark]
            actual = total - at
            assert eta is not None
            cells.append(f"{eta - actual:+.0f} s ({(eta - actual) / actual:+.0%})")
        return cells


@dataclass
class Run:
    encoder: str
    round: int
    db: str
    report: IngestReport
    total_s: float
    clock: Clock

    @property
    def embed_rate(self) -> float:
        """Passages a second in the embedding phase (those encoded ahead, while files were
        read, are not in it)."""
        span = self.clock.last.get("embedding", 0.0) - self.clock.first.get("embedding", 0.0)
        return self.clock.phase_embedded / span if span > 0 else 0.0

    @property
    def ahead(self) -> int:
        """Passages encoded while files were still read (ahead.py)."""
        return max(0, self.report.chunks_embedded - self.clock.phase_embedded)

    @property
    def load(self) -> float:
        return sum(self.clock.loads) / max(len(self.clock.loads), 1)


def ingest_once(corpus: Path, db: str, encoder: str, round_: int) -> Run:
    shutil.rmtree(db, ignore_errors=True)
    kb = KnowledgeBase(Settings(db_path=db, collection="bench", encoder=encoder))
    print(f"--- round {round_}, encoder {encoder}, into {db}", file=sys.stderr, flush=True)
    clock = Clock()
    report = kb.ingest([corpus], progress=clock)
    return Run(encoder, round_, db, report, time.perf_counter() - clock.start, clock)


def raw_encoder_rate(kb: KnowledgeBase, sample: int) -> tuple[float, int]:
    rows = kb.store.chunks.search().select(["text", "heading", "title"]).limit(None).to_list()
    random.Random(0).shuffle(rows)
    texts = sorted((embedding_text(r) for r in rows[:sample]), key=len)
    kb.embedder.encode_documents(texts[:8])  # warm
    started = time.perf_counter()
    for i in range(0, len(texts), EMBED_BATCH):
        kb.embedder.encode_documents(texts[i : i + EMBED_BATCH])
    return len(texts) / (time.perf_counter() - started), len(texts)


def single_run_extras(run: Run, corpus: Path, sample: int) -> None:
    kb = KnowledgeBase(Settings(db_path=run.db, collection="bench", encoder=run.encoder))
    print(f"keyword-searchable after {run.clock.first.get('embedding', run.total_s):.1f} s")
    if run.report.chunks_embedded:
        raw_rate, n = raw_encoder_rate(kb, sample)
        print(f"raw encoder       {raw_rate:.2f} chunks/s on {n} of the same chunks")
        print(f"embedding/raw     {run.embed_rate / raw_rate:.2f}")
    started = time.perf_counter()
    again = kb.ingest([corpus])
    redo = time.perf_counter() - started
    print(f"unchanged re-ingest {redo:.2f} s ({again.files_unchanged} files unchanged)")
    size = kb.stats().size_bytes or 0
    print(f"index size        {size / 1e6:.1f} MB at {run.db}")


def print_row(run: Run) -> None:
    errors = " | ".join(run.clock.eta_errors(run.total_s))
    print(
        f"| {run.round} | {run.encoder} ({run.report.encoder}) | {run.report.chunks_embedded}"
        f" ({run.ahead} ahead) | {run.total_s:.1f} | {run.embed_rate:.2f} | {run.load:.1f}"
        f" | {errors} |",
        flush=True,
    )


def quick_corpus(corpus: Path) -> Path:
    quick = Path(tempfile.mkdtemp(prefix="atlas-bench-corpus-"))
    for path in sorted(corpus.rglob("*.rst.txt"))[:20]:
        target = quick / path.relative_to(corpus)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target)
    return quick


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", default="/usr/share/doc/python3.11/html/_sources")
    parser.add_argument("--db", default="")
    parser.add_argument("--encoders", default="auto", help="comma-separated paths, in run order")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="20 files only")
    parser.add_argument("--sample", type=int, default=512, help="chunks for the raw encoder rate")
    args = parser.parse_args()

    corpus = quick_corpus(Path(args.corpus)) if args.quick else Path(args.corpus)
    base = args.db or tempfile.mkdtemp(prefix="atlas-bench-db-")
    if args.quick:
        base, args.sample = f"{base}-quick", min(args.sample, 128)
    encoders = args.encoders.split(",")
    cpu = this_cpu()
    features = ", ".join(cpu.features())
    print(f"CPU {cpu.name} ({platform.machine()}, {os.cpu_count()} CPUs; {features})")
    print(f"corpus {corpus}; nice {os.nice(0)}; load average at start {os.getloadavg()[0]:.2f}")
    print(
        "\n| round | encoder (path) | passages | wall s | embedding passages/s | load avg "
        "| ETA error at 1 min | 5 min | 10 min |"
    )
    print("|---|---|---|---|---|---|---|---|---|", flush=True)
    runs: list[Run] = []
    for round_ in range(1, args.rounds + 1):
        for encoder in encoders:
            db = base if not runs else f"{base}-{encoder}-{round_}"
            runs.append(ingest_once(corpus, db, encoder, round_))
            print_row(runs[-1])  # as each run ends: a bounded run cut short keeps what it measured
    first = encoders[0]
    for encoder in encoders[1:]:
        pairs = [
            (a.total_s, b.total_s)
            for a in runs
            for b in runs
            if a.encoder == first and b.encoder == encoder and a.round == b.round
        ]
        per_round = ", ".join(f"x{a / b:.2f}" for a, b in pairs)
        overall = sum(a for a, _ in pairs) / sum(b for _, b in pairs)
        print(f"\n{encoder} over {first}: {per_round} per round; x{overall:.2f} over all rounds")
    if len(runs) == 1:
        single_run_extras(runs[0], corpus, args.sample)


if __name__ == "__main__":
    main()
