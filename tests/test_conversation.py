"""The conversation without a screen: what is asked, recorded, shown and dropped, over a real
session database. The query client is scripted (its events are the input here); everything from
the conversation down (recording, the store, cleaning) is the real code.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from atlas_tui.config import Settings
from atlas_tui.conversation import (
    CANCELLED_BEFORE_START,
    Conversation,
    ConversationTurn,
    SessionLibrary,
    ShownAnswer,
    ShownPassage,
    Token,
    trail_lines,
    turn_markdown,
)
from atlas_tui.conversation.shown import shown_error, shown_event
from atlas_tui.errors import APIConnectionError, AtlasError, CancelledError_
from atlas_tui.query import Delta, Done, Event, Failed, QueryRun, Retrieved, Round, Timings
from atlas_tui.safety import Clean
from atlas_tui.sessions import AnswerVersion, SessionStore
from atlas_tui.types import Citation, Passage, ResearchRound, ToolStep, Usage

HOSTILE = "Keepers \x1b]0;pwned\x07trim \u202ethe wick\u202c [1]."
PASSAGE = Passage(
    chunk_id="c1",
    text="Keepers \x1b[31mtrim\x1b[0m the wick.",
    source="light\u200bhouse.md",
    root="/docs",
    title="Lighthouses",
    heading="Duties > Keepers",
    score=0.8,
)
WAIT_S = 10.0  # the most any wait here takes


def done(answer: str, citations: tuple[Citation, ...] = ()) -> Done:
    return Done(
        answer=answer,
        citations=citations,
        usage=Usage(1000, 100),
        timings=Timings(first_token_ms=12.0),
        answerer="Claude test",
        model="claude-test",
        cost_usd=0.001,
    )


def answered(*parts: str) -> list[Event]:
    return [Retrieved((PASSAGE,)), *(Delta(p) for p in parts), done("".join(parts))]


@dataclass
class ScriptedClient:
    """A query client whose questions get scripted event lists, in order; records its calls."""

    scripts: list[list[Event] | Callable[[QueryRun], Iterator[Event]]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)

    def events(self, text: str, **knobs: Any) -> QueryRun:
        self.calls.append({"text": text, **knobs})
        script = self.scripts.pop(0)
        return QueryRun(script if callable(script) else lambda run: self._play(run, script))

    def research_events(self, text: str, **knobs: Any) -> QueryRun:
        self.calls.append({"text": text, "research": True, **knobs})
        script = self.scripts.pop(0)
        return QueryRun(script if callable(script) else lambda run: self._play(run, script))

    @staticmethod
    def _play(run: QueryRun, script: list[Event]) -> Iterator[Event]:
        """The events in order; once cancelled, a cancelled end (as AtlasQuery's run does)."""
        said = ""
        for event in script:
            if run.cancelled:
                yield Failed(CancelledError_("Cancelled."), said)
                return
            said += event.text if isinstance(event, Delta) else ""
            yield event


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(sessions_path=str(tmp_path / "sessions.sqlite3"), history_turns=4)


@pytest.fixture
def client() -> ScriptedClient:
    return ScriptedClient()


@pytest.fixture
def conversation(client: ScriptedClient, settings: Settings) -> Iterator[Conversation]:
    opened = Conversation(client, settings)  # type: ignore[arg-type]
    assert opened.open_store()
    yield opened
    opened.close()


def run(conversation: Conversation, question: str) -> tuple[ConversationTurn, list[Event]]:
    """Ask, then read and take in every event (as `ask` does, on one thread)."""
    answer = conversation.ask(question)
    shown = [answer.take(event) for event in answer.events()]
    return answer.turn, shown


def stored(settings: Settings) -> list[Any]:
    with SessionStore(settings.resolved_sessions_path) as store:
        return [store.load_session(s.id) for s in store.list_sessions()]


# --- asking and recording ---------------------------------------------------------------------


def test_an_answer_is_recorded_verbatim_and_shown_clean(conversation, client, settings) -> None:
    changes: list[str | None] = []
    conversation.on_change = lambda: changes.append(conversation.session.id)
    client.scripts.append(answered("Keepers \x1b]0;pwned\x07trim ", "\u202ethe wick\u202c [1]."))

    turn, shown = run(conversation, "What do \x1b[2Jkeepers do?")

    assert turn.status == "done" and turn.answer == "Keepers trim the wick [1]."
    assert isinstance(turn.answer, Clean) and turn.question == "What do keepers do?"
    assert [d.text for d in turn.documents] == ["Keepers trim the wick."]
    assert turn.documents[0].source == "lighthouse.md"  # shown clean ...
    assert turn.documents[0].passage.path == "/docs/light\u200bhouse.md"  # ... found by its name
    assert [type(e) for e in shown] == [Retrieved, Delta, Delta, Done]
    assert all("\x1b" not in e.text for e in shown if isinstance(e, Delta))
    assert turn.cited == {1}
    (session,) = stored(settings)
    assert changes == [session.id]  # the new session was announced once, with its id
    assert session.title == "What do \x1b[2Jkeepers do?"  # the store keeps what was typed
    (kept,) = session.turns
    assert kept.answer == HOSTILE and kept.status == "done"  # verbatim
    assert kept.documents == (PASSAGE,) and kept.usage["cost_usd"] == 0.001
    assert conversation.session.title == "What do keepers do?"


def test_a_follow_up_is_sent_the_finished_turns_and_the_session_options(
    conversation, client
) -> None:
    client.scripts += [answered("First."), answered("Second.")]
    conversation.set_options(model="claude-opus", system_prompt="Be brief.")
    conversation.retrieval.mode, conversation.retrieval.source = "keyword", "docs/*.md"
    run(conversation, "One?")
    run(conversation, "Two?")
    first, second = client.calls
    assert first["history"] == () and second["history"][0].question == "One?"
    assert second["history"][0].answer == "First."
    assert second["model"] == "claude-opus" and second["system_prompt"] == "Be brief."
    assert second["mode"] == "keyword" and second["source"] == "docs/*.md"
    assert conversation.usage() == "session: 2,000 in · 200 out · $0.0020"


def test_a_cancel_before_the_client_is_ready_ends_the_answer_and_is_stored(
    conversation, settings
) -> None:
    answer = conversation.ask("Who keeps the light?")
    events = answer.events(ready=threading.Event())  # never set: the client is still warming
    assert conversation.answering is answer
    conversation.cancel()
    (failed,) = list(events)
    assert isinstance(failed, Failed) and failed.error.message == CANCELLED_BEFORE_START
    answer.take(failed)
    assert answer.turn.status == "cancelled" and conversation.answering is None
    (session,) = stored(settings)
    assert session.turns[0].status == "cancelled"


def test_a_cancel_mid_answer_stops_the_run_and_keeps_the_partial_text(
    conversation, client, settings
) -> None:
    stopped = threading.Event()

    def stalls(run: QueryRun) -> Iterator[Event]:
        yield Retrieved((PASSAGE,))
        yield Delta("Half an ")
        yield Delta("answer")
        stopped.wait(WAIT_S)  # the stream stalls until the run is cancelled
        yield Failed(CancelledError_("Cancelled."), "Half an answer")

    client.scripts.append(stalls)
    answer = conversation.ask("Who?")
    events = answer.events()
    for _ in range(3):
        answer.take(next(events))
    answer.token.on_cancel(stopped.set)
    conversation.cancel()
    answer.take(next(events))
    assert answer.turn.status == "cancelled" and answer.turn.answer == "Half an answer"
    assert list(events) == []
    (session,) = stored(settings)
    assert (session.turns[0].status, session.turns[0].answer) == ("cancelled", "Half an answer")


def test_an_unexpected_failure_ends_the_answer_in_place(
    conversation, client, settings, caplog: pytest.LogCaptureFixture
) -> None:
    def breaks(run: QueryRun) -> Iterator[Event]:
        yield Retrieved((PASSAGE,))
        yield Delta("So far")
        raise RuntimeError("the \x1b[31mbug\x1b[0m")

    client.scripts.append(breaks)
    turn, shown = run(conversation, "Why?")
    assert isinstance(shown[-1], Failed)
    assert shown[-1].error.message == "Unexpected error while answering: the bug"
    assert turn.status == "failed" and turn.answer == "So far"
    assert stored(settings)[0].turns[0].status == "failed"
    (logged,) = [r for r in caplog.records if r.name == "atlas_tui.conversation.answer"]
    assert logged.message == "answering failed" and logged.exc_info  # the bug's traceback, logged


def test_a_reader_that_stops_reading_leaves_the_answer_stored_as_cancelled(
    conversation, client, settings
) -> None:
    client.scripts.append(answered("The keeper ", "trims", " the wick."))
    answer = conversation.ask("Who?")
    events = answer.events()
    next(events), next(events)  # documents, then "The keeper "
    events.close()  # Ctrl+C in `ask`: the generator is closed where it stood
    (session,) = stored(settings)
    assert (session.turns[0].status, session.turns[0].answer) == ("cancelled", "The keeper ")


# --- answering again, switching sessions -----------------------------------------------------


def test_a_regenerated_question_keeps_its_answers_and_drops_the_stale_ones(
    conversation, client, settings
) -> None:
    client.scripts += [answered("Half", " and more"), answered("The whole answer.")]
    first = conversation.ask("What?")
    events = first.events()
    first.take(next(events)), first.take(next(events))  # documents, "Half": then ctrl+r
    again = conversation.regenerate()
    assert not first.current and first.token.cancelled
    stale = list(events)  # the first answer's end is still recorded ...
    assert stale and all(first.take(e) is not None for e in stale)
    assert first.turn.shown == -1 and first.turn.status == "pending"  # ... but changes nothing
    for event in again.events():
        again.take(event)
    turn = again.turn
    assert [a.text for a in turn.answers] == ["Half", "The whole answer."]
    assert turn.position == "answer 2/2" and turn.answer == "The whole answer."
    turn.show(0)
    assert turn.answer == "Half" and turn.status == "cancelled"
    (session,) = stored(settings)
    (kept,) = session.turns
    assert [a.answer for a in kept.alternatives] == ["Half"]


def test_a_regenerated_answer_that_fails_still_keeps_the_one_cut_short(
    conversation, client, settings
) -> None:
    failing = [Retrieved((PASSAGE,)), Delta("Part"), Failed(APIConnectionError("Offline."), "Part")]
    client.scripts += [answered("Half", " and more"), failing]
    first = conversation.ask("What?")
    events = first.events()
    first.take(next(events)), first.take(next(events))  # documents, "Half": then ctrl+r
    again = conversation.regenerate()
    list(events)  # the first answer's cancelled end is stored
    for event in again.events():
        again.take(event)
    turn = again.turn
    shown = [(a.text, a.version.status, a.error) for a in turn.answers]
    assert shown == [("Half", "cancelled", "Cancelled."), ("Part", "failed", "Offline.")]
    assert turn.position == "answer 2/2"


def test_a_question_asked_before_a_new_session_stays_in_its_own(conversation, client, settings):
    client.scripts += [answered("Here."), answered("Never shown."), answered("Anew.")]
    run(conversation, "First?")
    first = conversation.session.id
    asked_here = conversation.ask("Asked here?")  # its worker has not started yet ...
    conversation.new_session()  # ... when ctrl+n comes
    assert not asked_here.current and conversation.turns == []
    list(asked_here.events())
    run(conversation, "Asked anew?")
    questions = {s.id: [t.question for t in s.turns] for s in stored(settings)}
    assert questions.pop(first) == ["First?", "Asked here?"]
    assert list(questions.values()) == [["Asked anew?"]]


def test_a_reopened_session_shows_its_turns_clean_and_continues(
    conversation, client, settings
) -> None:
    client.scripts += [answered(HOSTILE), answered("More.")]
    run(conversation, "Keepers?")
    session_id = conversation.session.id
    conversation.new_session()
    old_token = conversation.session.token
    assert session_id is not None
    conversation.open_session(session_id[:5])
    assert not old_token.current
    (turn,) = conversation.turns
    assert turn.answer == "Keepers trim the wick [1]." and turn.stored_id is not None
    _, _ = run(conversation, "And then?")
    assert client.calls[-1]["history"][0].answer == HOSTILE  # the model is sent what it said
    assert [t.question for t in stored(settings)[0].turns] == ["Keepers?", "And then?"]
    assert conversation.open_session("last") is not None


def test_without_a_store_it_answers_unsaved(client, tmp_path: Path) -> None:
    broken = tmp_path / "not-a-db.sqlite3"
    broken.write_bytes(b"not SQLite at all" * 200)
    conversation = Conversation(client, Settings(sessions_path=str(broken)))  # type: ignore[arg-type]
    assert not conversation.open_store() and "not a database" in conversation.problem
    client.scripts.append(answered("Unsaved."))
    turn, _ = run(conversation, "Q?")
    assert turn.status == "done" and not conversation.saving
    with pytest.raises(Exception, match="not being saved"):
        conversation.library()


def test_a_store_that_fails_while_recording_is_said_once(conversation, client) -> None:
    problems: list[str] = []
    conversation.on_problem = problems.append
    client.scripts += [answered("One."), answered("Two.")]
    run(conversation, "One?")
    assert conversation.store is not None
    conversation.store.close()  # every write fails from here on
    turn, _ = run(conversation, "Two?")
    assert turn.status == "done"  # the answer goes on
    assert len(problems) == 1 and problems[0].startswith("This question could not be saved")


# --- small parts -------------------------------------------------------------------------------


def test_a_token_stops_its_work_once_and_a_retired_parent_retires_its_children() -> None:
    session = Token()
    answer = Token(session)
    stops: list[str] = []
    answer.on_cancel(lambda: stops.append("run"))
    assert answer.current and not answer.cancelled and not answer.wait_cancelled(0)
    answer.cancel()
    answer.cancel()
    assert stops == ["run"] and answer.cancelled and answer.current  # cancelled, still shown
    answer.on_cancel(lambda: stops.append("late"))  # already cancelled: at once
    assert stops == ["run", "late"]
    session.retire()
    assert not answer.current and answer.cancelled and answer.wait_cancelled(0)


def test_shown_errors_and_events_are_clean_and_keep_their_kind() -> None:
    error = APIConnectionError("Offline \x1b]52;c;AAAA\x07now", hint="Check \u202ethe net")
    shown = shown_error(error)
    assert isinstance(shown, APIConnectionError) and shown is not error
    assert (shown.message, shown.hint, str(shown)) == (
        "Offline now",
        "Check the net",
        "Offline now",
    )
    assert error.message.startswith("Offline \x1b")  # the original is left as it was
    failed = shown_event(Failed(error, "part\x07ial"))
    assert isinstance(failed, Failed) and failed.partial_text == "partial"
    cited = shown_event(Delta("x", (Citation(1, "c1", "tr\u200bim"),)))
    assert isinstance(cited, Delta) and cited.citations[0].cited_text == "trim"
    retrieved = Retrieved((PASSAGE,))
    assert shown_event(retrieved) is retrieved  # documents are shown through ShownPassage
    assert ShownPassage.of(PASSAGE).heading == "Duties > Keepers"


def test_a_turn_copied_as_markdown_lists_only_the_sources_it_cites(conversation, client) -> None:
    other = Passage("c2", "Unrelated.", "other.md", "/docs", "Other", "", 0.5)
    client.scripts.append([Retrieved((PASSAGE, other)), done("They trim it [1].")])
    turn, _ = run(conversation, "Keepers?")
    assert turn_markdown(turn) == (
        "## Keepers?\n\nThey trim it [1].\n\nSources:\n\n- [1] lighthouse.md — Duties > Keepers\n"
    )


# --- what a turn keeps of each answer ---------------------------------------------------------


def test_each_event_is_taken_into_the_turn(conversation, client) -> None:
    citation = Citation(1, "c1", "Keepers \x1b[1mtrim")
    client.scripts.append(
        [Retrieved((PASSAGE,)), Delta("Keepers trim [1]."), done("Keepers trim [1].", (citation,))]
    )
    answer = conversation.ask("Who?")
    events = answer.events()
    assert answer.turn.status == "pending" and answer.turn.position == ""
    answer.take(next(events))
    turn = answer.turn
    assert turn.status == "streaming" and turn.documents[0].passage == PASSAGE
    answer.take(next(events))
    assert turn.status == "streaming" and turn.answer == ""  # deltas are drawn, not kept
    answer.take(next(events))
    assert (turn.status, turn.answerer, turn.model) == ("done", "Claude test", "claude-test")
    assert turn.documents[0].passage == PASSAGE and turn.error == ""
    assert turn.citations[0].cited_text == "Keepers trim"
    assert turn.usage == {"input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.001}
    assert turn.on_screen.version.timings["first_token_ms"] == 12.0
    assert turn.finished and conversation.answering is None
    assert turn.as_turn().passages == (PASSAGE,) and turn.as_turn().answerer == "Claude test"


def test_a_failed_answer_keeps_its_documents_and_says_why(conversation, client) -> None:
    error = APIConnectionError("Could not \x1b[2Jreach the API.")
    client.scripts.append([Retrieved((PASSAGE,)), Delta("So "), Failed(error, "So ")])
    turn, shown = run(conversation, "Why?")
    assert (turn.status, turn.answer) == ("failed", "So ")
    assert turn.error == "Could not reach the API." and turn.documents[0].passage == PASSAGE
    assert isinstance(shown[-1], Failed) and not shown[-1].cancelled
    assert turn_markdown(turn).endswith(
        "So \n\n_(failed: Could not reach the API.)_\n"
    )  # no source cited: none listed


def test_a_reader_that_stops_after_the_end_leaves_the_answer_done(
    conversation, client, settings
) -> None:
    client.scripts.append([*answered("Whole."), Delta("never read")])
    answer = conversation.ask("Q?")
    events = answer.events()
    for event in events:
        if isinstance(event, Done):
            break
    events.close()
    assert stored(settings)[0].turns[0].status == "done"


def test_the_history_sent_is_the_last_finished_turns(client, tmp_path: Path) -> None:
    settings = Settings(sessions_path=str(tmp_path / "s.sqlite3"), history_turns=2)
    conversation = Conversation(client, settings)  # type: ignore[arg-type]
    client.scripts += [answered("A1."), answered("A2."), [Failed(error_of("no"), "")]]
    client.scripts += [answered("A3."), answered("A4.")]
    for question in ("Q1?", "Q2?", "Q3?", "Q4?", "Q5?"):
        run(conversation, question)
    assert [t.question for t in client.calls[-1]["history"]] == ["Q2?", "Q4?"]  # Q3 failed
    none = Conversation(client, Settings(history_turns=0))  # type: ignore[arg-type]
    client.scripts.append(answered("x"))
    run(none, "Alone?")
    assert client.calls[-1]["history"] == ()


def error_of(message: str) -> APIConnectionError:
    return APIConnectionError(message)


def test_the_session_on_screen_is_renamed_exported_and_its_options_stored(
    conversation, client, settings, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match="no session to rename"):
        conversation.rename("Too early")
    with pytest.raises(Exception, match="Nothing to export"):
        conversation.export_to("md", tmp_path / "x.md")
    assert conversation.export_name("json") == "atlas-session-new.json"
    conversation.set_options(model=" claude-opus ")  # before the session exists: kept ...
    client.scripts.append(answered("Done."))
    run(conversation, "Q?")
    session_id = conversation.session.id
    assert session_id is not None and conversation.session.model == "claude-opus"
    (session,) = stored(settings)
    assert session.model == "claude-opus"  # ... and stored when the session is created
    conversation.set_options(system_prompt="Be \x1b[31mbrief.")
    assert stored(settings)[0].system_prompt == "Be \x1b[31mbrief."
    conversation.rename("A \x1b]0;x\x07title\n  on two lines")
    assert conversation.session.title == "A title on two lines"
    assert stored(settings)[0].title == "A \x1b]0;x\x07title on two lines"
    assert conversation.export_name("md") == f"atlas-session-{session_id}.md"
    written = conversation.export_to("md", tmp_path / "out" / "s.md")
    assert written.read_text(encoding="utf-8").startswith("# A")
    assert json_of(conversation.export_to("json", tmp_path / "s.json"))["session"]["id"]
    with pytest.raises(Exception, match="Cannot write"):
        conversation.export_to("md", tmp_path)  # a folder
    with SessionStore(settings.resolved_sessions_path) as other:  # renamed elsewhere
        other.rename(session_id, "Renamed elsewhere")
    conversation.refresh_title()
    assert conversation.session.title == "Renamed elsewhere" and conversation.current_exists()
    with SessionStore(settings.resolved_sessions_path) as other:
        other.delete(session_id)
    assert not conversation.current_exists()


def json_of(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def test_the_library_lists_and_finds_sessions_cleaned(conversation, client, settings) -> None:
    client.scripts.append(answered("The \x1b[31mquokka\x1b[0m answer."))
    run(conversation, "Quokka \u202equestion\u202c?")
    library = conversation.library()
    (summary,) = library.sessions()
    assert summary.title == "Quokka question?" and summary.turns == 1
    (hit,) = library.search("answer")  # a word of the answer only: the snippet is its text
    assert hit.session_title == "Quokka question?" and hit.question == "Quokka question?"
    assert hit.snippet == "The quokka answer."
    library.rename(summary.id, "Marsupials")
    assert library.sessions()[0].title == "Marsupials"
    library.delete(summary.id)
    assert library.sessions() == []


def test_the_library_previews_a_sessions_questions_cleaned_in_order(tmp_path: Path) -> None:
    with SessionStore(tmp_path / "sessions.sqlite3") as store:
        session_id = store.create_session()
        store.begin_turn(session_id, "Why \x1b[31mred\x1b[0m?")
        for number in range(2, 102):
            store.begin_turn(session_id, f"Question {number}?")
        library = SessionLibrary(store)
        assert library.questions(session_id, 2) == ["Why red?", "Question 2?"]
        first = library.questions(session_id)  # the first hundred unless asked for more
        assert len(first) == 100 and first[-1] == "Question 100?"


def test_a_reopened_turn_shows_its_newest_answer_and_the_earlier_ones(
    conversation, client, settings
) -> None:
    client.scripts += [answered("First."), answered("Second.")]
    run(conversation, "Q?")
    again = conversation.regenerate()
    for event in again.events():
        again.take(event)
    session_id = conversation.session.id
    assert session_id is not None
    conversation.new_session()
    assert conversation.open_session(session_id) is not None
    (turn,) = conversation.turns
    assert turn.position == "answer 2/2" and turn.answer == "Second." and turn.finished
    turn.show(0)
    assert turn.answer == "First." and turn.position == "answer 1/2"
    assert turn.id == 2  # ids on screen are never reused
    with pytest.raises(Exception, match="Nothing to regenerate"):
        Conversation(client, settings).regenerate()  # type: ignore[arg-type]


def test_a_damaged_turn_is_shown_as_such_and_not_regenerated(
    conversation, client, settings
) -> None:
    client.scripts.append(answered("Fine."))
    run(conversation, "Q?")
    session_id = conversation.session.id
    import sqlite3

    with sqlite3.connect(settings.resolved_sessions_path) as db:
        db.execute('UPDATE turns SET documents = \'{"not": "a list"}\'')
    assert session_id is not None
    conversation.open_session(session_id)
    (turn,) = conversation.turns
    assert turn.damaged.startswith("documents:") and turn.status == "failed"
    with pytest.raises(Exception, match="damaged"):
        conversation.regenerate()


def test_a_source_line_names_the_file_its_heading_and_page() -> None:
    from dataclasses import replace

    from atlas_tui.conversation import source_line

    assert source_line(2, ShownPassage.of(PASSAGE)) == "[2] lighthouse.md — Duties > Keepers"
    paged = ShownPassage.of(replace(PASSAGE, heading="", page=3))
    assert source_line(1, paged) == "[1] lighthouse.md — p. 3"
    assert ShownPassage.of(paged.passage).title == "Lighthouses"
    assert (paged.score, paged.page, paged.line_start, paged.line_end) == (0.8, 3, 0, 0)


def test_a_sessions_sampling_is_sent_and_stored(conversation, client, settings) -> None:
    conversation.set_sampling(temperature=0.2, max_tokens=300)  # before the session exists
    client.scripts += [answered("One."), answered("Two.")]
    run(conversation, "Q?")
    assert (client.calls[-1]["temperature"], client.calls[-1]["max_tokens"]) == (0.2, 300)
    (session,) = stored(settings)
    assert (session.temperature, session.max_tokens) == (0.2, 300)
    conversation.set_sampling(temperature=None, max_tokens=500)  # the session exists: at once
    assert (stored(settings)[0].temperature, stored(settings)[0].max_tokens) == (None, 500)
    run(conversation, "Again?")
    assert (client.calls[-1]["temperature"], client.calls[-1]["max_tokens"]) == (None, 500)
    session_id = conversation.session.id
    assert session_id is not None
    conversation.new_session()
    assert (conversation.session.temperature, conversation.session.max_tokens) == (None, None)
    conversation.open_session(session_id)
    assert conversation.session.max_tokens == 500


# --- what the mutation runs asked for (each of these failed on a planted change) ----------------


def test_the_question_asked_is_what_the_client_is_sent(conversation, client) -> None:
    client.scripts.append(answered("A."))
    run(conversation, "What is asked?")
    assert client.calls[-1]["text"] == "What is asked?"


def test_an_answer_that_cannot_be_saved_midway_is_said_once_and_goes_on(
    conversation, client, settings
) -> None:
    problems: list[str] = []
    conversation.on_problem = problems.append

    def session_deleted_midway(run: QueryRun) -> Iterator[Event]:
        with SessionStore(settings.resolved_sessions_path) as other:  # e.g. from another window
            other.delete(conversation.session.id or "")
        yield Retrieved((PASSAGE,))
        yield Delta("Still ")
        yield done("Still answered.")

    client.scripts.append(session_deleted_midway)
    turn, shown = run(conversation, "Q?")
    assert turn.status == "done" and isinstance(shown[-1], Done)
    assert len(problems) == 1
    assert problems[0].startswith("This answer could not be saved: There is no turn")


def test_a_client_warming_up_is_waited_for(conversation, client) -> None:
    ready = threading.Event()
    client.scripts.append(answered("After the wait."))
    answer = conversation.ask("Q?")
    threading.Timer(0.1, ready.set).start()  # the model loads meanwhile
    events = list(answer.events(ready=ready))
    assert isinstance(events[-1], Done)
    already = threading.Event()
    already.set()
    client.scripts.append(answered("At once."))
    assert isinstance(list(conversation.ask("Q2?").events(ready=already))[-1], Done)


def test_an_unexpected_failure_keeps_every_piece_and_is_logged(
    conversation, client, caplog: pytest.LogCaptureFixture
) -> None:
    def breaks(run: QueryRun) -> Iterator[Event]:
        yield Retrieved((PASSAGE,))
        yield Delta("So ")
        yield Delta("far")
        raise RuntimeError("bug")

    client.scripts.append(breaks)
    turn, _ = run(conversation, "Why?")
    assert turn.answer == "So far"
    assert "answering failed" in caplog.text


def test_a_reader_stopping_stores_the_pieces_it_read_as_cancelled(
    conversation, client, settings
) -> None:
    client.scripts.append(answered("The ", "keeper ", "trims."))
    answer = conversation.ask("Who?")
    events = answer.events()
    next(events), next(events), next(events)  # documents, "The ", "keeper "
    events.close()
    (stored_turn,) = stored(settings)[0].turns
    assert (stored_turn.status, stored_turn.answer) == ("cancelled", "The keeper ")
    assert stored_turn.error == "Cancelled."


def test_a_cancelled_answer_has_no_error_to_show(conversation, client) -> None:
    client.scripts.append([Retrieved((PASSAGE,)), Failed(CancelledError_("Cancelled."), "Half")])
    turn, _ = run(conversation, "Q?")
    assert (turn.status, turn.answer, turn.error) == ("cancelled", "Half", "")
    assert turn_markdown(turn) == "## Q?\n\nHalf\n\n_(cancelled)_\n"


def test_a_turn_without_an_answer_copies_as_such() -> None:
    turn = ConversationTurn(1, "Q?")
    assert turn_markdown(turn) == "## Q?\n\n_(no answer)_\n"
    other = Passage("c2", "B.", "b.md", "/docs", "B", "", 0.5)
    cited_second = ShownAnswer.of(
        AnswerVersion(answer="See [2].", documents=(PASSAGE, other), status="done")
    )
    turn.keep(cited_second)
    assert turn_markdown(turn).endswith("Sources:\n\n- [2] b.md\n")


def test_a_finished_answer_is_shown_clean() -> None:
    hostile = replace(
        done("A \x1b[31mred\x1b[0m [1].", (Citation(1, "c1", "tr\u200bim"),)),
        answerer="Claude \u202etest",
    )
    shown = shown_event(hostile)
    assert isinstance(shown, Done)
    assert (shown.answer, shown.answerer) == ("A red [1].", "Claude test")
    assert shown.citations[0].cited_text == "trim" and shown.timings == hostile.timings
    assert ShownPassage.of(PASSAGE).path == "/docs/lighthouse.md"


# --- research mode ------------------------------------------------------------------------------

SECOND = replace(PASSAGE, chunk_id="c2", text="The lamp burns oil.", heading="Duties > Lamps")


def researched(*, cancel_after_round: int = 0) -> list[Event]:
    """Two rounds (the first query hostile), then the answer citing [2] (from round 2)."""
    first = ResearchRound(
        1, (ToolStep("search", "keeper \x1b]0;pwned\x07duties", "hybrid", found=(1,), new=(1,)),)
    )
    second = ResearchRound(
        2,
        (
            ToolStep("search", "lamp", "key\x1b[8mword", "lamps/\x1b[1m*", found=(1, 2), new=(2,)),
            ToolStep("fetch\x1b[5m", error="unknown tool 'fetch\x1b[5m'"),  # refused, quoted
        ),
        note="Now \x1b[2Jlamps,\n  then oil.",
    )
    rounds: list[Event] = [
        Round(first, (PASSAGE,), Usage(900, 40), 0.001),
        Round(second, (PASSAGE, SECOND), Usage(2000, 90), 0.002),
    ]
    if cancel_after_round:
        return rounds[:cancel_after_round]
    return [*rounds, Delta("It burns oil [2]."), done("It burns oil [2].")]


def test_research_mode_goes_to_research_events_and_the_turn_keeps_its_trail(
    conversation, client, settings
) -> None:
    conversation.set_research(True)  # before the session exists: kept, stored when created
    client.scripts.append(researched())

    turn, shown = run(conversation, "What do keepers burn?")

    assert client.calls[0]["research"] is True
    assert [type(e) for e in shown] == [Round, Round, Delta, Done]
    first = shown[0]
    assert isinstance(first, Round)
    assert (
        first.round.steps[0].describe() == 'searched "keeper duties" (hybrid) -> 1 passage, 1 new'
    )
    assert turn.status == "done" and [d.text for d in turn.documents] == [
        "Keepers trim the wick.",
        "The lamp burns oil.",
    ]
    trail = turn.on_screen.rounds
    assert [r.number for r in trail] == [1, 2]
    assert trail[0].steps[0].query == "keeper duties"  # cleaned for the screen ...
    assert trail_lines(trail) == [  # as the transcript and `ask` show the trail
        ('Round 1: searched "keeper duties" (hybrid) -> 1 passage, 1 new', ""),
        ("Round 2: Now lamps, then oil.", "note"),
        ('Round 2: searched "lamp" (keyword, in lamps/*) -> 2 passages, 1 new', ""),
        ("Round 2: fetch refused: unknown tool 'fetch'", "refused"),
    ]
    (session,) = stored(settings)
    assert session.research is True
    (kept,) = session.turns
    assert kept.rounds[0].steps[0].query == "keeper \x1b]0;pwned\x07duties"  # ... stored verbatim
    assert kept.documents == (PASSAGE, SECOND) and kept.answer == "It burns oil [2]."


def test_research_is_the_sessions_toggle_kept_by_a_new_session_and_a_reopened_one(
    conversation, client, settings
) -> None:
    client.scripts += [answered("Plain."), researched(), researched()]
    run(conversation, "Plain?")  # toggle off: one search
    first_id = conversation.session.id
    conversation.set_research(True)  # the session exists: stored at once
    assert stored(settings)[0].research is True
    conversation.new_session()
    assert conversation.session.research is True  # ctrl+n keeps the way of working
    run(conversation, "Researched?")
    conversation.set_research(False)
    assert first_id is not None
    conversation.open_session(first_id)
    assert conversation.session.research is True
    run(conversation, "Again?")
    assert [c.get("research", False) for c in client.calls] == [False, True, True]
    turn, _ = run_research_off(conversation, client)
    assert client.calls[-1].get("research") is None and turn.on_screen.rounds == ()


def run_research_off(
    conversation: Conversation, client: ScriptedClient
) -> tuple[ConversationTurn, list[Event]]:
    """A question asked with research off whatever the session's toggle says (as `ask` does)."""
    client.scripts.append(answered("One search."))
    answer = conversation.ask("Plain again?", research=False)
    return answer.turn, [answer.take(event) for event in answer.events()]


def test_a_research_answer_cancelled_between_rounds_keeps_the_trail_found(
    conversation, client, settings
) -> None:
    conversation.set_research(True)

    def escape_after_round_1(run: QueryRun) -> Iterator[Event]:
        yield from researched(cancel_after_round=1)
        conversation.cancel()  # Esc between rounds: the run is cancelled before the next request
        assert run.cancelled
        yield Failed(CancelledError_("Cancelled."), "")

    client.scripts.append(escape_after_round_1)

    turn, shown = run(conversation, "Cancelled?")

    assert [type(e) for e in shown] == [Round, Failed]
    assert turn.status == "cancelled"
    assert [r.number for r in turn.on_screen.rounds] == [1]
    assert [d.text for d in turn.documents] == ["Keepers trim the wick."]
    (kept,) = stored(settings)[0].turns
    assert [r.number for r in kept.rounds] == [1] and kept.documents == (PASSAGE,)


def test_what_cannot_be_done_yet_says_so_and_how(conversation, client, tmp_path: Path) -> None:
    def refused(action: Callable[[], object]) -> tuple[str, str]:
        with pytest.raises(AtlasError) as caught:
            action()
        return caught.value.message, caught.value.hint

    assert refused(conversation.regenerate) == ("Nothing to regenerate yet.", "")
    assert refused(lambda: conversation.rename("T")) == (
        "There is no session to rename yet.",
        "Ask a question: it starts one.",
    )
    assert refused(lambda: conversation.export_to("md", tmp_path / "x.md")) == (
        "Nothing to export yet.",
        "Ask a question: it starts a session.",
    )
    # a session not stored yet: it exists (nothing deleted it), its title is what it was
    assert conversation.current_exists() and conversation.open_session("last") is None
    conversation.refresh_title()
    assert conversation.usage() == "" and conversation.turn(1) is None
    client.scripts.append(answered("Ünïcode answer — 42 €."))
    turn, _ = run(conversation, "Q?")
    assert conversation.turn(turn.id) is turn and conversation.turn(turn.id + 1) is None
    deep = conversation.export_to("md", tmp_path / "a" / "b" / "s.md")  # its folders are made
    assert "Ünïcode answer — 42 €." in deep.read_bytes().decode("utf-8")
    folder = tmp_path / "a"
    assert refused(lambda: conversation.export_to("md", folder)) == (
        f"Cannot write {folder}: Is a directory",
        "",
    )
    conversation.close()
    assert conversation.store is None
    assert refused(conversation.library)[0] == "Sessions are not being saved: the store is closed."


def test_a_sessions_options_set_before_it_exists_are_stored_with_it(
    conversation, client, settings
) -> None:
    conversation.set_options(system_prompt="Be brief.")
    conversation.set_sampling(temperature=0.3, max_tokens=None)
    conversation.retrieval.max_results, conversation.retrieval.min_relevance_score = 3, 0.25
    client.scripts += [answered("One."), answered("Two.")]
    run(conversation, "Q?")
    sent = client.calls[-1]
    assert (sent["max_results"], sent["min_relevance_score"]) == (3, 0.25)
    (session,) = stored(settings)
    assert (session.system_prompt, session.temperature, session.max_tokens) == (
        "Be brief.",
        0.3,
        None,
    )
    conversation.set_options(model="claude-other")  # the session exists: stored at once
    conversation.set_sampling(temperature=0.7, max_tokens=None)
    (session,) = stored(settings)
    assert (session.model, session.system_prompt, session.temperature) == (
        "claude-other",
        "Be brief.",
        0.7,
    )
    session_id = conversation.session.id
    assert session_id is not None
    conversation.new_session()
    conversation.open_session(session_id)
    reopened = conversation.session
    assert (reopened.system_prompt, reopened.model, reopened.temperature) == (
        "Be brief.",
        "claude-other",
        0.7,
    )
    assert reopened.title == "Q?"
    run(conversation, "And then?")
    ids = [t.id for t in conversation.turns]
    assert len(set(ids)) == 2 and ids == sorted(ids)  # the reopened turn's id is not reused


def test_no_history_is_sent_when_history_turns_is_zero(client, tmp_path: Path) -> None:
    settings = Settings(sessions_path=str(tmp_path / "s.sqlite3"), history_turns=0)
    conversation = Conversation(client, settings)  # type: ignore[arg-type]
    client.scripts += [answered("One."), answered("Two.")]
    run(conversation, "First?")
    run(conversation, "Second?")
    assert client.calls[-1]["history"] == ()


def test_a_reopened_session_is_regenerated_and_announced_only_when_created(
    conversation, client, settings
) -> None:
    changes: list[str | None] = []
    conversation.on_change = lambda: changes.append(conversation.session.id)
    client.scripts += [answered("One."), answered("Two."), answered("Two again.")]
    run(conversation, "First?")
    run(conversation, "Second?")
    session_id = conversation.session.id
    assert changes == [session_id]  # the second question created nothing
    later = Conversation(client, settings)  # type: ignore[arg-type]  # e.g. the next launch
    assert later.open_store()
    try:
        later.open_session(session_id or "")
        first, second = later.turns
        assert second.id == first.id + 1  # in order, as they were asked
        answer = later.regenerate()  # nothing was answered in this conversation before
        assert isinstance([answer.take(e) for e in answer.events()][-1], Done)
        assert second.answer == "Two again." and second.status == "done"
        second.damaged = "documents: not a list"
        with pytest.raises(AtlasError) as damaged:
            later.regenerate()
        assert damaged.value.message == "This turn is damaged: ask its question again instead."
    finally:
        later.close()
