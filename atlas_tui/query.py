"""The Atlas query client: retrieve passages, then stream a cited answer.

`AtlasQuery.events()` is the spine: it yields `Retrieved`, then `Delta`s, then `Done` or `Failed`.
`query`, `query_streaming`, `retrieve_only` and `query_with_context` are thin loops over it, and the
TUI's worker is another. `research_events()` is research mode's: `Round`s (the model's searches),
then `Delta`s, then `Done` or `Failed`; `research()` is its streaming loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from atlas_tui.config import Settings, load_settings
from atlas_tui.errors import AtlasError, CancelledError_
from atlas_tui.generation import Completed
from atlas_tui.generation.terms import terms
from atlas_tui.query_events import (
    Delta,
    DeltaCallback,
    Done,
    Event,
    Failed,
    Prefixed,
    QueryRun,
    Retrieved,
    Round,
    Timings,
    stream_text,
)
from atlas_tui.types import Citation, Passage, Turn, Usage
from atlas_tui.usage import cost_usd

if TYPE_CHECKING:
    from atlas_tui.detached import Detached
    from atlas_tui.generation import Answerer, AnswerStream
    from atlas_tui.generation.catalog import Offer
    from atlas_tui.knowledge.base import IngestReport, KnowledgeBase

__all__ = [
    "AtlasQuery",
    "Delta",
    "DeltaCallback",
    "Done",
    "Event",
    "Failed",
    "QueryRun",
    "Retrieved",
    "Round",
    "Timings",
    "create_query_client",
]

# The offline answerer's excerpts, encoded two at a time (the model releases the GIL).
_ENCODE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="atlas-encode")

MIN_RATE_SECONDS = 0.5  # a shorter stream is too short to time: no tokens/s is shown
MIN_RATE_TOKENS = 16


_REFERRING = re.compile(
    r"\b(it|its|this|that|these|those|they|them|their|one|ones|previous|above|earlier|same|"
    r"compare[sd]?|also|more|else|instead|why|how come)\b",
    re.IGNORECASE,
)
# The follow-up reading (the previous question and this one, searched together) is kept unless
# its passages cover less of the question's terms than the question's own search does (`coverage`),
# by more than this (benchmarks/eval_multiturn.py, cross-validated).
FOLLOW_UP_MARGIN = 0.0


def may_lean(text: str, history: Sequence[Turn]) -> bool:
    """Whether a question may lean on the conversation: a short one ("and in text mode?") or
    one that refers back ("what is its default?"). Others stand on their own."""
    return bool(history) and (len(text.split()) <= 4 or _REFERRING.search(text) is not None)


def follow_up_query(text: str, history: Sequence[Turn]) -> str:
    """The follow-up reading of a question: the previous question, then this one."""
    return f"{history[-1].question}\n{text}"


def coverage(text: str, passages: Sequence[Passage]) -> float:
    """How much of the question's terms the passages hold, the first ones counting most: each
    passage's share of the terms (its words and headings), weighted 1/rank. 1.0 for a question
    without terms of its own ("why?")."""
    wanted = terms(text)
    if not wanted or not passages:
        return 1.0 if not wanted else 0.0
    weights = [1 / rank for rank in range(1, len(passages) + 1)]
    shares = [
        len(wanted & terms(f"{passage.heading}\n{passage.text}")) / len(wanted)
        for passage in passages
    ]
    return sum(w * s for w, s in zip(weights, shares, strict=True)) / sum(weights)


class AtlasQuery:
    """Retrieves from the local index and answers with Claude or the offline extractive answerer."""

    def __init__(
        self,
        settings: Settings,
        knowledge: KnowledgeBase | None = None,
        answerer: Answerer | None = None,
    ) -> None:
        self.settings = settings
        self._knowledge = knowledge
        self._answerer = answerer
        self._system_prompt: str | None = None

    # --- the parts, made lazily so constructing a client is instant

    @property
    def knowledge(self) -> KnowledgeBase:
        if self._knowledge is None:
            from atlas_tui.knowledge.base import KnowledgeBase

            self._knowledge = KnowledgeBase(self.settings)
        return self._knowledge

    @property
    def answerer(self) -> Answerer:
        if self._answerer is None:
            from atlas_tui.generation import make_answerer

            self._answerer = make_answerer(self.settings, self.encode)
        return self._answerer

    def encode(self, texts: list[str]) -> Any:
        """Texts as L2-normalised vectors by the retrieval model (the offline answerer's use).

        The answerer's texts are a few short excerpts: each is encoded alone on one thread (the
        query path), two at a time. That costs about half the CPU of one batch on every core,
        which pads each text to the longest and whose threads spin against each other on a busy
        machine, and still uses both cores when they are free (benchmarks/RESULTS-answers.md).
        """
        return list(_ENCODE_POOL.map(self.knowledge.embedder.encode_query, texts))

    @property
    def answerer_label(self) -> str:
        return self.answerer.label

    @property
    def extractive(self) -> bool:
        return self.answerer.extractive

    def can_research(self, model: str | None = None) -> bool:
        """Whether research mode runs with `model` (None: the default): a model that can call
        tools answers it (Claude, or an endpoint on the anthropic profile), not the offline
        answerer nor a server on the compatible profile. Cheap once warm (the TUI asks it on its
        UI thread): the offline answerer is answered without loading the SDK."""
        if self.answerer.extractive:
            return False
        from atlas_tui.generation.research import tool_user

        return tool_user(self.answerer, model) is not None

    def label_for(self, model: str | None = None) -> str:
        """Who answers `model` (None: the default): "local qwen3 via Ollama", "Claude ..."."""
        return self.settings.label_for(model)

    def model_choices(self) -> list[tuple[str, str]]:
        """The models a picker offers, as (model, who answers it)."""
        return self.settings.model_choices()

    def model_offers(self, *, ask_servers: bool = True) -> list[Offer]:
        """Claude's and each endpoint's models, with what each server lists at /v1/models."""
        from atlas_tui.generation.catalog import offers

        return offers(self.settings, ask_servers=ask_servers)

    def warm(self) -> None:
        """Load the embedding model and open the index (slow: call off the UI thread)."""
        self.knowledge.warm()

    # --- retrieval

    def retrieve(
        self,
        text: str,
        *,
        filter: dict[str, Any] | None = None,
        source: str | None = None,
        max_results: int | None = None,
        min_relevance_score: float | None = None,
        use_hybrid_search: bool | None = None,
        mode: str | None = None,
    ) -> list[Passage]:
        if mode is None and use_hybrid_search is not None:
            mode = "hybrid" if use_hybrid_search else "vector"
        return self.knowledge.search(
            text,
            mode=mode or self.settings.search_mode,
            limit=self.settings.max_results if max_results is None else max_results,
            source=source,
            where=filter,
            min_score=(
                self.settings.min_relevance_score
                if min_relevance_score is None
                else min_relevance_score
            ),
        )

    def retrieve_turn(self, text: str, history: Sequence[Turn] = (), **knobs: Any) -> list[Passage]:
        """The passages for a question asked in a conversation.

        A question that may lean on the conversation (`may_lean`) is searched both ways: alone,
        and with the previous question. The follow-up reading is kept when it loses nothing of
        what was just asked: its passages hold the question's own terms as well as the
        question's own search does (`coverage`). "and in text mode?" searched with "How do I
        open a gzip file?" finds gzip.open's text-mode sentence, so the context is kept;
        "what does ctrl+s do" searched with "How do I ingest a folder?" finds the ingest
        passages, which do not name ctrl+s, so the question is searched alone.
        """
        if not may_lean(text, history):
            return self.retrieve(text, **knobs)
        alone = self.retrieve(text, **knobs)
        joined = self.retrieve(follow_up_query(text, history), **knobs)
        if coverage(text, joined) >= coverage(text, alone) - FOLLOW_UP_MARGIN:
            return joined
        return alone

    def retrieve_only(self, text: str, **knobs: Any) -> list[dict[str, Any]]:
        return [_document_dict(p) for p in self.retrieve(text, **knobs)]

    # --- the event stream

    def events(
        self,
        text: str,
        *,
        history: Sequence[Turn] = (),
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **knobs: Any,
    ) -> QueryRun:
        """`model`: the Claude model for this question (default: the configured one);
        `system_prompt`: instructions added to the system prompt for this question;
        `temperature`, `max_tokens`: its sampling temperature and answer length cap (default:
        the model's and the configured `max_answer_tokens`). They are for the model: the offline
        answerer ignores them. Other knobs go to retrieval."""
        answer_knobs = {
            "model": model,
            "system_prompt": system_prompt,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        return QueryRun(lambda run: self._events(run, text, tuple(history), knobs, answer_knobs))

    def _events(
        self,
        run: QueryRun,
        text: str,
        history: tuple[Turn, ...],
        knobs: dict[str, Any],
        answer_knobs: dict[str, Any] | None = None,
        notice: str = "",
    ) -> Iterator[Event]:
        """`notice`: a line that begins the answer (research mode's, when it answers with one
        search)."""
        # only the knobs given reach the answerer (answerers that take none keep working)
        given = {k: v for k, v in (answer_knobs or {}).items() if v not in (None, "")}
        started = time.perf_counter()
        try:
            passages = self.retrieve_turn(text, history, **knobs)
        except AtlasError as error:
            yield Failed(error)
            return
        retrieval_ms = (time.perf_counter() - started) * 1000
        yield Retrieved(tuple(passages), retrieval_ms)
        if run.cancelled:
            yield Failed(CancelledError_("Cancelled."))
            return

        def stream() -> AnswerStream:
            answer = self.answerer.stream(text, passages, history, **given)
            return Prefixed(answer, notice) if notice else answer

        yield from self._answer(run, stream, started, retrieval_ms, given)

    def _answer(
        self,
        run: QueryRun,
        stream: Callable[[], AnswerStream],
        started: float,
        retrieval_ms: float,
        given: dict[str, Any],
    ) -> Iterator[Event]:
        """The answer's events: its `Delta`s (and research's `Round`s), then `Done` or `Failed`."""
        parts: list[str] = []
        citations: list[Citation] = []
        first_token: float | None = None
        usage = Usage()
        completed: Completed | None = None
        rounds = 0
        try:
            answer = stream()
            run.attach(answer)
            try:
                for event in answer:
                    if run.cancelled:
                        raise CancelledError_("Cancelled.")
                    if isinstance(event, Delta):
                        if first_token is None:
                            first_token = time.perf_counter()
                        parts.append(event.text)
                        citations.extend(event.citations)
                        yield event
                    elif isinstance(event, Round):
                        rounds += 1
                        retrieval_ms += event.round.tool_ms
                        yield event
                    else:
                        usage, completed = event.usage, event
            finally:
                answer.close()
        except AtlasError as error:  # a GenerationError, or e.g. an unreadable prompt file
            error.partial_text = "".join(parts)
            yield Failed(error, error.partial_text)
            return
        finished = time.perf_counter()
        answer_text = "".join(parts)
        streaming_s = finished - (first_token or finished)
        # Only a model's own count makes a rate worth showing (the extractive answer is instant),
        # and only over a stream long enough to time: a reply that arrives in one burst would
        # read as tens of thousands of tokens a second.
        tokens = usage.output_tokens
        measurable = tokens >= MIN_RATE_TOKENS and streaming_s >= MIN_RATE_SECONDS
        if completed is not None and completed.answerer:  # a router said who answered
            extractive, model, label = completed.extractive, completed.model, completed.answerer
        else:
            extractive = self.answerer.extractive
            model = "" if extractive else str(given.get("model") or self.settings.model)
            label = (
                self.answerer.label
                if extractive or not given.get("model")
                else self.settings.label_for(model)
            )
        model = "" if extractive else model
        yield Done(
            answer=answer_text,
            citations=tuple(citations),
            usage=usage,
            timings=Timings(
                retrieval_ms=retrieval_ms,
                first_token_ms=None if first_token is None else (first_token - started) * 1000,
                total_ms=(finished - started) * 1000,
                tokens_per_s=tokens / streaming_s if measurable else None,
            ),
            answerer=label,
            extractive=extractive,
            model=model,
            cost_usd=None if extractive else cost_usd(self.settings.prices, model, usage),
            rounds=rounds,
        )

    # --- research mode

    def research_events(
        self,
        text: str,
        *,
        history: Sequence[Turn] = (),
        model: str | None = None,
        system_prompt: str | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        **knobs: Any,
    ) -> QueryRun:
        """Research mode: the model searches the index itself, round after round, then answers.

        Yields a `Round` per round of tool calls (every passage gathered so far, numbered as the
        answer cites them), then `Delta`s, then `Done` or `Failed`. Without a model that can call
        tools (the offline answerer, a server on the compatible profile) the answer begins with a
        line saying so and comes from one search, as `events()` gives it. Knobs as for `events()`
        (`mode` and `source` become the searches' default mode and limit)."""
        answer_knobs = {
            "model": model,
            "system_prompt": system_prompt,
            "temperature": temperature,
            "max_tokens": max_tokens,
        }
        return QueryRun(lambda run: self._research(run, text, tuple(history), knobs, answer_knobs))

    def _research(
        self,
        run: QueryRun,
        text: str,
        history: tuple[Turn, ...],
        knobs: dict[str, Any],
        answer_knobs: dict[str, Any],
    ) -> Iterator[Event]:
        from atlas_tui.generation.research import ResearchStream, ToolsUnsupportedError, tool_user
        from atlas_tui.query_research import IndexTools, no_tools_line

        model = answer_knobs.get("model")
        found = tool_user(self.answerer, model)
        if found is None:
            line = no_tools_line(self.label_for(model))
            yield from self._events(run, text, history, knobs, answer_knobs, notice=line)
            return
        answerer, chosen = found
        given = {k: v for k, v in answer_knobs.items() if v not in (None, "")}

        def stream() -> AnswerStream:
            return ResearchStream(
                answerer,
                text,
                IndexTools(self, knobs),
                history,
                model=chosen,
                system_prompt=answer_knobs.get("system_prompt"),
                temperature=answer_knobs.get("temperature"),
                max_tokens=answer_knobs.get("max_tokens"),
            )

        for event in self._answer(run, stream, time.perf_counter(), 0.0, given):
            if isinstance(event, Failed) and isinstance(event.error, ToolsUnsupportedError):
                # the server refused the tools' blocks before anything was said: it has learnt
                # to take the compatible form, which has none; one search, as `events()` does
                line = no_tools_line(self.label_for(model))
                yield from self._events(run, text, history, knobs, answer_knobs, notice=line)
                return
            yield event

    def research(
        self,
        text: str,
        callback: DeltaCallback,
        *,
        on_round: Callable[[Round], None] | None = None,
        **knobs: Any,
    ) -> str:
        """Research, streaming the answer as `query_streaming` does (`callback(delta,
        full_text)`), and calling `on_round(round)` after each round of searching; returns the
        answer."""
        return stream_text(self.research_events(text, **knobs), callback, on_round)

    # --- the origin's conveniences

    def query_streaming(self, text: str, callback: DeltaCallback, **knobs: Any) -> str:
        """Stream the answer, calling `callback(delta, full_text)` per piece; return the answer."""
        return stream_text(self.events(text, **knobs), callback)

    def query(self, text: str, **knobs: Any) -> str:
        return self.query_streaming(text, lambda _delta, _full: None, **knobs)

    def query_with_context(self, text: str, **knobs: Any) -> dict[str, Any]:
        documents: list[dict[str, Any]] = []
        response = ""
        for event in self.events(text, **knobs):
            if isinstance(event, Retrieved):
                documents = [_document_dict(p) for p in event.documents]
            elif isinstance(event, Delta):
                response += event.text
            elif isinstance(event, Failed):
                raise event.error
        return {"response": response, "context": {"documents": documents, "query": text}}

    # --- the index, for the CLI and the TUI

    def ingest(self, paths: Sequence[str], **options: Any) -> IngestReport:
        """Ingest `paths` (`progress=`, `should_stop=`: see KnowledgeBase.ingest)."""
        return self.knowledge.ingest(paths, **options)

    def pending(self) -> int:
        """How many passages await a vector (vector search does not find them yet)."""
        return self.knowledge.pending()

    def resume_embedding(self, **options: Any) -> IngestReport:
        """Embed the passages awaiting a vector (`progress=`, `should_stop=`)."""
        return self.knowledge.resume_embedding(**options)

    def continue_in_background(
        self, paths: Sequence[str] = (), config_file: str | None = None
    ) -> Detached:
        """Carry an ingest on in a process of its own, which outlives this one (detached.py):
        the paths again, or with none, the embedding of what awaits a vector."""
        from atlas_tui.detached import continue_detached

        return continue_detached(self.settings, paths, config_file)

    def stats(self) -> Any:
        return self.knowledge.stats()

    def document_text(self, passage: Passage) -> str:
        """The whole extracted text of the passage's file, for a preview in context."""
        return self.knowledge.document_text(passage)


def _document_dict(passage: Passage) -> dict[str, Any]:
    return {
        "content": passage.text,
        "metadata": passage.metadata(),
        "relevance_score": passage.score,
    }


def create_query_client(
    *,
    system_prompt_file: str | None = None,
    collection_name: str | None = None,
    db_path: str | None = None,
    model_name: str | None = None,
    provider_name: str | None = None,
    **overrides: Any,
) -> AtlasQuery:
    """The client, configured from defaults < config file < environment < these arguments."""
    settings = load_settings(
        system_prompt_file=system_prompt_file,
        collection=collection_name,
        db_path=db_path,
        model=model_name,
        provider=provider_name,
        **overrides,
    )
    return AtlasQuery(settings)
