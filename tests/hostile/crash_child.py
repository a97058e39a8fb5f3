"""Run one ingest and die (os._exit, as a SIGKILL would) just before its Nth write to LanceDB.

    python -m tests.hostile.crash_child DB ROOT N     # N = 0: never die; print the write count

Every call that writes (table creation, add, delete, update, merge-insert, index build, optimize)
counts as one write, so N = 1 .. writes + 1 covers the moment before each write and after the
last. Used by test_crash_points.py.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from typing import Any

KILLED = 77


def hook(kill_at: int) -> Callable[[], int]:
    from lancedb.db import LanceDBConnection
    from lancedb.merge import LanceMergeInsertBuilder
    from lancedb.table import LanceTable

    count = 0

    def counted(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(*args: Any, **kwargs: Any) -> Any:
            nonlocal count
            count += 1
            if count == kill_at:
                os._exit(KILLED)
            return original(*args, **kwargs)

        return write

    for owner, names in (
        (LanceTable, ("add", "delete", "update", "create_index", "optimize")),
        (LanceMergeInsertBuilder, ("execute",)),
        (LanceDBConnection, ("create_table",)),
    ):
        for name in names:
            setattr(owner, name, counted(getattr(owner, name)))
    return lambda: count


def main(db: str, root: str, kill_at: int) -> int:
    from atlas_tui.config import Settings
    from atlas_tui.knowledge.base import KnowledgeBase

    writes = hook(kill_at)
    report = KnowledgeBase(Settings(db_path=db)).ingest([root])
    print(json.dumps({"writes": writes(), "ok": report.ok}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
