"""The conversation: the turns on screen, the answer being written, and the research session they
are recorded in. The TUI keeps one for its main screen; `atlas-tui ask` makes one for its question.

Knows nothing of Textual. The owner sets callbacks: `on_change` when the session on screen was
created (its title is known), `on_problem` with a sentence to show when the store fails. A store
that cannot be opened (newer or damaged file) leaves the conversation without persistence: it keeps
answering, and the file is never touched. A session is created by the first question recorded in it.

Threads: `ask`, `regenerate`, `cancel` and the session changes run on the thread that shows the
conversation; `Answer.events()` runs in a worker; the store is shared (it is thread-safe).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from atlas_tui.config import Settings
from atlas_tui.conversation.answer import Answer, Recording
from atlas_tui.conversation.library import SessionLibrary
from atlas_tui.conversation.recording import TurnRecorder
from atlas_tui.conversation.shown import ShownAnswer, shown_title
from atlas_tui.conversation.token import Token
from atlas_tui.conversation.turns import NO_TEXT, ConversationTurn, usage_of
from atlas_tui.errors import AtlasError, SessionStoreError
from atlas_tui.safety import Clean
from atlas_tui.sessions import AnswerVersion, Session, SessionStore

if TYPE_CHECKING:
    from atlas_tui.query import AtlasQuery

EXPORT_SUFFIXES = {"md": ".md", "json": ".json"}
CLOSE_TIMEOUT_S = 3.0  # how long closing waits for an answer still being recorded


@dataclass
class Retrieval:
    """How documents are found for the next question (None: the configured default)."""

    mode: str | None = None
    source: str | None = None  # a glob over the documents' paths
    max_results: int | None = None
    min_relevance_score: float | None = None


@dataclass
class SessionRef:
    """A research session questions go to. Its `id` is None until its first question is recorded;
    its `token` is retired when another session is put on screen."""

    id: str | None = None
    title: Clean = NO_TEXT
    system_prompt: str = ""  # the session's own instructions to the model
    model: str = ""  # the session's model ("" for the configured one)
    temperature: float | None = None  # its sampling temperature (None: the model's default)
    max_tokens: int | None = None  # its answers' length cap (None: the configured one)
    token: Token = field(default_factory=Token)


class Conversation:
    def __init__(
        self,
        client: AtlasQuery,
        settings: Settings,
        *,
        retrieval: Retrieval | None = None,
        origin: str = "",
    ) -> None:
        """`origin`: what records the sessions it creates ("tui", "ask")."""
        self.client = client
        self.settings = settings
        self.origin = origin
        self.store: SessionStore | None = None  # none until `open_store`
        self.problem = ""  # why sessions are not saved, when the store could not be opened
        self.retrieval = retrieval or Retrieval()
        self.turns: list[ConversationTurn] = []
        self.session = SessionRef()
        self.on_change: Callable[[], None] = lambda: None  # the session on screen was created
        self.on_problem: Callable[[str], None] = lambda text: None  # the store failed: say it
        self._newest: Answer | None = None  # the answer started last
        self._next_id = 1
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._active = 0  # answers being recorded right now

    def open_store(self) -> bool:
        """Record in the settings' session store from now on; False (`problem` says why) when
        it cannot be opened, and the conversation goes on unsaved."""
        try:
            self.store = SessionStore.from_settings(self.settings)
        except SessionStoreError as error:
            self.problem = error.describe()
            return False
        return True

    @property
    def saving(self) -> bool:
        return self.store is not None

    @property
    def answering(self) -> Answer | None:
        """The answer being written (None once it ended or was cancelled)."""
        answer = self._newest
        if answer is None or answer.token.cancelled or answer.turn.finished:
            return None
        return answer

    # --- asking ----------------------------------------------------------------------------------

    def ask(self, question: str) -> Answer:
        """A new turn for `question` and its answer (the running one is cancelled). Run
        `events()` of the answer in a worker."""
        self.cancel()
        turn = ConversationTurn(self._next_id, question)
        self._next_id += 1
        self.turns.append(turn)
        return self._start(turn)

    def regenerate(self) -> Answer:
        """The last question answered again (its earlier answers stay, to step through).
        Raises AtlasError when there is nothing to regenerate or the turn is damaged."""
        if not self.turns:
            raise AtlasError("Nothing to regenerate yet.")
        turn = self.turns[-1]
        if turn.damaged:
            raise AtlasError("This turn is damaged: ask its question again instead.")
        previous = self._newest
        self.cancel()
        if previous is not None and previous.turn is turn:
            previous.token.retire()  # its last events (a cancel on its way) no longer count
        turn.start_again()
        return self._start(turn, regenerating=True)

    def _start(self, turn: ConversationTurn, *, regenerating: bool = False) -> Answer:
        session = self.session
        knobs: dict[str, Any] = {
            "history": self._history(turn),
            "model": session.model or None,
            "system_prompt": session.system_prompt or None,
            "temperature": session.temperature,
            "max_tokens": session.max_tokens,
            "mode": self.retrieval.mode,
            "source": self.retrieval.source or None,
            "max_results": self.retrieval.max_results,
            "min_relevance_score": self.retrieval.min_relevance_score,
        }
        self._newest = Answer(self, turn, session, knobs, regenerating=regenerating)
        return self._newest

    def _history(self, turn: ConversationTurn) -> tuple[Any, ...]:
        """The finished turns before `turn` (the last `history_turns`), sent as conversation."""
        done = [t.as_turn() for t in self.turns if t.status == "done" and t is not turn]
        limit = max(self.settings.history_turns, 0)
        return tuple(done[len(done) - limit :]) if limit else ()

    def cancel(self) -> Answer | None:
        """Stop the answer being written; the answer cancelled, if one was running."""
        answer = self.answering
        if answer is not None:
            answer.cancel()
        return answer

    def keep(self, turn: ConversationTurn, version: AnswerVersion, *, regenerated: bool) -> None:
        """(Answer.take) The answer that ended joins the turn's answers. After a regeneration the
        earlier ones come from the store, which also kept an answer cancelled mid-stream."""
        earlier = None
        if regenerated and turn.stored_id is not None and self.store is not None:
            try:
                stored = self.store.turn(turn.stored_id).alternatives
                earlier = [ShownAnswer.of(v) for v in stored]
            except SessionStoreError:
                earlier = None
        turn.keep(ShownAnswer.of(version), earlier)

    def turn(self, turn_id: int) -> ConversationTurn | None:
        return next((t for t in self.turns if t.id == turn_id), None)

    def usage(self) -> str:
        """'session: 1,234 in · 56 out · $0.0123' over every answer on screen, '' when none."""
        used = usage_of(self.turns)
        return f"session: {used}" if used else ""

    # --- recording (from the answer's worker) ----------------------------------------------------

    @contextmanager
    def recording(self, answer: Answer) -> Iterator[Recording]:
        """Store the answer's question now (creating its session if needed); its events after."""
        with self._lock:
            self._active += 1
        try:
            yield Recording(self._begin(answer), self.on_problem)
        finally:
            with self._lock:
                self._active -= 1
                self._idle.notify_all()

    def _begin(self, answer: Answer) -> TurnRecorder | None:
        store, session, turn = self.store, answer.session, answer.turn
        if store is None:
            return None
        try:
            with self._lock:
                created = session.id is None
                if created:
                    session.id = store.create_session(origin=self.origin)
                    session.title = shown_title(turn.asked)
                    if session.system_prompt or session.model:
                        store.set_session_options(
                            session.id, system_prompt=session.system_prompt, model=session.model
                        )
                    if session.temperature is not None or session.max_tokens is not None:
                        store.set_session_sampling(
                            session.id,
                            temperature=session.temperature,
                            max_tokens=session.max_tokens,
                        )
                session_id = session.id
            regenerate = turn.stored_id if answer.regenerating else None
            recorder = TurnRecorder(store, session_id, turn.asked, regenerate=regenerate)
        except SessionStoreError as error:
            self.on_problem(f"This question could not be saved: {error.describe()}")
            return None
        turn.stored_id = recorder.turn_id
        if created and session.token.current:
            self.on_change()
        return recorder

    def wait_idle(self, timeout: float = CLOSE_TIMEOUT_S) -> bool:
        """Wait (bounded) until no answer is being recorded, e.g. a cancelled one finishing."""
        with self._lock:
            return self._idle.wait_for(lambda: self._active == 0, timeout)

    # --- the session on screen -------------------------------------------------------------------

    def library(self) -> SessionLibrary:
        """The sessions, to browse (raises SessionStoreError when they are not saved)."""
        return SessionLibrary(self._require_store())

    def resolve(self, ref: str) -> str:
        """The id of session `ref` (an id, a unique prefix, or "last"); raises SessionStoreError."""
        return self._require_store().resolve(ref)

    def open_session(self, ref: str) -> Session | None:
        """Put session `ref` (an id, a unique prefix, or "last") on screen: its turns replace
        the ones shown. None when `ref` is "last" and there is no session yet. Raises
        SessionStoreError, or TypeError/ValueError for a stored turn of the wrong shape."""
        store = self._require_store()
        if ref == "last" and store.last_session_id() is None:
            return None
        session = store.load_session(ref)
        turns = [
            ConversationTurn.from_stored(t, self._next_id + i) for i, t in enumerate(session.turns)
        ]
        self._replace_session(
            SessionRef(
                session.id,
                shown_title(session.title),
                session.system_prompt,
                session.model,
                session.temperature,
                session.max_tokens,
            )
        )
        self._next_id += len(turns)
        self.turns = turns
        return session

    def new_session(self) -> None:
        """Start afresh: no turns on screen; the next question starts a new stored session."""
        self._replace_session(SessionRef())
        self.turns = []

    def _replace_session(self, session: SessionRef) -> None:
        self.cancel()
        with self._lock:
            self.session.token.retire()
            self.session = session

    def set_options(self, *, system_prompt: str | None = None, model: str | None = None) -> None:
        """The session's system prompt and model (None leaves one as it is), stored at once when
        the session exists, else when its first question creates it. Raises SessionStoreError."""
        session = self.session
        if self.store is not None and session.id is not None:
            self.store.set_session_options(session.id, system_prompt=system_prompt, model=model)
        with self._lock:
            if system_prompt is not None:
                session.system_prompt = system_prompt
            if model is not None:
                session.model = model.strip()

    def set_sampling(self, *, temperature: float | None, max_tokens: int | None) -> None:
        """The session's own temperature and answer length (None: the defaults), stored at once
        when the session exists, else when its first question creates it. Raises
        SessionStoreError."""
        session = self.session
        if self.store is not None and session.id is not None:
            self.store.set_session_sampling(
                session.id, temperature=temperature, max_tokens=max_tokens
            )
        with self._lock:
            session.temperature, session.max_tokens = temperature, max_tokens

    def current_exists(self) -> bool:
        """False when the session on screen was deleted (e.g. from the sessions screen)."""
        if self.store is None or self.session.id is None:
            return True
        return any(s.id == self.session.id for s in self.store.list_sessions())

    def refresh_title(self) -> None:
        """The session's title as stored (the sessions screen may have renamed it)."""
        if self.store is not None and self.session.id is not None:
            title = self.store.load_session(self.session.id).title
            self.session.title = shown_title(title)

    def rename(self, title: str) -> None:
        store = self._require_store()
        if self.session.id is None:
            raise SessionStoreError(
                "There is no session to rename yet.", hint="Ask a question: it starts one."
            )
        store.rename(self.session.id, title)
        self.session.title = shown_title(title)

    def export_name(self, fmt: str) -> str:
        """The file name an export of the session on screen gets by default."""
        return f"atlas-session-{self.session.id or 'new'}{EXPORT_SUFFIXES[fmt]}"

    def export_to(self, fmt: str, path: Path) -> Path:
        """Write the session as `fmt` to exactly `path`; raises AtlasError with the reason."""
        from atlas_tui.sessions.export import export_json, export_markdown

        store = self._require_store()
        if self.session.id is None:
            raise AtlasError("Nothing to export yet.", hint="Ask a question: it starts a session.")
        session = store.load_session(self.session.id)
        text = export_markdown(session) if fmt == "md" else export_json(session)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as error:
            raise AtlasError(f"Cannot write {path}: {error.strerror or error}") from error
        return path

    def close(self, timeout: float = CLOSE_TIMEOUT_S) -> None:
        """Stop the running answer, wait (bounded) for answers still being recorded, then close
        the store."""
        self.cancel()
        if self.store is None:
            return
        self.wait_idle(timeout)
        self.store.close()
        self.store = None

    def _require_store(self) -> SessionStore:
        if self.store is None:
            raise SessionStoreError(
                f"Sessions are not being saved: {self.problem or 'the store is closed.'}"
            )
        return self.store
