"""Research mode's own time per round: from the model's tool calls arriving to the tool results
being sent, on a real index.

    python benchmarks/bench_research.py --db /work/idx/pydocs [--questions FILE] [--runs 20]

The real query client (real index and embedding model, the real anthropic SDK) researches against
the local fake Messages API, which scripts each run's rounds: a search of the question (hybrid),
then a keyword search of its last words together with a read around passage [1], then a vector
search, then the answer. A round's client time is measured on the server's clock: from the
moment it sent the round's reply in full (its `message_stop`) to the moment the next request had
arrived whole. It holds everything the client does between the two: the SDK finishing the stream,
checking the calls, searching and reading the index, building the results and the next request,
and sending it. The time the tools took inside it (`Round.round.tool_ms`) is reported beside it.
The first run (loading the model, opening the index) is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LANCEDB_LOG", "error")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from atlas_tui.config import load_settings
from atlas_tui.query import AtlasQuery, Done, Failed, Round
from benchmarks.bench_query import percentile
from tests.fake_anthropic import FakeAnthropic, Reply, ToolUse

DEFAULT_QUESTIONS = (
    Path(__file__).resolve().parents[2] / "shared/eval/python-docs-dev-questions.jsonl"
)


def script(server: FakeAnthropic, question: str) -> int:
    """One run's replies; returns how many rounds of tool calls it has."""
    words = question.rstrip("?").split()
    server.script(
        Reply.tools(ToolUse("search", {"query": question})),
        Reply.tools(
            ToolUse("search", {"query": " ".join(words[-3:]), "mode": "keyword"}),
            ToolUse("read", {"passage": 1, "before": 1, "after": 1}),
        ),
        Reply.tools(ToolUse("search", {"query": " ".join(words[:4]), "mode": "vector"})),
        Reply.text("The answer."),
    )
    return 3


def research(client: AtlasQuery, server: FakeAnthropic, question: str) -> tuple[list, list]:
    """One run: the client's time per round (ms) and the tools' share of it."""
    before = len(server.requests)
    replied_before = len(server.replied)
    rounds = script(server, question)
    tools: list[float] = []
    for event in client.research_events(question):
        if isinstance(event, Round):
            tools.append(event.round.tool_ms)
        elif isinstance(event, Failed):
            raise SystemExit(f"research failed: {event.error.message}")
        elif isinstance(event, Done) and event.rounds != rounds:
            raise SystemExit(f"expected {rounds} rounds, got {event.rounds}")
    requests = server.requests[before:]
    replied = server.replied[replied_before:]
    client_ms = [
        (requests[i + 1].received_at - replied[i]) * 1000 for i in range(rounds)
    ]  # reply i sent in full -> request i + 1 received
    return client_ms, tools


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--collection")
    parser.add_argument("--questions", default=str(DEFAULT_QUESTIONS))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    questions = [json.loads(line)["q"] for line in Path(args.questions).read_text().splitlines()]

    with FakeAnthropic() as server:
        settings = load_settings(
            db_path=args.db,
            collection=args.collection,
            api_key="bench",
            base_url=server.base_url,
            max_retries=0,
        )
        client = AtlasQuery(settings)
        client.warm()
        stats = client.stats()
        research(client, server, questions[0])  # warm: the first searches, the SDK's client
        client_ms: list[float] = []
        tool_ms: list[float] = []
        for run in range(args.runs):
            spent, tools = research(client, server, questions[run % len(questions)])
            client_ms += spent
            tool_ms += tools
    figures = {
        "index": f"{stats.chunks} chunks, {stats.documents} documents",
        "rounds": len(client_ms),
        "client_ms": {q: round(percentile(client_ms, p), 1) for q, p in _QUANTILES},
        "tool_ms": {q: round(percentile(tool_ms, p), 1) for q, p in _QUANTILES},
    }
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"index: {figures['index']}; {figures['rounds']} rounds over {args.runs} runs")
    for name in ("client_ms", "tool_ms"):
        values = figures[name]
        print(f"{name}: " + "  ".join(f"{q} {v:.1f}" for q, v in values.items()))


_QUANTILES = (("p50", 0.5), ("p95", 0.95), ("max", 1.0))


if __name__ == "__main__":
    main()
