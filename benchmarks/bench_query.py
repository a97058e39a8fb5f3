"""Query client overhead: from the call to the request's first byte, and to the first delta.

The offline answer is also timed from the retrieved documents to its first delta (the labelled
opening line) and to its first quote (after the excerpts are scored by meaning with the encoder:
the cost that matters), warm, with the same encoder retrieval uses.

Runs the real client (real index, real embedding model, real anthropic SDK) against the local fake
Messages API server, so the figures are the client's own cost, not the network's or the model's.

    python benchmarks/bench_query.py --db /path/to/index [--questions FILE] [--runs 40]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import load_settings
from atlas_tui.query import AtlasQuery, Delta, Failed, Retrieved
from tests.fake_anthropic import FakeAnthropic, Reply

DEFAULT_QUESTIONS = (
    Path(__file__).resolve().parents[2] / "shared/eval/python-docs-dev-questions.jsonl"
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--collection")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in Path(args.questions).read_text().splitlines()]

    with FakeAnthropic() as server:
        settings = load_settings(
            db_path=args.db, collection=args.collection, api_key="bench", base_url=server.base_url
        )
        client = AtlasQuery(settings)
        client.warm()
        rows = client.stats().to_dict()
        print(f"index: {rows['chunks']} chunks, {rows['documents']} documents")
        offline_settings = load_settings(
            db_path=args.db, collection=args.collection, provider="extractive"
        )
        first_byte: list[float] = []
        first_delta: list[float] = []
        offline_first: list[float] = []
        after_retrieval: list[float] = []  # offline: documents retrieved -> first delta
        first_quote: list[float] = []  # offline: documents retrieved -> first quote (scored)
        quote_cpu: list[float] = []  # the CPU time of that, all threads (the machine is shared)
        for i in range(args.runs + 3):
            question = questions[i % len(questions)]
            server.script(Reply.text("An answer ", "in three ", "deltas."))
            started = time.perf_counter()
            delta_at = None
            for event in client.events(question):
                if isinstance(event, Delta) and delta_at is None:
                    delta_at = time.perf_counter()
                elif isinstance(event, Failed):
                    raise SystemExit(f"failed: {event.error.describe()}")
            # A new answerer each time: no excerpt vectors cached from an earlier question.
            offline = AtlasQuery(offline_settings, knowledge=client.knowledge)
            started_offline = time.perf_counter()
            cpu_at_retrieval = cpu_at_quote = None
            offline_at = retrieved_at = quote_at = None
            for event in offline.events(question):
                if isinstance(event, Retrieved):
                    retrieved_at, cpu_at_retrieval = time.perf_counter(), time.process_time()
                elif isinstance(event, Delta) and offline_at is None:
                    offline_at = time.perf_counter()
                if isinstance(event, Delta) and event.citations and quote_at is None:
                    quote_at, cpu_at_quote = time.perf_counter(), time.process_time()
            if i < 3:  # warm-up: first SDK connection, caches
                continue
            assert delta_at is not None and offline_at is not None
            first_byte.append((server.requests[-1].received_at - started) * 1000)
            first_delta.append((delta_at - started) * 1000)
            offline_first.append((offline_at - started_offline) * 1000)
            assert retrieved_at is not None
            after_retrieval.append((offline_at - retrieved_at) * 1000)
            # No quote when nothing answers: then the "nothing answers" line is the answer.
            first_quote.append(((quote_at or time.perf_counter()) - retrieved_at) * 1000)
            if cpu_at_quote is not None and cpu_at_retrieval is not None:
                quote_cpu.append((cpu_at_quote - cpu_at_retrieval) * 1000)

    def line(name: str, values: list[float]) -> str:
        return (
            f"{name:<44} p50 {statistics.median(values):7.1f} ms   "
            f"p95 {percentile(values, 0.95):7.1f} ms   (n={len(values)})"
        )

    print(line("call -> request's first byte (Claude path)", first_byte))
    print(line("call -> first delta (Claude, local fake)", first_delta))
    print(line("call -> first delta (offline extractive)", offline_first))
    print(line("retrieved -> first delta (offline)", after_retrieval))
    print(line("retrieved -> first quote (offline, scored)", first_quote))
    print(line("  its CPU time (all threads)", quote_cpu))


if __name__ == "__main__":
    main()
