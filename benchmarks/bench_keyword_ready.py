"""Time from `ingest` start until the whole corpus is keyword-searchable (before any embedding).

Ingests into a fresh index, notes when the embedding phase begins (every chunk is written and the
full-text index built by then), checks a keyword search finds a late file, and stops the ingest.

    python benchmarks/bench_keyword_ready.py [CORPUS]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")

from atlas_tui.config import Settings
from atlas_tui.knowledge.base import KnowledgeBase


def main() -> None:
    corpus = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/doc/python3.11/html/_sources"
    with tempfile.TemporaryDirectory() as tmp:
        kb = KnowledgeBase(Settings(db_path=str(Path(tmp) / "db")))
        ready: list[float] = []
        started = time.perf_counter()

        def progress(p) -> None:
            if p.phase == "embedding" and not ready:
                ready.append(time.perf_counter() - started)

        report = kb.ingest([corpus], progress=progress, should_stop=lambda: bool(ready))
        hits = kb.search("zipapp create executable archive", mode="keyword", limit=3)
        print(f"corpus: {corpus} ({report.files_indexed} files, {report.chunks_written} chunks)")
        print(f"keyword-searchable after {ready[0]:.1f} s (embedding then starts; stopped here)")
        print(f"keyword search finds: {[h.source for h in hits]}")


if __name__ == "__main__":
    main()
