"""What atlas-tui learnt about servers: the base URLs that refused `search_result` blocks and are
asked in the compatible form. Kept in `<data dir>/compatible-servers.json`, so the next process
(another `atlas-tui ask`) does not spend a refused request to learn it again.

A file that cannot be read or written only costs that one request: it is never an error.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from atlas_tui.config import user_data_dir

FILE_NAME = "compatible-servers.json"
_LOCK = threading.Lock()


def _path() -> Path:
    return user_data_dir() / FILE_NAME


def _read(path: Path) -> list[str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []  # missing or damaged: nothing learnt yet (it is rewritten when something is)
    return [u for u in data if isinstance(u, str)] if isinstance(data, list) else []


def is_compatible(base_url: str) -> bool:
    """Whether `base_url` was found to want the compatible form."""
    return bool(base_url) and base_url.rstrip("/") in _read(_path())


def remember_compatible(base_url: str) -> None:
    """Note that `base_url` wants the compatible form (written whole, atomically)."""
    if not base_url:
        return
    path = _path()
    with _LOCK:
        known = _read(path)
        if base_url.rstrip("/") in known:
            return
        known.append(base_url.rstrip("/"))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".compatible-")
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump(known, out)
            os.replace(temporary, path)
        except OSError:
            return  # not kept: the next process asks once in the native form again
