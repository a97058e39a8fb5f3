"""`atlas-tui`: the TUI (no subcommand) and the ingest / search / stats / ask subcommands."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas_tui.config import SEARCH_MODES, Settings, demo_corpus_path, load_settings
from atlas_tui.errors import AtlasError
from atlas_tui.safety import terminal_safe

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery


def _common(parser: argparse.ArgumentParser, *, sub: bool = True) -> None:
    # Subcommands accept the same options; SUPPRESS keeps one given before the subcommand.
    default = argparse.SUPPRESS if sub else None
    parser.add_argument("--db", default=default, help="index: a folder or an object-store URI")
    parser.add_argument("--collection", default=default, help="table (atlas_knowledge_base)")
    parser.add_argument("--embedding-model", default=default, help="model name or local path")
    parser.add_argument("--config", default=default, help="TOML config file")


def _retrieval(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=SEARCH_MODES, default=argparse.SUPPRESS, help="retrieval mode"
    )
    parser.add_argument("--source", help="only passages whose source path matches this glob")
    parser.add_argument("--limit", type=int, help="number of passages")
    parser.add_argument("--min-score", type=float, help="drop passages scoring below this")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="atlas-tui",
        description="Keyboard-driven research over your own documents, with cited answers.",
    )
    _common(parser, sub=False)
    parser.add_argument("--mode", choices=SEARCH_MODES, help="retrieval mode (default hybrid)")
    parser.add_argument(
        "--resume", nargs="?", const="last", metavar="SESSION", help="open a research session"
    )
    parser.add_argument("--new", action="store_true", help="start a new research session")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="index folders or files (incremental)")
    _common(ingest)
    ingest.add_argument("paths", nargs="*", help="folders or files to ingest")
    ingest.add_argument("--demo", action="store_true", help="ingest the bundled demo corpus")
    ingest.add_argument("--include", action="append", default=[], metavar="GLOB")
    ingest.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    ingest.add_argument("--json", action="store_true", help="print a JSON summary")

    search = sub.add_parser("search", help="search the index without answering")
    _common(search)
    search.add_argument("query")
    _retrieval(search)
    search.add_argument("--json", action="store_true", help="print a JSON array")

    stats = sub.add_parser("stats", help="what the index holds")
    _common(stats)
    stats.add_argument("--json", action="store_true")

    ask = sub.add_parser("ask", help="answer a question with cited sources, streamed")
    _common(ask)
    ask.add_argument("question")
    _retrieval(ask)
    ask.add_argument("--json", action="store_true", help="one JSON object per event")
    ask.add_argument(
        "--session", metavar="SESSION", help="continue a research session ('last' for the latest)"
    )
    ask.add_argument("--no-save", action="store_true", help="do not record a research session")

    sessions = sub.add_parser("sessions", help="list research sessions")
    _common(sessions)
    sessions.add_argument("--search", metavar="TEXT", help="full-text search questions and answers")
    sessions.add_argument("--json", action="store_true")

    export = sub.add_parser("export", help="export a research session as Markdown or JSON")
    _common(export)
    export.add_argument("session", help="session id (or a unique prefix, or 'last')")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", help="write to this file instead of stdout")
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config_file=Path(args.config) if args.config else None,
        db_path=args.db,
        collection=args.collection,
        embedding_model=args.embedding_model,
        search_mode=args.mode,
    )


def _client(settings: Settings) -> AtlasQuery:
    from atlas_tui.query import AtlasQuery

    return AtlasQuery(settings)


def _knobs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "mode": None,  # already in the settings
        "source": args.source,
        "max_results": args.limit,
        "min_relevance_score": args.min_score,
    }


# --- ingest


def cmd_ingest(args: argparse.Namespace) -> int:
    from atlas_tui.progress import format_report, ingest_with_progress

    paths = list(args.paths)
    if args.demo:
        paths.append(str(demo_corpus_path()))
    if not paths:
        print("atlas-tui ingest: name at least one folder or file (or --demo).", file=sys.stderr)
        return 2
    client = _client(_settings(args))
    show = sys.stderr.isatty() and not args.json
    report = ingest_with_progress(
        client, paths, include=args.include, exclude=args.exclude, show=show
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(format_report(report))
    return 0 if report.ok else 1


# --- search


def cmd_search(args: argparse.Namespace) -> int:
    client = _client(_settings(args))
    passages = client.retrieve(args.query, **_knobs(args))
    if args.json:
        rows = [{"rank": p.rank, "text": p.text, **p.metadata()} for p in passages]
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    if not passages:
        print("No passages matched.")
        return 0
    for p in passages:
        where = f"{p.source}" + (f" p.{p.page}" if p.page else "")
        heading = f"  {p.heading}" if p.heading else ""
        print(terminal_safe(f"[{p.rank}] {p.score:.3f}  {where}{heading}"))
        snippet = " ".join(p.text.split())
        print(terminal_safe(f"    {snippet[:240]}{'…' if len(snippet) > 240 else ''}"))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _client(_settings(args)).stats()
    data = stats.to_dict()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        width = max(len(k) for k in data)
        for key, value in data.items():
            print(f"{key.replace('_', ' '):<{width}}  {value}")
    return 0


# --- ask


def cmd_ask(args: argparse.Namespace) -> int:
    from atlas_tui.ask import run_ask

    settings = _settings(args)
    return run_ask(args, settings, _client(settings), _knobs(args))


# --- sessions


def cmd_sessions(args: argparse.Namespace) -> int:
    from atlas_tui.sessions import SessionStore

    with SessionStore.from_settings(_settings(args)) as store:
        if args.search:
            rows = [asdict(hit) for hit in store.search(args.search)]
            lines = [
                f"{h['session_id']}  {_when(h['updated'])}  #{h['position']}  {h['question']}\n"
                f"          {h['snippet']}"
                for h in rows
            ]
        else:
            rows = [asdict(summary) for summary in store.list_sessions()]
            lines = [
                f"{r['id']}  {_when(r['updated'])}  {r['turns']:>3} turns  {r['title']}"
                for r in rows
            ]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
    elif not rows:
        print("No research sessions match." if args.search else "No research sessions yet.")
    else:
        print("\n".join(terminal_safe(line) for line in lines))
    return 0


def _when(timestamp: float) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def cmd_export(args: argparse.Namespace) -> int:
    from atlas_tui.export import export_json, export_markdown
    from atlas_tui.sessions import SessionStore

    with SessionStore.from_settings(_settings(args)) as store:
        session = store.load_session(args.session)
    text = export_markdown(session) if args.format == "md" else export_json(session)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# --- the TUI and main


def cmd_tui(args: argparse.Namespace) -> int:
    from atlas_tui.tui.app import run_app

    run_app(_settings(args), resume=args.resume, new_session=args.new)
    return 0


def _print_error(error: AtlasError) -> None:
    print(f"atlas-tui: {terminal_safe(error.describe())}", file=sys.stderr)


COMMANDS = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "stats": cmd_stats,
    "ask": cmd_ask,
    "sessions": cmd_sessions,
    "export": cmd_export,
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LANCEDB_LOG", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    handler = COMMANDS.get(args.command, cmd_tui)
    try:
        return handler(args)
    except AtlasError as error:
        _print_error(error)
        return 1
    except KeyboardInterrupt:
        print("\natlas-tui: interrupted.", file=sys.stderr)
        return 128 + signal.SIGINT


if __name__ == "__main__":
    sys.exit(main())
