"""The dependency lock: `requirements.lock` holds the exact version of every package the tests ran
with (dev tools included), and `make install` installs under it.

    python scripts/lock.py write --torch torch==2.13.0   # `make lock`: a clean venv, the newest
                                                         # releases pyproject allows, frozen
    python scripts/lock.py compare VENV_PYTHON           # what that venv has that the lock has not

`write` resolves in a throwaway venv (never the one you work in), so the lock is what a fresh
machine gets, and ends with what changed against the lock it replaces.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PROJECT = "atlas-tui"
HEADER = """\
# The exact versions `make install` (and so `make run`, `make test` and CI) installs: every package
# of a fresh venv with `pip install torch==TORCH` then `pip install -e '.[dev]'`. Used as pip
# constraints (-c), so a package pyproject.toml no longer asks for is not installed.
# Regenerate with `make lock` (after `make test-latest` passes); never edit by hand.
# Made on {day} with Python {python} on {platform}.
"""
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lines: list[str]) -> dict[str, str]:
    """{normalised name: version} from `name==version` lines (comments and the rest skipped)."""
    pins = {}
    for line in lines:
        match = _PIN.match(line.strip())
        if match:
            pins[normalise(match.group(1))] = match.group(2)
    return pins


def frozen(python: Path) -> dict[str, str]:
    """What a venv has installed, but the project itself. A local build label is dropped
    (torch 2.13.0+cpu is pinned as 2.13.0, which the CPU build satisfies and PyPI has too)."""
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--exclude-editable"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = read_pins(out.splitlines())
    pins.pop(PROJECT, None)
    return {name: version.split("+", 1)[0] for name, version in pins.items()}


def changes(old: dict[str, str], new: dict[str, str]) -> list[str]:
    lines = []
    for name in sorted(old.keys() | new.keys()):
        before, after = old.get(name), new.get(name)
        if before == after:
            continue
        if before is None:
            lines.append(f"  + {name} {after}")
        elif after is None:
            lines.append(f"  - {name} {before}")
        else:
            lines.append(f"  ~ {name} {before} -> {after}")
    return lines


def write(torch: str) -> int:
    with tempfile.TemporaryDirectory(prefix="atlas-lock-") as tmp:
        venv = Path(tmp) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        python = venv / "bin" / "python"
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        print(f"Resolving in a clean venv: {torch}, then -e '.[dev]' (a few minutes)", flush=True)
        subprocess.run([*pip, torch], check=True)
        subprocess.run([*pip, "-e", f"{ROOT}[dev]"], check=True)
        pins = frozen(python)
        version = subprocess.run(
            [str(python), "-c", "import platform; print(platform.python_version())"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    old = read_pins(LOCK.read_text().splitlines()) if LOCK.exists() else {}
    header = HEADER.replace("TORCH", torch.split("==")[-1]).format(
        day=date.today().isoformat(), python=version, platform=sys.platform
    )
    LOCK.write_text(header + "".join(f"{name}=={pins[name]}\n" for name in sorted(pins)))
    said = changes(old, pins)
    print(
        f"Wrote {LOCK.name}: {len(pins)} packages; "
        + (f"{len(said)} changed:" if said else "no change.")
    )
    print("\n".join(said))
    return 0


def compare(python: Path) -> int:
    """Print the packages whose version in that venv differs from the lock (always exit 0)."""
    said = changes(read_pins(LOCK.read_text().splitlines()), frozen(python))
    print(
        "Against requirements.lock: " + ("the same versions." if not said else "lock -> this venv:")
    )
    print("\n".join(said))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    verbs = parser.add_subparsers(dest="verb", required=True)
    make = verbs.add_parser("write", help="resolve in a clean venv and write requirements.lock")
    make.add_argument("--torch", default="torch==2.13.0", help="installed first (the CPU build)")
    against = verbs.add_parser("compare", help="a venv's versions against the lock")
    against.add_argument("python", type=Path, help="that venv's python")
    args = parser.parse_args(argv)
    return write(args.torch) if args.verb == "write" else compare(args.python)


if __name__ == "__main__":
    sys.exit(main())
