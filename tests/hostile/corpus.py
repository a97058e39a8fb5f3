"""A corpus of hostile inputs, written on the fly: what a hostile user (or an accident) puts in a
folder that gets ingested. Tests run the real CLI, library and TUI over it.

Every entry of `ESCAPES` is a way to drive a terminal from text; each one appears in a document's
text and in a file name. `hostile_corpus` also makes the file-system traps: a FIFO and a symlink to
/dev/zero named .gitignore, a FIFO document, a symlink to a character device, folders nested
1,100 deep, a token-less blob, names with newlines, bidi overrides and zero-width characters.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# (name, sequence): every family of terminal control a document could carry
ESCAPES: dict[str, str] = {
    "osc52-clipboard": "\x1b]52;c;SEFDS0VECg==\x1b\\",
    "osc2-title": "\x1b]2;TITLEPWNED\x07",
    "osc8-hyperlink": "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "csi-clear": "\x1b[2J\x1b[H",
    "csi-color": "\x1b[31;1mRED\x1b[0m",
    "csi-cursor-up": "\x1b[3A",
    "dcs": "\x1bP1$qm\x1b\\",
    "apc": "\x1b_hidden\x1b\\",
    "c1-csi": "\x9b2J",
    "c1-osc": "\x9d2;C1TITLE\x9c",
    "bell": "\x07",
    "backspace": "ab\x08\x08",
    "carriage-return": "fake line\roverwritten",
    "esc-reset": "\x1bc",
}
BIDI = "\u202eevil\u202c \u2066iso\u2069 \u202aembed\u202c"  # overrides, isolates, embeddings
ZERO_WIDTH = "pass\u200bword\u200c\u200d\u2060\ufeff"
MARKER = "quokka"  # every hostile document mentions it, so one search finds them all
DEEP_LEVELS = 1100


@dataclass(slots=True)
class HostileCorpus:
    root: Path
    documents: list[Path] = field(default_factory=list)  # files that should be indexed
    traps: dict[str, Path] = field(default_factory=dict)  # what must be skipped, by kind
    deep_file: Path | None = None


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def escape_document(name: str, sequence: str) -> str:
    return (
        f"# Report {name}\n\nThe {MARKER} keeper writes notes {sequence} about the tide "
        f"and {BIDI} and {ZERO_WIDTH} while the lamp burns.\n"
    )


def hostile_corpus(
    root: Path, *, deep: bool = True, blob_bytes: int = 200_000, traps: bool = True
) -> HostileCorpus:
    """Write the hostile corpus under `root` (created); return what is where."""
    corpus = HostileCorpus(root)
    root.mkdir(parents=True, exist_ok=True)
    for name, sequence in ESCAPES.items():
        corpus.documents.append(_write(root / f"{name}.md", escape_document(name, sequence)))
        # the same sequence in a file name (a name cannot hold "/" or NUL)
        odd = f"name-{name}-{sequence}.md".replace("/", "_").replace("\x00", "")
        corpus.documents.append(_write(root / "names" / odd, escape_document(name, "")))
    corpus.documents.append(
        _write(root / "names" / "line one\n[1] 0.999  fake.md.md", escape_document("nl", ""))
    )
    corpus.documents.append(_write(root / "names" / f"bidi{BIDI}.md", escape_document("bidi", "")))
    corpus.documents.append(
        _write(root / "names" / f"zero{ZERO_WIDTH}.md", escape_document("zw", ""))
    )
    # a token-less blob: WordPiece would read it as one [UNK]
    corpus.documents.append(_write(root / "blob.txt", "Zx9" * (blob_bytes // 3)))
    if traps:
        fifo_dir = root / "fifo-ignore"
        fifo_dir.mkdir()
        os.mkfifo(fifo_dir / ".gitignore")
        corpus.documents.append(_write(fifo_dir / "kept.md", escape_document("fifo-dir", "")))
        zero_dir = root / "zero-ignore"
        zero_dir.mkdir()
        (zero_dir / ".gitignore").symlink_to("/dev/zero")
        corpus.documents.append(_write(zero_dir / "kept.md", escape_document("zero-dir", "")))
        os.mkfifo(root / "pipe.md")
        corpus.traps["fifo document"] = root / "pipe.md"
        (root / "device.md").symlink_to("/dev/zero")
        corpus.traps["device document"] = root / "device.md"
        corpus.traps["fifo .gitignore"] = fifo_dir / ".gitignore"
        corpus.traps["/dev/zero .gitignore"] = zero_dir / ".gitignore"
    if deep:
        corpus.deep_file = _write(
            nested_path(root / "deep", DEEP_LEVELS) / "bottom.md",
            f"# Bottom\n\nThe {MARKER} at the bottom of the abyss sleeps.\n",
        )
        corpus.documents.append(corpus.deep_file)
    return corpus


def nested_path(base: Path, levels: int) -> Path:
    """base/d/d/.../d, `levels` folders deep (made with relative steps: no path is too long)."""
    base.mkdir(parents=True, exist_ok=True)
    cwd = os.getcwd()
    try:
        os.chdir(base)
        for _ in range(levels):
            os.mkdir("d")
            os.chdir("d")
    finally:
        os.chdir(cwd)
    return base.joinpath(*(["d"] * levels))
