"""The Atlas query client: retrieve passages, then stream a cited answer.

`AtlasQuery.events()` is the spine: it yields `Retrieved`, then `Delta`s, then `Done` or `Failed`.
`query`, `query_streaming`, `retrieve_only` and `query_with_context` are thin loops over it, and the
TUI's worker is another.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from atlas_tui.config import Settings, load_settings
from atlas_tui.errors import AtlasError, CancelledError_
from atlas_tui.generation import Completed, TextDelta
from atlas_tui.generation.terms import terms
from atlas_tui.types import Citation, Passage, Turn, Usage
from atlas_tui.usage import cost_usd, usage_record

if TYPE_CHECKING:
    from atlas_tui.generation import Answerer, AnswerStream
    from atlas_tui.generation.catalog import Offer
    from atlas_tui.knowledge.base import IngestReport, KnowledgeBase


# The offline answerer's excerpts, encoded two at a time (the model releases the GIL).
_ENCODE_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="atlas-encode")

MIN_RATE_SECONDS = 0.5  # a shorter stream is too short to time: no tokens/s is shown
MIN_RATE_TOKENS = 16


@dataclass(frozen=True, slots=True)
class Timings:
    retrieval_ms: float = 0.0
    first_token_ms: float | None = None  # from the call to the first delta
    total_ms: float = 0.0
    tokens_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class Retrieved:
    documents: tuple[Passage, ...]
    retrieval_ms: float = 0.0


# A piece of the answer, with the citations it carries: the answerer's own event, passed through.
Delta = TextDelta


@dataclass(frozen=True, slots=True)
class Done:
    answer: str
    citations: tuple[Citation, ...]
    usage: Usage
    timings: Timings
    answerer: str
    extractive: bool = False
    model: str = ""  # the Claude model that answered ("" for the offline answerer)
    cost_usd: float | None = None  # from the model's own token counts, where its price is known

    def usage_record(self) -> dict[str, Any]:
        """Tokens in and out (and the cost, when known), as stored with the turn."""
        return usage_record(self.usage, self.cost_usd)


@dataclass(frozen=True, slots=True)
class Failed:
    error: AtlasError
    partial_text: str = ""

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, CancelledError_)


Event = Retrieved | Delta | Done | Failed
DeltaCallback = Callable[[str, str], None]


class QueryRun:
    """One question's event stream. Iterate it; `cancel()` may be called from any thread."""

    def __init__(self, events: Callable[[QueryRun], Iterator[Event]]) -> None:
        self._cancelled = threading.Event()
        self._answer: AnswerStream | None = None
        self._lock = threading.Lock()
        self._iterator = events(self)

    def __iter__(self) -> Iterator[Event]:
        return self._iterator

    def __next__(self) -> Event:
        return next(self._iterator)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def attach(self, answer: AnswerStream) -> None:
        with self._lock:
            self._answer = answer
            if self._cancelled.is_set():
                answer.cancel()

    def cancel(self) -> None:
        self._cancelled.set()
        with self._lock:
            if self._answer is not None:
                self._answer.cancel()

    def close(self) -> None:
        self.cancel()
        self._iterator.close()


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
    ) -> Iterator[Event]:
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
        parts: list[str] = []
        citations: list[Citation] = []
        first_token: float | None = None
        usage = Usage()
        completed: Completed | None = None
        try:
            answer = self.answerer.stream(text, passages, history, **given)
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
        )

    # --- the origin's conveniences

    def query_streaming(self, text: str, callback: DeltaCallback, **knobs: Any) -> str:
        """Stream the answer, calling `callback(delta, full_text)` per piece; return the answer."""
        full = ""
        for event in self.events(text, **knobs):
            if isinstance(event, Delta):
                full += event.text
                callback(event.text, full)
            elif isinstance(event, Failed):
                raise event.error
        return full

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
        return self.knowledge.ingest(paths, **options)

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
