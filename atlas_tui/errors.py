"""The error family. Every error carries a message a person can act on.

`AtlasError.hint` says what to do next; `str(error)` is the message alone. Errors raised while an
answer streams carry the text produced so far in `partial_text`, so nothing already shown is lost.
"""

from __future__ import annotations


class AtlasError(Exception):
    """Base of every error atlas-tui raises on purpose."""

    hint: str = ""

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
    """Base of the failures while producing an answer."""


class AuthenticationError(GenerationError):
    hint = "Check ANTHROPIC_API_KEY; without a key atlas-tui answers offline (extractive)."


class RateLimitError(GenerationError):
    hint = "The API is rate limiting this key; wait a little and regenerate."


class OverloadedError(GenerationError):
    hint = "Anthropic's API is overloaded; try again shortly."


class APITimeoutError(GenerationError):
    hint = "The API did not answer in time; check the network and regenerate."


class APIConnectionError(GenerationError):
    hint = "Could not reach the API (offline?); check the network or ANTHROPIC_BASE_URL."


class StreamInterruptedError(GenerationError):
    hint = "Ask again (ctrl+r regenerates in the TUI) to retry."


class APIError(GenerationError):
    """Any other error the API reported (bad request, server error, an in-stream error event)."""


class CancelledError_(GenerationError):
    """The user cancelled the answer; the partial text is kept."""


# --- research sessions ---------------------------------------------------------------------------


class SessionStoreError(AtlasError):
    hint = "The session database was left untouched; move it aside to start a fresh one."
