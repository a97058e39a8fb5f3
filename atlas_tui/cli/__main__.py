"""`python -m atlas_tui.cli`: what the `atlas-tui` script runs (textual-serve starts the TUI so)."""

import sys

from atlas_tui.cli.main import main

sys.exit(main())
