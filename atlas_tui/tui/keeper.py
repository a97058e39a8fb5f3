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
from pathlib import Path

from atlas_tui.config import Settings, user_data_dir
from atlas_tui.errors import AtlasError, SessionStoreError
from atlas_tui.query import Event
from atlas_tui.recorder import TurnRecorder
from atlas_tui.sessions import AnswerVersion, Session, SessionStore, title_from_question

EXPORT_SUFFIXES = {"md": ".md", "json": ".json"}
CLOSE_TIMEOUT_S = 3.0  # how long closing waits for an answer still being recorded


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
        return session

    def start_new(self) -> None:
        """The next question starts a new session (created when it is recorded)."""
        with self._lock:
            self.session_id, self.title = None, ""
            self.system_prompt, self.model = "", ""

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

    def export(self, fmt: str, folder: Path | None = None) -> Path:
        """Write the session as Markdown ("md") or JSON ("json"); returns the file written.

        The file goes to `folder` (default: the current directory), or to the data dir's
        exports folder when that one cannot be written. Raises AtlasError.
        """
        from atlas_tui.export import export_json, export_markdown

        store = self._require_store()
        if self.session_id is None:
            raise AtlasError("Nothing to export yet.", hint="Ask a question: it starts a session.")
        session = store.load_session(self.session_id)
        text = export_markdown(session) if fmt == "md" else export_json(session)
        name = f"atlas-session-{session.id}{EXPORT_SUFFIXES[fmt]}"
        errors = []
        for place in (folder or Path.cwd(), user_data_dir() / "exports"):
            try:
                place.mkdir(parents=True, exist_ok=True)
                (place / name).write_text(text, encoding="utf-8")
            except OSError as error:
                errors.append(f"{place}: {error.strerror or error}")
                continue
            return place / name
        raise AtlasError(f"Cannot write the export ({'; '.join(errors)}).")

    # --- recording answers (called from the answer worker) -------------------------------------

    @contextmanager
    def recording(self, question: str, regenerate: int | None = None) -> Iterator[Recording]:
        """Store `question` now (creating the session if needed); record its events after.

        `regenerate`: the stored turn of this question, answered again (its answer so far is
        kept as an alternative) instead of a new turn."""
        with self._lock:
            self._active += 1
        try:
            yield Recording(self._begin(question, regenerate), self._on_problem)
        finally:
            with self._lock:
                self._active -= 1
                self._recording.notify_all()

    def _begin(self, question: str, regenerate: int | None = None) -> TurnRecorder | None:
        if self.store is None:
            return None
        try:
            with self._lock:
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
