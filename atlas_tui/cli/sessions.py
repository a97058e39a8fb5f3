"""`atlas-tui sessions` and `atlas-tui export`: the session database's readers.

Both open the database read-only, so they work while the TUI or `ask` writes to it. What they print
passes the terminal filter. `export -o` writes a Markdown file without any control sequence
(export.py), and JSON with every control and invisible character escaped (the same value).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from atlas_tui.cli.output import count, one_line, print_json, say, write_file
from atlas_tui.config import Settings
from atlas_tui.safety import display_path, json_safe


def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    from atlas_tui.sessions import SessionStore

    with SessionStore.from_settings(settings, read_only=True) as store:
        if args.search:
            rows = [asdict(hit) for hit in store.search(args.search)]
            lines = [
                f"{h['session_id']}  {_when(h['updated'])}  #{h['position']}  "
                f"{one_line(h['question'])}\n          {one_line(h['snippet'])}"
                for h in rows
            ]
        else:
            rows = [asdict(summary) for summary in store.list_sessions()]
            lines = [
                f"{r['id']}  {_when(r['updated'])}  {count(r['turns'], 'turn'):>9}  "
                f"{one_line(r['title'])}"
                for r in rows
            ]
    if args.json:
        print_json(rows)
    elif not rows:
        print("No research sessions match." if args.search else "No research sessions yet.")
    else:
        say("\n".join(lines))
    return 0


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M")


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from atlas_tui.sessions import SessionStore
    from atlas_tui.sessions.export import export_json, export_markdown

    with SessionStore.from_settings(settings, read_only=True) as store:
        session = store.load_session(args.session)
    text = export_markdown(session) if args.format == "md" else export_json(session)
    if args.output:
        write_file(Path(args.output), text if args.format == "md" else json_safe(text))
        print(f"Wrote {display_path(args.output)}", file=sys.stderr)
    elif args.format == "md":
        say(text, end="")  # for reading: escapes and invisible characters removed
    else:
        sys.stdout.write(json_safe(text))  # for programs: the same JSON value, escaped
    return 0
