"""Mutation testing with mutmut, one module at a time, in a throwaway copy of the work tree.

    python scripts/mutate.py                       # every module in [tool.mutmut.atlas.modules]
    python scripts/mutate.py atlas_tui/safety.py   # one module, with its fast tests from that table
    python scripts/mutate.py atlas_tui/safety.py tests/test_safety.py   # ... or with these tests

The copy keeps mutmut's `mutants/` folder out of the tree and lets several runs go at once. Each
module's run ends with mutmut's per-mutant results (survivors are what a test should kill, or what
`benchmarks/RESULTS-mutation.md` lists as equivalent) and a score line.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "mutants", "__pycache__", ".*_cache", "*.egg-info"
)


def modules() -> dict[str, list[str]]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["mutmut"]["atlas"]["modules"]


def configure(copy: Path, module: str, tests: list[str]) -> None:
    """Point mutmut at one module and its tests (the copy's pyproject only)."""
    pyproject = copy / "pyproject.toml"
    ours = re.compile(r"(?ms)^\[tool\.mutmut[^\n]*\n.*?(?=^\[(?!tool\.mutmut)|\Z)")
    text = ours.sub("", pyproject.read_text())
    listed = ", ".join(f'"{t}"' for t in tests)
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["atlas_tui"]\n'
        f'only_mutate = ["{module}"]\n'
        f"pytest_add_cli_args_test_selection = [{listed}]\n"
        'pytest_add_cli_args = ["-q", "-p", "no:cacheprovider", "-x"]\n'
        'also_copy = ["assets", "examples", "scripts"]\n'
        # fork isolation crashes or hangs in tests that open LanceDB (counted as kills)
        'process_isolation = "forkserver"\n'
        "timeout_multiplier = 20\n"
    )
    pyproject.write_text(text)


def run(module: str, tests: list[str]) -> int:
    mutmut = Path(sys.executable).parent / "mutmut"
    with tempfile.TemporaryDirectory(prefix="atlas-mutate-") as tmp:
        copy = Path(tmp) / "tree"
        shutil.copytree(ROOT, copy, ignore=SKIP)
        configure(copy, module, tests)
        print(f"== {module}  (tests: {' '.join(tests)})", flush=True)
        subprocess.run([str(mutmut), "run"], cwd=copy, check=False)
        results = subprocess.run(
            [str(mutmut), "results", "--all", "true"],
            cwd=copy, capture_output=True, text=True, check=False,
        )  # fmt: skip
        lines = [line for line in results.stdout.splitlines() if ":" in line]
        print("\n".join(lines))
        verdicts = [line.rsplit(":", 1)[1].strip() for line in lines]
        killed = verdicts.count("killed") + verdicts.count("timeout")
        survived, untested = verdicts.count("survived"), verdicts.count("no tests")
        print(f"== {module}: {killed} of {len(verdicts)} mutants killed; "
              f"{survived} survived, {untested} untested")  # fmt: skip
        diff = subprocess.run(
            [str(mutmut), "show", "all"], cwd=copy, capture_output=True, text=True, check=False
        )
        if diff.stdout.strip():
            print(diff.stdout)
    return 0


def main(argv: list[str]) -> int:
    table = modules()
    if not argv:
        for module, tests in table.items():
            run(module, tests)
        return 0
    module, tests = argv[0], argv[1:] or table.get(argv[0], [])
    if not tests:
        print(f"name the tests for {module} (it has none in [tool.mutmut.atlas.modules])")
        return 2
    return run(module, tests)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
