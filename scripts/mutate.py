"""Mutation testing with mutmut, one module at a time, in a throwaway copy of the work tree.

    python scripts/mutate.py                        # every module in [tool.mutmut.atlas.modules]
    python scripts/mutate.py atlas_tui/safety.py    # one module (or several), with its fast tests
    python scripts/mutate.py --changed BASE         # modules whose code or tests changed since BASE
    python scripts/mutate.py --before MODULE ...    # record the run as the module's "before"
    python scripts/mutate.py --tests T ... MODULE   # other tests (not recorded)
    python scripts/mutate.py --only 'x_tail*' MODULE     # some mutants only (not recorded)
    python scripts/mutate.py --table                # rewrite the results table from the records
    python scripts/mutate.py --check                # every module of the core is in the table

`make mutate` (MODULE=... for one) and `make mutate-changed BASE=...` run it under `nice -n 19`:
a tool, not a CI gate. The copy keeps mutmut's `mutants/` folder out of the tree. Each run prints
every surviving mutant's diff (what a test should kill, or what the module's page lists as
equivalent), records its verdicts and run time in `benchmarks/mutation/runs/MODULE.json` and
rewrites the table in `benchmarks/RESULTS-mutation.md`. The score is killed / (all - equivalent):
equivalent survivors are the ones listed on the module's page, `benchmarks/mutation/MODULE.md`,
in its "## Equivalent" section, as bullets whose first line names the mutants, before any ": ":

    - `Splitter.tail` 12, 14 and `strip_span` 7: why no caller can tell them apart.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from argparse import RawTextHelpFormatter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGES = ROOT / "benchmarks" / "mutation"
RUNS = PAGES / "runs"
RESULTS = ROOT / "benchmarks" / "RESULTS-mutation.md"
SKIP = shutil.ignore_patterns(
    ".git", ".venv", ".venv-*", "mutants", "__pycache__", ".*_cache", "*.egg-info"
)
# the core whose every module must be in the table (a module without a function has no mutants)
SCOPE = (
    "atlas_tui/knowledge/*.py",
    "atlas_tui/generation/*.py",
    "atlas_tui/sessions/*.py",
    "atlas_tui/conversation/*.py",
    *(
        f"atlas_tui/{name}.py"
        for name in ("query", "config", "safety", "endpoints", "usage", "text")
    ),
    "atlas_tui/cli/serve.py",
    "atlas_tui/web/*.py",
)
KILLED = ("killed", "timeout", "caught by type check")  # a timeout: the tests noticed a hang
TABLE_NAME = "[tool.mutmut.atlas.modules]"
BEFORE = "2486e6e"  # the start of issue 24: the 'before' runs use the tests of this commit
TABLE_START = "<!-- mutation table: written by scripts/mutate.py from benchmarks/mutation/runs -->"
TABLE_END = "<!-- end of mutation table -->"


def settings() -> dict[str, Any]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return data["tool"]["mutmut"]["atlas"]


def modules() -> dict[str, list[str]]:
    return settings()["modules"]


def bar(module: str) -> float:
    table = settings()
    return float(table.get("bars", {}).get(module, table["bar"]))


def slug(module: str) -> str:
    """`atlas_tui/knowledge/splitting.py` -> `knowledge-splitting` (records and pages)."""
    return module.removeprefix("atlas_tui/").removesuffix(".py").replace("/", "-")


def unlisted() -> list[str]:
    """Modules of the core with at least one function that the table leaves out."""
    listed = modules()
    found = sorted({str(p.relative_to(ROOT)) for g in SCOPE for p in ROOT.glob(g)})
    has_code = re.compile(r"^\s*(async\s+)?def ", re.M)
    return [m for m in found if m not in listed and has_code.search((ROOT / m).read_text())]


def configure(copy: Path, module: str, tests: list[str], deselect: list[str]) -> None:
    """Point mutmut at one module and its tests (the copy's pyproject only)."""
    pyproject = copy / "pyproject.toml"
    ours = re.compile(r"(?ms)^\[tool\.mutmut[^\n]*\n.*?(?=^\[(?!tool\.mutmut)|\Z)")
    text = ours.sub("", pyproject.read_text())
    listed = ", ".join(f'"{t}"' for t in tests)
    options = ", ".join(f'"{o}"' for o in ["-q", "-p", "no:cacheprovider", "-x", *deselect])
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["atlas_tui"]\n'
        f'only_mutate = ["{module}"]\n'
        f"pytest_add_cli_args_test_selection = [{listed}]\n"
        f"pytest_add_cli_args = [{options}]\n"
        'also_copy = ["assets", "examples", "scripts"]\n'
        # fork isolation crashes or hangs in tests that open LanceDB (counted as kills)
        'process_isolation = "forkserver"\n'
        # 2 cores shared with other work: no false timeouts
        "timeout_multiplier = 20\n"
    )
    pyproject.write_text(text)


def mutmut(copy: Path, *args: str, capture: bool = True) -> str:
    command = [str(Path(sys.executable).parent / "mutmut"), *args]
    done = subprocess.run(command, cwd=copy, capture_output=capture, text=True, check=False)
    return done.stdout or ""


def run(module: str, tests: list[str], args: argparse.Namespace) -> dict[str, Any]:
    """Mutate `module` of `args.tree` against `tests`: each mutant's verdict, the run's time."""
    only, workers, tree = args.only, args.workers, args.tree.resolve()
    at = commit(tree)  # the tree as copied (it may move on while the mutants run)
    with tempfile.TemporaryDirectory(prefix="atlas-mutate-") as tmp:
        copy = Path(tmp) / "tree"
        shutil.copytree(tree, copy, ignore=SKIP)
        configure(copy, module, tests, [f"--deselect={test}" for test in args.deselect])
        print(f"== {module}  (tests: {' '.join(tests)})", flush=True)
        started, clock = datetime.now(UTC), time.monotonic()
        mutmut(copy, "run", "--max-children", str(workers), *only, capture=False)
        seconds = time.monotonic() - clock
        verdicts = {}
        for line in mutmut(copy, "results", "--all", "true").splitlines():
            name, _, verdict = line.strip().rpartition(": ")
            if name and (not only or any(fnmatch.fnmatch(name, f"*{p}") for p in only)):
                verdicts[name] = verdict
        for name, verdict in verdicts.items():
            if verdict not in KILLED:
                print(mutmut(copy, "show", name))
    return {
        "module": module,
        "tests": tests,
        "deselected": args.deselect,
        "commit": at,
        "started": started.isoformat(timespec="seconds"),
        "seconds": round(seconds),
        "workers": workers,
        "mutants": len(verdicts),
        "killed": sum(v in KILLED for v in verdicts.values()),
        "not_killed": {
            n: verdicts[n] for n in sorted(verdicts, key=numbered) if verdicts[n] not in KILLED
        },
    }


def numbered(name: str) -> tuple[str, int]:
    function, _, number = name.rpartition("_")
    return function, int(number) if number.isdigit() else 0


def commit(tree: Path) -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=tree, capture_output=True, text=True, check=False
        ).stdout.strip()

    # uncommitted changes to what a run depends on (records and pages under benchmarks/ aside)
    dirty = "+changes" if git("status", "--porcelain", "--", "atlas_tui", "tests") else ""
    return git("rev-parse", "--short", "HEAD") + dirty


def unchanged_since(tree_commit: str, module: str, tests: list[str]) -> bool:
    """Are the module, its tests and the tests' helpers here as they were at `tree_commit`? Then
    a run there stands for this checkout too."""
    if tree_commit.endswith("+changes"):
        return False
    if any(not (ROOT / path).exists() for path in [module, *tests]):
        return False
    paths = [module, *tests, *helpers_of(tests)]
    done = subprocess.run(
        ["git", "diff", "--quiet", tree_commit, "--", *paths], cwd=ROOT, check=False
    )
    return done.returncode == 0


def helpers_of(tests: list[str]) -> list[str]:
    """The files under tests/ that `tests` run with besides themselves: the conftest.py files on
    their path, and every module of tests/ they import (`from tests.x import`, `import tests.x`),
    followed through the helpers' own imports."""
    found: set[str] = set()
    todo = [ROOT / test for test in tests]
    for test in tests:
        for folder in Path(test).parents:
            if (ROOT / folder / "conftest.py").exists():
                todo.append(ROOT / folder / "conftest.py")
    imports = re.compile(r"(?m)^\s*(?:from|import)\s+(tests(?:\.\w+)+)")
    while todo:
        path = todo.pop()
        name = str(path.relative_to(ROOT))
        if path != ROOT / name or not path.exists() or name in found:
            continue
        found.add(name)
        for dotted in imports.findall(path.read_text(encoding="utf-8")):
            base = ROOT / Path(*dotted.split("."))
            todo += [p for p in (base.with_suffix(".py"), base / "__init__.py") if p.exists()]
    return sorted(found - set(tests))


def untouched(module: str, tests: list[str]) -> bool:
    """Are the module and its listed tests as they were at the 'before' commit? Then its 'after'
    run is its 'before' too (the tests' shared helpers aside: see unchanged_since)."""
    done = subprocess.run(
        ["git", "diff", "--quiet", BEFORE, "--", module, *tests], cwd=ROOT, check=False
    )
    return done.returncode == 0 and all((ROOT / path).exists() for path in [module, *tests])


def record(result: dict[str, Any], which: str) -> None:
    path = RUNS / f"{slug(result['module'])}.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[which] = result
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(runs, indent=1, ensure_ascii=False) + "\n")


def equivalent(module: str) -> set[str]:
    """Mutant names the module's page lists as equivalent ("- `Class.method` 3, 7: why")."""
    page = PAGES / f"{slug(module)}.md"
    if not page.exists():
        return set()
    text = page.read_text(encoding="utf-8")
    section = re.search(r"(?ms)^## Equivalent.*?(?=^## |\Z)", text)
    prefix = module.removesuffix(".py").replace("/", ".")
    names: set[str] = set()
    for bullet in re.findall(r"(?m)^- (.*)$", section.group(0) if section else ""):
        head = bullet.split(": ", 1)[0]  # the mutants; after ": ", why
        for function, numbers in re.findall(r"`([\w.]+)` (\d+(?:, \d+)*)", head):
            owner, _, method = function.rpartition(".")
            mangled = f"xǁ{owner}ǁ{method}" if owner else f"x_{function}"
            for number in re.findall(r"\d+", numbers):
                names.add(f"{prefix}.{mangled}__mutmut_{number}")
    return names


def duration(seconds: int) -> str:
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def score(killed: int, of: int) -> str:
    return f"{killed} / {of} ({100 * killed / of:.1f}%)" if of else "no mutants"


def row(module: str, tests: list[str]) -> tuple[str, list[str]]:
    path = RUNS / f"{slug(module)}.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    before, after = runs.get("before"), runs.get("after")
    cells = [f"`{module.removeprefix('atlas_tui/')}`", ", ".join(Path(t).name for t in tests)]
    if before:
        cells.append(f"{score(before['killed'], before['mutants'])}, {duration(before['seconds'])}")
    elif after and untouched(module, tests):
        cells.append(f"= after (no test changed since {BEFORE})")
    else:
        cells.append("not run")
    warnings: list[str] = []
    if after:
        listed = equivalent(module)
        survivors = after["not_killed"]
        equal = listed & set(survivors)
        stale = sorted(listed - set(survivors))
        if stale:
            warnings.append(f"{module}: listed as equivalent but not surviving: {', '.join(stale)}")
        of = after["mutants"] - len(equal)
        share = after["killed"] / of if of else 1.0
        verdict = "meets" if share >= bar(module) else "**below**"
        cells += [
            score(after["killed"], after["mutants"]),
            str(len(equal)),
            f"{score(after['killed'], of)}: {verdict} {bar(module):.0%}",
            str(len(survivors) - len(equal)),
            duration(after["seconds"]),
            after["commit"],
        ]
    else:
        cells += [settings().get("elsewhere", {}).get(module, "not run"), "", "", "", "", ""]
    page = PAGES / f"{slug(module)}.md"
    cells.append(f"[{slug(module)}](mutation/{page.name})" if page.exists() else "")
    return "| " + " | ".join(cells) + " |", warnings


def write_table() -> list[str]:
    header = (
        "| module | tests | before: killed / all, run time | after: killed / all | equivalent "
        "| after: killed / non-equivalent | not killed, not equivalent | run time | commit "
        "| page |\n" + "|---" * 10 + "|"
    )
    lines, warnings = [header], []
    for module, tests in modules().items():
        line, more = row(module, tests)
        lines.append(line)
        warnings += more
    text = RESULTS.read_text(encoding="utf-8")
    block = f"{TABLE_START}\n" + "\n".join(lines) + f"\n{TABLE_END}"
    pattern = re.compile(re.escape(TABLE_START) + r".*?" + re.escape(TABLE_END), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")
    return warnings


def changed(base: str) -> list[str]:
    """The listed modules whose source or tests changed since `base` (committed or not)."""

    def git(*args: str) -> list[str]:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
        return done.stdout.split()

    paths = {*git("diff", "--name-only", base), *git("ls-files", "--others", "--exclude-standard")}
    picked = []
    for module, tests in modules().items():
        why = [p for p in sorted(paths) if p == module or any(p.startswith(t) for t in tests)]
        if why:
            print(f"{module}: {', '.join(why)} changed")
            picked.append(module)
    return picked


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=RawTextHelpFormatter)
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: every listed one)")
    parser.add_argument("--changed", metavar="BASE", help="only modules changed since this commit")
    parser.add_argument("--before", action="store_true", help="record as the 'before' run")
    parser.add_argument("--tests", nargs="+", help="these tests instead of the listed ones")
    parser.add_argument("--only", nargs="+", default=[], help="these mutants only (mutmut globs)")
    parser.add_argument("--workers", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument(
        "--tree",
        type=Path,
        default=ROOT,
        help="mutate this checkout (a clone at the 'before' commit) with this one's module table;\n"
        "the records and the results table are written here",
    )
    parser.add_argument("--deselect", nargs="+", default=[], help="leave out these tests (ids)")
    parser.add_argument("--table", action="store_true", help="only rewrite the results table")
    parser.add_argument("--check", action="store_true", help="fail if a core module is unlisted")
    args = parser.parse_args(argv)
    missing = unlisted()
    if missing:
        print(f"not in {TABLE_NAME} of pyproject.toml: {', '.join(missing)}")
        if args.check:
            return 1
    if args.check or args.table:
        return print_warnings(write_table()) if args.table else 0
    table = modules()
    picked = args.modules or (changed(args.changed) if args.changed else list(table))
    for module in picked:
        tests = args.tests or table.get(module)
        if tests and args.tree.resolve() != ROOT:  # an older checkout may lack newer test files
            tests = [test for test in tests if (args.tree / test).exists()]
        if not tests:
            print(f"name the tests for {module}: --tests (it has none in {TABLE_NAME})")
            return 2
        result = run(module, tests, args)
        killed, of, left = result["killed"], result["mutants"], len(result["not_killed"])
        print(f"== {module}: {killed} of {of} killed in {duration(result['seconds'])}; {left} not")
        if args.tests or args.only:
            continue  # a partial or ad hoc run is not the module's record
        record(result, "before" if args.before else "after")
        same_tests = result["tests"] == table.get(module)
        if args.before and same_tests and unchanged_since(result["commit"], module, tests):
            record({**result, "commit": commit(ROOT), "same_as_before": True}, "after")
        print_warnings(write_table())
    return 0


def print_warnings(warnings: list[str]) -> int:
    for warning in warnings:
        print(warning)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
