"""Small corpora the tests write on the fly."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`, making folders; return root."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


# Two short notes the TUI and browser tests ask about ("What is the trimodal methodology?").
NOTES = {
    "trimodal.md": (
        "# Trimodal methodology\n\n"
        "The trimodal methodology in Atlas combines three modes of work: bottom-up "
        "implementation, top-down design and holistic integration. Each mode checks the others.\n"
    ),
    "lighthouse.md": (
        "# Lighthouses\n\n"
        "A lighthouse keeper trims the lamp wick every evening and logs the weather at dawn.\n"
    ),
}
