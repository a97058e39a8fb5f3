"""docs/architecture.md stays true to the code, and the tests stay apart from each other.

The page names every module under atlas_tui/ (by its path there, in backticks; a package by its
folder, `tui/widgets/`), and names nothing that is gone. A test module imports helpers, fixtures
and fakes, never another test module (whose tests it would run again under its own name).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "atlas_tui"
PAGE = ROOT / "docs" / "architecture.md"
NAMED = re.compile(r"`([\w/]+(?:\.py|/))`")


def modules() -> set[str]:
    """Every module, as the page names it: `cli/ask.py`; a package's __init__ as `cli/`."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE).as_posix()
        if path.name == "__init__.py" and path.parent != PACKAGE:
            relative = relative.removesuffix("__init__.py")
        names.add(relative)
    return names


def test_the_architecture_page_names_every_module_and_only_real_ones() -> None:
    outside = ("atlas_tui/", "tests/", "docs/", "benchmarks/")  # paths of the repository
    named = {
        n for n in NAMED.findall(PAGE.read_text(encoding="utf-8")) if not n.startswith(outside)
    }
    missing = sorted(modules() - named)
    assert missing == [], f"docs/architecture.md does not name these modules: {missing}"
    gone = sorted(name for name in named if not (PACKAGE / name).exists())
    assert gone == [], f"docs/architecture.md names modules that do not exist: {gone}"


def test_no_test_module_imports_another() -> None:
    tests = ROOT / "tests"
    found = []
    for path in tests.rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                imported = node.module.rsplit(".", 1)[-1]
                if node.module.startswith("tests") and imported.startswith("test_"):
                    found.append(f"{path.relative_to(ROOT)} imports {node.module}")
    assert found == []
