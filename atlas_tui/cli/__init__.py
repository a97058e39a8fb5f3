"""The command line: `atlas-tui` and its verbs.

`main` parses the arguments and runs a verb (`main.py`); `ask` answers one question on the
terminal, `sessions` lists and exports research sessions, `models` lists what answers, `serve` runs
the TUI in a browser, `progress` draws an ingest's progress, and `output` is how they all print.
"""

from atlas_tui.cli.main import main

__all__ = ["main"]
