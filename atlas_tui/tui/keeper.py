"""The app's research-session store and the session on screen, shared with the answer workers.

`SessionKeeper` knows nothing of Textual: the app passes callbacks (`on_change` when the session or
its title changed, `on_problem` with a sentence to show). A store that cannot be opened (newer or
damaged file) leaves the keeper without persistence: the app keeps answering, and the file is never
touched. A session is created lazily, by the first question recorded into it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from atlas_tui.config import Settings
from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.errors import AtlasError, SessionStoreError
from atlas_tui.query import Event
from atlas_tui.sessions import AnswerVersion, Session, SessionStore, title_from_question

EXPORT_SUFFIXES = {"md": ".md", "json": ".json"}
CLOSE_TIMEOUT_S = 3.0  # how long closing waits for an answer still being recorded


@dataclass(frozen=True)
class Ticket:
    epoch: int
    session_id: str | None


class Recording:
    """Records one question's events; after a store failure it reports once and stops."""

    def __init__(self, recorder: TurnRecorder | None, on_problem: Callable[[str], None]) -> None:
        self._recorder = recorder
        self._on_problem = on_problem

    @property
    def turn_id(self) -> int | None:
        """The stored turn being recorded (None when nothing is saved)."""
        return self._recorder.turn_id if self._recorder is not None else None

    def record(self, event: Event) -> None:
        if self._recorder is None:
            return
        try:
            self._recorder.record(event)
        except SessionStoreError as error:
            self._recorder = None
            self._on_problem(f"This answer could not be saved: {error.describe()}")


class SessionKeeper:
    def __init__(
        self,
        store: SessionStore | None,
        *,
        problem: str = "",
        on_change: Callable[[], None] = lambda: None,
        on_problem: Callable[[str], None] = lambda text: None,
    ) -> None:
        self.store = store
        self.problem = problem  # why sessions are not saved, when store is None
        self.session_id: str | None = None
        self.title = ""
        self.system_prompt = ""  # the session's own instructions to Claude
        self.model = ""  # the session's Claude model ("" for the configured one)
        self._on_change = on_change
        self._on_problem = on_problem
        self._lock = threading.Lock()
        self._recording = threading.Condition(self._lock)
        self._active = 0  # answers being recorded right now
        self._epoch = 0  # bumped whenever another session is put on screen

    @classmethod
    def open(
        cls,
        settings: Settings,
        *,
        on_change: Callable[[], None] = lambda: None,
        on_problem: Callable[[str], None] = lambda text: None,
    ) -> SessionKeeper:
        """The keeper over the settings' session store, or one without persistence."""
        try:
            store: SessionStore | None = SessionStore.from_settings(settings)
            problem = ""
        except SessionStoreError as error:
            store, problem = None, error.describe()
        return cls(store, problem=problem, on_change=on_change, on_problem=on_problem)

    @property
    def saving(self) -> bool:
        return self.store is not None

    # --- which session is on screen ------------------------------------------------------------

    def open_session(self, ref: str) -> Session | None:
        """Make session `ref` (an id, a unique prefix, or "last") current and return it.

        None when `ref` is "last" and there is no session yet. Raises SessionStoreError.
        """
        store = self._require_store()
        if ref == "last" and store.last_session_id() is None:
            return None
        session = store.load_session(ref)
        with self._lock:
            self.session_id, self.title = session.id, session.title
            self.system_prompt, self.model = session.system_prompt, session.model
            self._epoch += 1
        return session

    def start_new(self) -> None:
        """The next question starts a new session (created when it is recorded)."""
        with self._lock:
            self.session_id, self.title = None, ""
            self.system_prompt, self.model = "", ""
            self._epoch += 1

    def set_options(self, *, system_prompt: str | None = None, model: str | None = None) -> None:
        """The session's system prompt and model (None leaves one as it is). Stored at once when
        the session exists, else when its first question creates it. Raises SessionStoreError."""
        if self.store is not None and self.session_id is not None:
            self.store.set_session_options(
                self.session_id, system_prompt=system_prompt, model=model
            )
        with self._lock:
            if system_prompt is not None:
                self.system_prompt = system_prompt
            if model is not None:
                self.model = model.strip()

    def earlier_answers(self, turn_id: int) -> list[AnswerVersion] | None:
        """The stored alternatives of a turn (None when they cannot be read)."""
        if self.store is None:
            return None
        try:
            return list(self.store.turn(turn_id).alternatives)
        except SessionStoreError:
            return None

    def wait_idle(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait (bounded) until no answer is being recorded, e.g. a cancelled one finishing."""
        with self._lock:
            return self._recording.wait_for(lambda: self._active == 0, timeout)

    def ticket(self) -> Ticket:
        """Which session a question belongs to, taken when it is submitted (on the UI thread):
        a question whose worker starts after ctrl+n still goes to the session it was asked in."""
        with self._lock:
            return Ticket(self._epoch, self.session_id)

    def current_exists(self) -> bool:
        """False when the session on screen was deleted (e.g. from the sessions screen)."""
        if self.store is None or self.session_id is None:
            return True
        return any(s.id == self.session_id for s in self.store.list_sessions())

    def refresh_title(self) -> None:
        if self.store is not None and self.session_id is not None:
            title = self.store.load_session(self.session_id).title
            with self._lock:
                self.title = title

    def rename(self, title: str) -> None:
        store = self._require_store()
        if self.session_id is None:
            raise SessionStoreError(
                "There is no session to rename yet.", hint="Ask a question: it starts one."
            )
        store.rename(self.session_id, title)
        with self._lock:
            self.title = title_from_question(title)

    def export_name(self, fmt: str) -> str:
        """The file name an export of the session on screen gets by default."""
        return f"atlas-session-{self.session_id or 'new'}{EXPORT_SUFFIXES[fmt]}"

    def export_to(self, fmt: str, path: Path) -> Path:
        """Write the session as `fmt` to exactly `path`; raises AtlasError with the reason."""
        _, text = self._export_text(fmt)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise AtlasError(f"Cannot write {path}: {error.strerror or error}") from error
        return path

    def _export_text(self, fmt: str) -> tuple[Session, str]:
        from atlas_tui.sessions.export import export_json, export_markdown

        store = self._require_store()
        if self.session_id is None:
            raise AtlasError("Nothing to export yet.", hint="Ask a question: it starts a session.")
        session = store.load_session(self.session_id)
        return session, export_markdown(session) if fmt == "md" else export_json(session)

    # --- recording answers (called from the answer worker) -------------------------------------

    @contextmanager
    def recording(
        self, question: str, regenerate: int | None = None, *, ticket: Ticket | None = None
    ) -> Iterator[Recording]:
        """Store `question` now (creating the session if needed); record its events after.

        `regenerate`: the stored turn of this question, answered again (its answer so far is
        kept as an alternative) instead of a new turn. `ticket` (from `ticket()` at submit)
        names the session the question was asked in."""
        with self._lock:
            self._active += 1
        try:
            yield Recording(self._begin(question, regenerate, ticket), self._on_problem)
        finally:
            with self._lock:
                self._active -= 1
                self._recording.notify_all()

    def _begin(
        self, question: str, regenerate: int | None, ticket: Ticket | None
    ) -> TurnRecorder | None:
        if self.store is None:
            return None
        try:
            with self._lock:
                if ticket is not None and ticket.epoch != self._epoch:
                    # another session is on screen since: keep the question where it was asked
                    created = False
                    session_id = ticket.session_id or self.store.create_session()
                else:
                    created = self.session_id is None
                    if created:
                        self.session_id = self.store.create_session()
                        self.title = title_from_question(question)
                        if self.system_prompt or self.model:
                            self.store.set_session_options(
                                self.session_id, system_prompt=self.system_prompt, model=self.model
                            )
                    session_id = self.session_id
            recorder = TurnRecorder(self.store, session_id, question, regenerate=regenerate)
        except SessionStoreError as error:
            self._on_problem(f"This question could not be saved: {error.describe()}")
            return None
        if created:
            self._on_change()
        return recorder

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Wait (bounded) for answers still being recorded, then close the store."""
        if self.store is None:
            return
        with self._lock:
            self._recording.wait_for(lambda: self._active == 0, timeout)
        self.store.close()
        self.store = None

    def _require_store(self) -> SessionStore:
        if self.store is None:
            raise SessionStoreError(
                f"Sessions are not being saved: {self.problem or 'the store is closed.'}"
            )
        return self.store
