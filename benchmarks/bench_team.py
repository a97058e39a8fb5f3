"""Team-scale benchmarks (issue 11): one subcommand per part.

    nice -n -15 python benchmarks/bench_team.py ray --files 200 [--rounds N] [--cpus 2]
    nice -n -15 python benchmarks/bench_team.py search --db /work/bench-db [--vector-index]

`ray`: the same corpus (the first --files files of --corpus, copied) ingested into fresh local
indexes, once by the local engine and once by the Ray engine on a local Ray cluster of --cpus
CPUs (`ray start --head`, started before and not timed, as a team's cluster is already up; or
--address for one you started). Each ingest runs in a fresh process, so its model load is
included; the load is also measured apart, and the encoder's chunks/s on one core on the same
chunks (the figure to scale by). Prints per engine: total, chunking phase, embedding phase,
chunks/s, and the Ray/local time ratio (target: at most 1.3).

`search`: search p50/p95 per mode on a SeaweedFS s3:// copy of an index vs the same index on local
disk, at the demo and the Python-docs sizes (team_search.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import team_search  # noqa: E402 - `search`: latency on an object store vs local (team_search.py)


def _ingest(args: argparse.Namespace) -> None:
    """One timed ingest in this (fresh) process; prints its timings as JSON."""
    from atlas_tui.config import Settings
    from atlas_tui.knowledge.base import KnowledgeBase

    started = time.perf_counter()
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    workers = 1

    def clock(event: Any) -> None:
        nonlocal workers
        now = time.perf_counter() - started
        first.setdefault(event.phase, now)
        last[event.phase] = now
        if event.phase == "embedding" and event.chunks_done:
            first.setdefault("first_vector", now)
            workers = max(workers, event.workers)

    settings = Settings(db_path=args.db, ingest_engine=args.engine, ray_address=args.address or "")
    report = KnowledgeBase(settings).ingest([args.corpus], progress=clock)
    total = time.perf_counter() - started
    print(
        json.dumps(
            {
                "total_s": total,
                "chunking_s": first.get("embedding", total) - first.get("chunking", 0.0),
                "embedding_s": last.get("embedding", total) - first.get("embedding", total),
                "model_wait_s": first.get("first_vector", total) - first.get("embedding", total),
                "chunks": report.chunks_embedded,
                "files": report.files_added,
                "workers": workers,
                "pending": report.chunks_pending,
            }
        )
    )


def _encoder(args: argparse.Namespace) -> None:
    """The model load, then the encoder's chunks/s on one thread, over chunks of `args.db`."""
    import lancedb

    from atlas_tui.knowledge.embedding import get_embedder
    from atlas_tui.knowledge.engine import embedding_text
    from atlas_tui.knowledge.ingest import EMBED_BATCH

    started = time.perf_counter()
    embedder = get_embedder()
    embedder.warm()
    load_s = time.perf_counter() - started
    table = lancedb.connect(args.db).open_table("atlas_knowledge_base")
    rows = table.search().select(["text", "heading", "title"]).limit(None).to_list()
    sample = random.Random(0).sample(rows, min(args.sample, len(rows)))
    texts = sorted((embedding_text(row) for row in sample), key=len)
    embedder.workers = 1
    embedder.encode_documents(texts[:8])
    started = time.perf_counter()
    for i in range(0, len(texts), EMBED_BATCH):
        embedder.encode_documents(texts[i : i + EMBED_BATCH])
    rate = len(texts) / (time.perf_counter() - started)
    print(json.dumps({"load_s": load_s, "per_core": rate, "sample": len(texts)}))


def _child(*argv: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, *argv], capture_output=True, text=True, cwd=REPO, check=False
    )
    if done.returncode != 0:
        sys.exit(f"{' '.join(argv[:1])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _copy_corpus(source: Path, files: int, target: Path) -> Path:
    for path in sorted(p for p in source.rglob("*") if p.is_file())[:files]:
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    return target


def _line(name: str, run: dict[str, Any]) -> str:
    rate = run["chunks"] / run["total_s"]
    return (
        f"{name:<20} {run['total_s']:7.1f} s total  {run['chunking_s']:6.1f} s chunking  "
        f"{run['embedding_s']:6.1f} s embedding (first batch in {run['model_wait_s']:.1f} s)  "
        f"{run['chunks']} chunks  {rate:5.2f} chunks/s overall  "
        f"{run['chunks'] / max(run['embedding_s'], 1e-9):5.2f} chunks/s embedding"
    )


def bench_ray(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="atlas-bench-team-"))
    cluster = None
    try:
        corpus = _copy_corpus(Path(args.corpus), args.files, work / "corpus")
        address = args.address
        if not address:
            from tests.ray_cluster import RayCluster

            (work / "cluster").mkdir()
            started = time.perf_counter()
            cluster = RayCluster(work / "cluster", cpus=args.cpus)
            address = cluster.address
            print(f"ray cluster ({args.cpus} CPUs) up in {time.perf_counter() - started:.1f} s")
        os.environ["RAY_AUTH_MODE"] = os.environ.get("RAY_AUTH_MODE", "disabled")
        print(f"corpus: the first {args.files} files of {args.corpus}", flush=True)
        ratios = []
        for round_ in range(1, args.rounds + 1):  # alternated: a load change hits both engines
            local_db, ray_db = work / f"local{round_}", work / f"ray{round_}"
            local = _child("_ingest", "--engine", "local", "--db", str(local_db), str(corpus))
            print(_line(f"{round_}: local (1 process)", local), flush=True)
            ray = _child(
                "_ingest", "--engine", "ray", "--address", address, "--db", str(ray_db),
                str(corpus),
            )  # fmt: skip
            print(_line(f"{round_}: ray ({ray['workers']} actors)", ray), flush=True)
            ratios.append(ray["total_s"] / local["total_s"])
        ratio = sorted(ratios)[len(ratios) // 2]
        verdict = "within" if ratio <= 1.3 else "OVER"
        each = ", ".join(f"{r:.2f}" for r in ratios)
        print(f"ray/local time        {ratio:.2f} median of {each} ({verdict} the 1.3 target)")
        encoder = _child("_encoder", "--db", str(work / "local1"), "--sample", str(args.sample))
        print(
            f"model load (apart)    {encoder['load_s']:.1f} s; encoder on 1 core: "
            f"{encoder['per_core']:.2f} chunks/s ({encoder['sample']} chunks of this corpus)"
        )
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="part", required=True)
    ray = sub.add_parser("ray", help="Ray ingest vs the local engine on the same corpus and cores")
    ray.add_argument("--corpus", default="/usr/share/doc/python3.11/html/_sources")
    ray.add_argument("--files", type=int, default=200)
    ray.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray cluster")
    ray.add_argument("--address", help="use this Ray cluster instead of starting one")
    ray.add_argument("--sample", type=int, default=256, help="chunks for the per-core rate")
    ray.add_argument("--rounds", type=int, default=1, help="local then Ray, this many times")
    one = sub.add_parser("_ingest")  # internal: one timed ingest in a fresh process
    one.add_argument("corpus")
    one.add_argument("--engine", required=True)
    one.add_argument("--db", required=True)
    one.add_argument("--address")
    enc = sub.add_parser("_encoder")  # internal: model load and per-core rate
    enc.add_argument("--db", required=True)
    enc.add_argument("--sample", type=int, default=256)
    team_search.add_parser(sub)
    args = parser.parse_args()
    parts = {"ray": bench_ray, "_ingest": _ingest, "_encoder": _encoder}
    parts.get(args.part, getattr(args, "func", None))(args)


if __name__ == "__main__":
    main()
