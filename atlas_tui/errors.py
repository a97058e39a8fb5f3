"""The error family. Every error carries a message a person can act on.

`AtlasError.hint` says what to do next; `str(error)` is the message alone. Errors raised while an
answer streams carry the text produced so far in `partial_text`, so nothing already shown is lost.
"""

from __future__ import annotations


class AtlasError(Exception):
    """Base of every error atlas-tui raises on purpose."""

    hint: str = ""
    retryable: bool = True  # whether asking again may help (how to ask is the front end's to say)

    def __init__(self, message: str, *, hint: str | None = None, partial_text: str = "") -> None:
        super().__init__(message)
        self.message = message
        if hint is not None:
            self.hint = hint
        self.partial_text = partial_text

    def describe(self) -> str:
        """The message and, when there is one, what to do about it."""
        return f"{self.message}\n{self.hint}" if self.hint else self.message


class ConfigError(AtlasError):
    """A setting or the config file is invalid."""


RAY_MISSING = "The Ray engine needs the ray extra: pip install 'atlas-tui[ray]'"


# --- the knowledge base -------------------------------------------------------------------------


class IndexError_(AtlasError):
    """Base of the index problems (named with a trailing underscore to spare the builtin)."""


class IndexMissingError(IndexError_):
    hint = (
        "Build it with `atlas-tui ingest PATH` (or `atlas-tui ingest --demo` for the demo corpus)."
    )


class EmptyIndexError(IndexError_):
    hint = "Add documents with `atlas-tui ingest PATH`."


class IndexCorruptError(IndexError_):
    hint = "Move the folder aside (or delete it) and rebuild with `atlas-tui ingest PATH`."


class ModelMismatchError(IndexError_):
    hint = (
        "Use the model the index was built with (ATLAS_EMBEDDING_MODEL or --model), "
        "or rebuild the index into a new --db or --collection."
    )


class EmbeddingModelError(AtlasError):
    hint = "Check ATLAS_EMBEDDING_MODEL: a sentence-transformers model name or a local folder."


class IngestError(AtlasError):
    """Nothing could be ingested, or the index cannot be written."""


# --- answering -----------------------------------------------------------------------------------


class GenerationError(AtlasError):
    """Base of the failures while producing an answer. The hint says what to do beyond asking
    again."""


class AuthenticationError(GenerationError):
    hint = "Check ANTHROPIC_API_KEY; without a key atlas-tui answers offline (extractive)."
    retryable = False


class RateLimitError(GenerationError):
    hint = "Wait a minute before asking again."


class OverloadedError(GenerationError):
    hint = "Try again in a minute."


class APITimeoutError(GenerationError):
    hint = "Check the network (or raise request_timeout), then ask again."


class APIConnectionError(GenerationError):
    hint = "Check the network and the address (ANTHROPIC_BASE_URL, or the endpoint's base_url)."


class StreamInterruptedError(GenerationError):
    """The answer began and stopped before its end (the partial text is kept)."""


class APIError(GenerationError):
    """Any other error the API reported (bad request, server error, an in-stream error event)."""


class CancelledError_(GenerationError):
    """The user cancelled the answer; the partial text is kept."""

    retryable = False


# --- research sessions ---------------------------------------------------------------------------


class SessionStoreError(AtlasError):
    hint = "The session database was left untouched; move it aside to start a fresh one."


def session_db_error(path: object, verb: str, exc: BaseException) -> SessionStoreError:
    """The error for an SQLite or OS failure on the session database, with an honest hint: a lock
    held too long names who holds it (when it can tell), a full disk says so, a read-only place says
    so; anything else is a damaged or unusable file."""
    import errno
    import sqlite3

    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    message = f"Cannot {verb} the session database {path}: {exc}"
    if primary == sqlite3.SQLITE_FULL or getattr(exc, "errno", None) == errno.ENOSPC:
        return SessionStoreError(
            f"Cannot {verb} the session database {path}: the disk is full.",
            hint="Free some disk space and try again; nothing already saved was lost.",
        )
    if primary in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        holders = _holders(path)
        who = f" by {', '.join(holders)}" if holders else " by another program"
        return SessionStoreError(
            f"The session database {path} stayed locked{who}.",
            hint="Close that program (another atlas-tui?) or try again; nothing was changed.",
        )
    if primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or isinstance(exc, OSError):
        return SessionStoreError(
            message,
            hint="Check that it names a file in a folder you can write (or set "
            "ATLAS_SESSIONS_PATH).",
        )
    return SessionStoreError(message)


def _holders(path: object) -> list[str]:
    """The other processes that have the file open, as "pid 123 (atlas-tui)" (Linux only; [] when
    they cannot be seen)."""
    import os
    from pathlib import Path

    try:
        target = Path(str(path)).resolve()
        names = {str(target), f"{target}-wal", f"{target}-shm"}
        found: list[str] = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if any(os.readlink(fd) in names for fd in (entry / "fd").iterdir()):
                    command = (entry / "comm").read_text().strip()
                    found.append(f"pid {entry.name} ({command})")
            except OSError:  # gone, or not ours to look at
                continue
        return found[:3]
    except OSError:
        return []
