"""The research sessions as a browser shows them: listed, searched, renamed and deleted.

What the database gives back (titles, questions, snippets) is cleaned once, here; the store keeps
it verbatim. Every method may raise `SessionStoreError` with a sentence to show.
"""

from __future__ import annotations

from atlas_tui.conversation.shown import shown_hit, shown_summary
from atlas_tui.safety import Clean, terminal_safe
from atlas_tui.sessions import SearchHit, SessionStore, SessionSummary


class SessionLibrary:
    def __init__(self, store: SessionStore) -> None:
        self._store = store

    def sessions(self) -> list[SessionSummary]:
        """Every session, the most recently used first."""
        return [shown_summary(s) for s in self._store.list_sessions()]

    def search(self, text: str) -> list[SearchHit]:
        """Turns whose question or answer holds every word of `text`, best first."""
        return [shown_hit(hit) for hit in self._store.search(text)]

    def questions(self, session_id: str, limit: int = 100) -> list[Clean]:
        """The session's questions, in order (the first `limit`)."""
        return [terminal_safe(q) for q in self._store.questions(session_id, limit)]

    def rename(self, session_id: str, title: str) -> None:
        self._store.rename(session_id, title)

    def delete(self, session_id: str) -> None:
        self._store.delete(session_id)
