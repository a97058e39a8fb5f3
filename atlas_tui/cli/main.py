"""`atlas-tui`: the TUI (no subcommand), its verbs (ingest, search, ask, models...) and `serve`
(the TUI in a browser)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from atlas_tui.cli.models import add_parser as add_models_parser
from atlas_tui.cli.models import cmd_models
from atlas_tui.cli.output import print_error, print_json, say
from atlas_tui.cli.serve import add_arguments as add_serve_arguments
from atlas_tui.cli.serve import run_serve
from atlas_tui.cli.sessions import cmd_export, cmd_sessions
from atlas_tui.config import (
    INGEST_ENGINES,
    SEARCH_MODES,
    Settings,
    allowed_range,
    coerce_setting,
    demo_corpus_path,
    load_settings,
)
from atlas_tui.errors import RAY_MISSING, AtlasError, ConfigError
from atlas_tui.safety import display_path, terminal_safe
from atlas_tui.text import shorten

SNIPPET_CHARS = 240  # of each passage `search` prints

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (usage stays in --help)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {terminal_safe(message)} (see `{self.prog} --help`)\n")


def _setting(name: str) -> Callable[[str], Any]:
    """An argparse type for a flag that stands for setting `name`, checked against its range."""

    def parse(text: str) -> Any:
        try:
            return coerce_setting(name, text)
        except ConfigError:
            raise argparse.ArgumentTypeError(
                f"must be {allowed_range(name)}, not {text!r}"
            ) from None

    parse.__name__ = name  # argparse names the type in some messages
    return parse


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
    parser.add_argument(
        "--limit", type=_setting("max_results"), help="number of passages (1 to 1000)"
    )
    parser.add_argument(
        "--min-score",
        type=_setting("min_relevance_score"),
        help="drop passages scoring below this (0 to 1)",
    )


class _Version(argparse.Action):
    """--version: one unwrapped line (argparse's own action wraps it at the terminal's width)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings, argparse.SUPPRESS, nargs=0, help="print the version and exit"
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        print(version_line())
        parser.exit()


def version_line() -> str:
    """`atlas-tui 0.1.0 (Python 3.11.7; anthropic 2.17.0, ...)`: what a bug report needs, read
    from the installed packages' metadata (nothing is imported)."""
    from importlib import metadata
    from platform import python_version

    from atlas_tui import __version__

    found = []
    for name in ("textual", "anthropic", "httpx2", "lancedb", "sentence-transformers", "torch"):
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} missing")
    return f"atlas-tui {__version__} (Python {python_version()}; {', '.join(found)})"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="atlas-tui",
        description="Keyboard-driven research over your own documents, with cited answers.",
    )
    _common(parser, sub=False)
    parser.add_argument("--version", action=_Version)
    parser.add_argument("--mode", choices=SEARCH_MODES, help="retrieval mode (default hybrid)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--resume", nargs="?", const="last", metavar="SESSION", help="open a research session"
    )
    which.add_argument("--new", action="store_true", help="start a new research session")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    ingest = sub.add_parser("ingest", help="index folders or files (incremental)")
    _common(ingest)
    ingest.add_argument("paths", nargs="*", help="folders or files to ingest")
    ingest.add_argument("--demo", action="store_true", help="ingest the bundled demo corpus")
    ingest.add_argument("--include", action="append", default=[], metavar="GLOB")
    ingest.add_argument("--exclude", action="append", default=[], metavar="GLOB")
    ingest.add_argument("--json", action="store_true", help="print a JSON summary")
    ingest.add_argument(
        "--engine",
        choices=INGEST_ENGINES,
        help="where chunking and embedding run: here (local) or on a Ray cluster (ray)",
    )
    ingest.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the Ray cluster to use (HOST:PORT or ray://HOST:10001; implies --engine ray)",
    )

    search = sub.add_parser("search", help="search the index without answering")
    _common(search)
    search.add_argument("query")
    _retrieval(search)
    search.add_argument("--json", action="store_true", help="print a JSON array")

    stats = sub.add_parser("stats", help="what the index holds")
    _common(stats)
    stats.add_argument("--json", action="store_true")

    check = sub.add_parser("check", help="verify the index; --repair drops what is damaged")
    _common(check)
    check.add_argument(
        "--repair", action="store_true", help="drop damaged documents (ingest re-adds them)"
    )
    check.add_argument("--json", action="store_true")

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

    add_models_parser(sub, _common)

    export = sub.add_parser("export", help="export a research session as Markdown or JSON")
    _common(export)
    export.add_argument("session", help="session id (or a unique prefix, or 'last')")
    export.add_argument("--format", choices=("md", "json"), default="md")
    export.add_argument("-o", "--output", help="write to this file instead of stdout")

    serve = sub.add_parser("serve", help="the TUI in a web browser (one app per browser session)")
    _common(serve)
    serve.add_argument(
        "--mode", choices=SEARCH_MODES, default=argparse.SUPPRESS, help="retrieval mode"
    )
    session = serve.add_mutually_exclusive_group()
    session.add_argument(
        "--resume",
        nargs="?",
        const="last",
        default=argparse.SUPPRESS,
        metavar="SESSION",
        help="every browser session opens this research session",
    )
    session.add_argument(
        "--new",
        action="store_true",
        default=argparse.SUPPRESS,
        help="every browser session starts a new research session",
    )
    add_serve_arguments(serve)
    return parser


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        config_file=Path(args.config) if args.config else None,
        db_path=args.db,
        collection=args.collection,
        embedding_model=args.embedding_model,
        search_mode=args.mode,
        ingest_engine=getattr(args, "engine", None)
        or ("ray" if getattr(args, "ray_address", None) else None),
        ray_address=getattr(args, "ray_address", None),
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
    from atlas_tui.cli.progress import format_report, ingest_with_progress

    paths = list(args.paths)
    if args.demo:
        paths.append(str(demo_corpus_path()))
    if not paths:
        print("atlas-tui ingest: name at least one folder or file (or --demo).", file=sys.stderr)
        return 2
    settings = _settings(args)
    if settings.ingest_engine == "ray" and importlib.util.find_spec("ray") is None:
        print(f"atlas-tui: {RAY_MISSING}", file=sys.stderr)
        return 2
    client = _client(settings)
    show = sys.stderr.isatty() and not args.json
    report = ingest_with_progress(
        client, paths, include=args.include, exclude=args.exclude, show=show
    )
    if args.json:
        print_json(report.to_dict())
    else:
        say(format_report(report))
    return 0 if report.ok else 1


# --- search


def cmd_search(args: argparse.Namespace) -> int:
    client = _client(_settings(args))
    passages = client.retrieve(args.query, **_knobs(args))
    if args.json:
        print_json([{"rank": p.rank, "text": p.text, **p.metadata()} for p in passages])
        return 0
    if not passages:
        print("No passages matched.")
        return 0
    for p in passages:
        where = display_path(p.source) + (f" p.{p.page}" if p.page else "")
        heading = f"  {p.heading}" if p.heading else ""
        say(f"[{p.rank}] {p.score:.3f}  {where}{heading}")
        say(f"    {shorten(p.text, SNIPPET_CHARS)}")
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    stats = _client(_settings(args)).stats()
    data = stats.to_dict()
    if args.json:
        print_json(data)
    else:
        width = max(len(k) for k in data)
        unknown = {"size_bytes": "not measured on an object store", "last_ingest": "never"}
        for key, value in data.items():
            shown = unknown.get(key, "none") if value is None else value
            say(f"{key.replace('_', ' '):<{width}}  {shown}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    """Verify the index (bookkeeping, full-text index, every chunk row); exit 1 if damaged."""
    from atlas_tui.cli.progress import say_waiting

    client = _client(_settings(args))
    health, done = client.knowledge.check(repair=args.repair, on_wait=say_waiting)
    if args.json:
        data = {"ok": health.clean, "problems": health.problems(), "repaired": done}
        print(json.dumps({**data, "documents": health.documents, "chunks": health.chunks}))
        return 0 if health.clean else 1
    for line in done:
        print(f"Repaired: {line}.")
    if health.clean:
        print(f"The index is sound: {health.documents} documents, {health.chunks} chunks.")
        if done:
            print("Run `atlas-tui ingest` on the same folders to re-add what was dropped.")
        return 0
    for problem in health.problems():
        say(f"atlas-tui check: {problem}.", err=True)
    if args.repair:
        print(
            "atlas-tui check: could not repair this; move the index aside and rebuild it "
            "with `atlas-tui ingest PATH`.",
            file=sys.stderr,
        )
    else:
        print(
            "atlas-tui check: repair with `atlas-tui check --repair`, then `atlas-tui ingest` "
            "the same folders again.",
            file=sys.stderr,
        )
    return 1


# --- ask


def cmd_ask(args: argparse.Namespace) -> int:
    from atlas_tui.cli.ask import run_ask

    settings = _settings(args)
    return run_ask(args, settings, _client(settings), _knobs(args))


# --- the TUI and main


def _resume(args: argparse.Namespace, settings: Settings) -> str | None:
    """The session `--resume` names, resolved: an unknown or ambiguous one fails here, before
    the terminal is taken over (or the server started)."""
    resume = args.resume
    if resume is not None and resume.strip().lower() != "last":
        from atlas_tui.sessions import SessionStore

        with SessionStore.from_settings(settings, read_only=True) as store:
            resume = store.resolve(resume)
    return resume


def cmd_tui(args: argparse.Namespace) -> int:
    settings = _settings(args)
    resume = _resume(args, settings)
    from atlas_tui.tui.app import run_app

    run_app(settings, resume=resume, new_session=args.new)
    return 0


COMMANDS = {
    "ingest": cmd_ingest,
    "search": cmd_search,
    "stats": cmd_stats,
    "check": cmd_check,
    "ask": cmd_ask,
    "sessions": lambda args: cmd_sessions(args, _settings(args)),
    "export": lambda args: cmd_export(args, _settings(args)),
    "models": lambda args: cmd_models(args, _settings(args)),
    "serve": lambda args: run_serve(args, _resume(args, settings := _settings(args)), settings),
}


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("LANCEDB_LOG", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    args = build_parser().parse_args(argv)
    handler = COMMANDS.get(args.command, cmd_tui)
    try:
        status = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return status
    except AtlasError as error:
        print_error(error)
        return 1
    except KeyboardInterrupt:
        print("\natlas-tui: interrupted.", file=sys.stderr)
        return 128 + signal.SIGINT
    except BrokenPipeError:
        # The reader went away (`atlas-tui sessions | head -3`): stop quietly, as `cat` would.
        # Python would complain again when it flushes stdout at exit, so stdout goes nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + signal.SIGPIPE
