"""What the TUI remembers between launches: the theme picked in the palette, the session last used
in the TUI, and which one-time notes were already shown.

Kept in `<user data dir>/tui-state.json`, never in the user's config file. A missing file is a
first launch; an unreadable or damaged one is reported once (as `problem`) and then replaced.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from atlas_tui.config import user_data_dir

STATE_FILE = "tui-state.json"


@dataclass
class UIState:
    theme: str = ""  # the theme picked in the palette ("" = none picked)
    theme_over: str = ""  # the config's theme when it was picked: a new config theme wins
    last_session: str = ""  # the session last used in the TUI
    notes_seen: list[str] = field(default_factory=list)
    path: Path | None = None
    problem: str = ""  # why the file could not be read or written, for a one-line notice

    @classmethod
    def load(cls, path: Path | None = None) -> UIState:
        path = path or user_data_dir() / STATE_FILE
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return cls(path=path)
        except (OSError, UnicodeDecodeError) as error:
            return cls(path=path, problem=f"The TUI state file {path} is unreadable: {error}")
        try:
            data: Any = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except ValueError as error:
            return cls(path=path, problem=f"The TUI state file {path} is damaged ({error}).")
        seen = data.get("notes_seen")
        return cls(
            theme=_text(data.get("theme")),
            theme_over=_text(data.get("theme_over")),
            last_session=_text(data.get("last_session")),
            notes_seen=[n for n in seen if isinstance(n, str)] if isinstance(seen, list) else [],
            path=path,
        )

    def theme_for(self, configured: str) -> str:
        """The theme to start with: the one picked in the palette, unless the config changed."""
        if self.theme and self.theme_over == configured:
            return self.theme
        return configured

    def remember_theme(self, theme: str, configured: str) -> None:
        self.theme, self.theme_over = theme, configured
        self.save()

    def remember_session(self, session_id: str | None) -> None:
        if (session_id or "") != self.last_session:
            self.last_session = session_id or ""
            self.save()

    def first_time(self, note: str) -> bool:
        """True once per install for `note` (and remembers it)."""
        if note in self.notes_seen:
            return False
        self.notes_seen.append(note)
        self.save()
        return True

    def save(self) -> bool:
        """Write the state (atomically); on failure keep going and set `problem`."""
        if self.path is None:
            return False
        data = {
            "theme": self.theme,
            "theme_over": self.theme_over,
            "last_session": self.last_session,
            "notes_seen": self.notes_seen,
        }
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(json.dumps(data, indent=1), encoding="utf-8")
            os.replace(temporary, self.path)
        except OSError as error:
            self.problem = f"The TUI state could not be saved to {self.path}: {error.strerror}"
            return False
        return True


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
