"""The offline answerer: quotes the few excerpts of the retrieved passages that answer the question.

No generative model and no network. The passages chosen for context (the same selection Claude
gets) are cut into excerpts (see `excerpts`: sentences, a lead-in with its code block or list, a
table row with its header, a signature with its description). Each excerpt is scored by meaning
(cosine similarity with the question, from the embedding model retrieval already loaded, injected
as `encode`) plus the question's terms it contains (each weighted by its rarity among the excerpts)
plus a little of its passage's retrieval score, plus a bonus when it shows code (larger when the
question asks how to do something); only the best few by the other scores are encoded, each cut
short. The best is quoted, then the next ones only while they are nearly as good (at most
`MAX_QUOTES`, about `WORD_BUDGET` words); neighbouring sentences of one passage become one quote,
and quotes follow document and position order. When even the best excerpt is weak, the answer
says plainly that nothing answers the question.

Nothing is written that is not in the documents, apart from the labelled opening line and the
line that says nothing answers.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from atlas_tui.config import Settings
from atlas_tui.errors import CancelledError_
from atlas_tui.generation import EXTRACTIVE_LABEL, Completed, GenerationEvent, TextDelta
from atlas_tui.generation.excerpts import Excerpt, excerpts
from atlas_tui.generation.prompts import NumberedPassage, select_passages
from atlas_tui.generation.terms import terms
from atlas_tui.types import Citation, Passage, Turn

# Texts -> L2-normalised vectors, one row per text (e.g. the knowledge base's embedder).
Encode = Callable[[list[str]], Any]

MAX_QUOTES = 3
# A further quote is added only while the answer stays within this many words (chosen on either
# half of the questions, cross-validated: benchmarks/RESULTS-corpus.md; answers average ~63).
WORD_BUDGET = 90
MARGIN = 0.3  # a further quote scores at least (1 - MARGIN) times the best one's score
LEXICAL_WEIGHT = 0.4
PASSAGE_WEIGHT = 0.1
TERMS_RATIO = 0.3  # a further quote has at least this share of the best one's term weight...
CLOSE_MEANING = 0.05  # ...or a meaning score this close to the best one's
WEAK_MEANING = 0.3  # below this cosine, and with few of the question's terms, nothing answers
WEAK_TERMS = 0.5
MAX_CANDIDATES = 8  # excerpts encoded per question (the best by terms and passage score)
EMBED_CHARS = 120  # of each excerpt, enough for its meaning and cheap to encode
EMBED_CODE_CHARS = 60
LONG_WORDS = 40  # excerpts longer than this lose LONG_PENALTY per word
LONG_PENALTY = 0.003
USE_SECTION = True
CODE_BONUS = 0.1  # an excerpt that names code (a call, a keyword argument, an identifier)
HOW_CODE_BONUS = 0.2  # one that shows code (a block, a signature), for a how-to question
# A "which/what X" question asks for a name: an excerpt naming something specific the question does
# not (a key, a constant, a product or format name) gets the code bonus too.
NAME_BONUS = True

NOTHING_RETRIEVED = (
    "Nothing in the index matched this question, so there is nothing to quote. "
    "Try other words, or check what is indexed with `atlas-tui stats`."
)
NOTHING_ANSWERS = (
    "None of the retrieved passages seems to answer this question, so nothing is quoted. "
    "The closest documents are listed in the documents pane (and under Sources); "
    "open them to look, or rephrase the question."
)

_HOW = re.compile(r"\s*how\s+(?:do|can|could|should|would|to)\b", re.IGNORECASE)
# "Which key ...", "What command ...", "which file types": a question whose answer is a name
_WHICH = re.compile(
    r"\s*(?:which|what)\s+(?!is\b|are\b|does\b|do\b|did\b|was\b|were\b|happens\b|can\b)"
    r"[a-z-]+",
    re.IGNORECASE,
)
_NAME = re.compile(
    r"\b(?:Ctrl|Alt|Shift|Cmd|Meta)\+\S+|\bF\d{1,2}\b|\b[A-Z][A-Z0-9]+(?:_[A-Z0-9]+)*\b"
    r"|\b[A-Za-z]+-[A-Za-z0-9-]*\d[\w-]*|--?[a-z][\w-]+|(?<=[a-z,;] )[A-Z][a-z]+[A-Za-z]*"
)
_CODE_LIKE = re.compile(
    r"\w\(|\b\w+=|\b[a-z]+_\w+|\b[a-z]+\.[a-z_]\w*|\b[A-Z][a-z]+[A-Z]\w*|\b[a-z]+[A-Z]\w*|`"
    r"|@[a-z_]\w*"  # a decorator
    r"|\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b"  # an environment variable or a constant
)


@dataclass(frozen=True, slots=True)
class Candidate:
    excerpt: Excerpt
    numbered: NumberedPassage
    order: int  # position among all candidates, in document order
    score: float = 0.0
    meaning: float = 0.0  # cosine with the question (0 without an encoder)
    terms: float = 0.0  # share of the question's term weight it contains


def candidates(chosen: Sequence[NumberedPassage]) -> list[Candidate]:
    """Every excerpt of the chosen passages, duplicates (overlapping chunks) once."""
    seen: set[str] = set()
    found: list[Candidate] = []
    for numbered in chosen:
        for excerpt in excerpts(numbered.text, numbered.passage.heading):
            key = " ".join(excerpt.prose.lower().split())
            if key in seen:
                continue
            seen.add(key)
            found.append(Candidate(excerpt, numbered, len(found)))
    return found


def _code_like(text: str) -> bool:
    return _CODE_LIKE.search(text) is not None


def _names_new(text: str, question: str) -> bool:
    """Whether `text` names something specific (a key, a constant, a product or format name, an
    option) that the question does not."""
    asked = terms(question)
    return any(not terms(m.group()) <= asked for m in _NAME.finditer(text))


def score(question: str, found: list[Candidate], vectors: Vectors | None = None) -> list[Candidate]:
    """The candidates scored, best first. Without `vectors`, by terms and passage score only."""
    wanted = terms(question)
    if not found:
        return []
    found_terms = [frozenset(terms(c.excerpt.prose)) for c in found]
    count = len(found)
    idf = {t: math.log(1 + count / (1 + sum(t in ts for ts in found_terms))) for t in wanted}
    total = sum(idf.values()) or 1.0
    scored = []
    bonus = HOW_CODE_BONUS if _HOW.match(question) else CODE_BONUS
    asks_name = NAME_BONUS and _WHICH.match(question) is not None
    for candidate, its_terms in zip(found, found_terms, strict=True):
        share = sum(idf[t] for t in wanted & its_terms) / total
        prior = max(0.0, min(1.0, candidate.numbered.passage.score))
        long = max(0, candidate.excerpt.words - LONG_WORDS) * LONG_PENALTY
        code = 0.0
        shown = " ".join(candidate.excerpt.shown())
        if _code_like(shown):  # a how-to favours what shows code
            code = CODE_BONUS if candidate.excerpt.kind == "sentence" else bonus
        elif asks_name and _names_new(shown, question):
            code = CODE_BONUS
        # Without meaning, the terms are all there is: they get the weight meaning would have.
        weight = LEXICAL_WEIGHT if vectors is not None else 1.0
        value = weight * share + PASSAGE_WEIGHT * prior + code - long
        scored.append(replace(candidate, terms=share, score=value))
    if vectors is not None:
        scored.sort(key=lambda c: -c.score)
        shortlist = scored[:MAX_CANDIDATES]
        meaning = vectors.similarity(question, [_embedded(c) for c in shortlist])
        scored = [
            replace(c, meaning=m, score=c.score + m)
            for c, m in zip(shortlist, meaning, strict=True)
        ]
    scored.sort(key=lambda c: (-c.score, c.order))
    return scored


def _embedded(candidate: Candidate) -> str:
    """What is encoded for an excerpt: its words, after its section's title for context."""
    excerpt = candidate.excerpt
    section = excerpt.section or candidate.numbered.passage.heading.rpartition(" > ")[2]
    if excerpt.kind == "lead":  # its words, then the start of the code, list or table it shows
        lead = len(excerpt.quote[0])
        text = excerpt.prose[:lead][:EMBED_CHARS] + excerpt.prose[lead:][:EMBED_CODE_CHARS]
    elif excerpt.kind == "code" and len(excerpt.parts) == 1:  # code alone: its start
        text = excerpt.prose[:EMBED_CODE_CHARS]
    else:
        text = excerpt.prose[:EMBED_CHARS]
    return f"{section}: {text}" if section and USE_SECTION else text


class Vectors:
    """Cosine similarity by the injected encoder, each text's vector kept for the next question."""

    def __init__(self, encode: Encode, cache_size: int = 4096) -> None:
        self._encode = encode
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def similarity(self, question: str, texts: list[str]) -> list[float]:
        with self._lock:
            missing = list(dict.fromkeys(t for t in [question, *texts] if t not in self._cache))
        if missing:
            encoded = self._encode(missing)
            with self._lock:
                for text, vector in zip(missing, encoded, strict=True):
                    self._cache[text] = vector
                    self._cache.move_to_end(text)
        with self._lock:
            wanted = self._cache[question]
            vectors = [self._cache[t] for t in texts]
            for text in [question, *texts]:
                self._cache.move_to_end(text)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return [float(vector @ wanted) for vector in vectors]


def _weak(best: Candidate, semantic: bool) -> bool:
    if semantic:
        return best.meaning < WEAK_MEANING and best.terms < WEAK_TERMS
    return best.terms <= 0


def _overlaps(a: Candidate, b: Candidate) -> bool:
    if a.numbered.number != b.numbered.number:
        return False
    if set(a.excerpt.parts) & set(b.excerpt.parts):  # e.g. a sentence quoted with its code
        return True
    if a.excerpt.block != b.excerpt.block:
        return False
    return a.excerpt.first <= b.excerpt.last and b.excerpt.first <= a.excerpt.last


def _as_relevant(candidate: Candidate, best: Candidate) -> bool:
    """A further quote shares the question's terms (about as much as the best does), or means
    nearly the same: not merely a neighbour on the topic."""
    if candidate.terms <= 0 and candidate.meaning <= 0:
        return False  # without meaning scores, a quote must contain the question's terms
    return candidate.terms >= TERMS_RATIO * best.terms or (
        candidate.meaning >= best.meaning - CLOSE_MEANING and candidate.meaning > 0
    )


def choose(ranked: list[Candidate]) -> list[Candidate]:
    """The best candidate, then those nearly as good, in document order."""
    best = ranked[0]
    chosen = [best]
    words = best.excerpt.shown_words
    for candidate in ranked[1:]:
        if len(chosen) >= MAX_QUOTES or candidate.score < best.score * (1 - MARGIN):
            break
        if not _as_relevant(candidate, best) or any(_overlaps(candidate, c) for c in chosen):
            continue
        if words + candidate.excerpt.shown_words > WORD_BUDGET:
            continue
        chosen.append(candidate)
        words += candidate.excerpt.shown_words
    return sorted(chosen, key=lambda c: c.order)


@dataclass(frozen=True, slots=True)
class Quote:
    numbered: NumberedPassage
    lines: tuple[str, ...]
    parts: tuple[str, ...]
    ends_in_prose: bool

    def markdown(self) -> str:
        number = self.numbered.number
        lines = [f"> {line}" if line else ">" for line in self.lines]
        if self.ends_in_prose:
            lines[-1] += f" [{number}]"
        else:
            lines += [">", f"> [{number}]"]
        return "\n".join(lines) + "\n\n"

    def citations(self) -> tuple[Citation, ...]:
        chunk = self.numbered.passage.chunk_id
        return tuple(Citation(self.numbered.number, chunk, part, True) for part in self.parts)


def quotes(chosen: list[Candidate]) -> list[Quote]:
    """One quote per chosen excerpt, neighbouring sentences of one passage merged; an object's
    name is shown before the first of the quotes that follow one another from its section."""
    out: list[Quote] = []
    previous: Candidate | None = None
    for candidate in chosen:
        excerpt = candidate.excerpt
        if (
            previous is not None
            and out
            and out[-1].ends_in_prose
            and excerpt.kind == "sentence"
            and previous.numbered.number == candidate.numbered.number
            and previous.excerpt.block == excerpt.block
            and excerpt.first == previous.excerpt.last + 1
        ):
            last = out[-1]
            joined = (*last.lines[:-1], f"{last.lines[-1]} {excerpt.quote[0]}")
            out[-1] = replace(last, lines=joined, parts=(*last.parts, *excerpt.parts))
        else:
            # a subject is named once for the quotes that follow one another from its section
            same = previous is not None and previous.excerpt.subject == excerpt.subject
            lines = excerpt.quote if same else excerpt.shown()
            out.append(Quote(candidate.numbered, lines, excerpt.parts, excerpt.ends_in_prose))
        previous = candidate
    return out


class ExtractiveAnswerer:
    """Answers without a model: the excerpts that answer, quoted with their citations."""

    label = EXTRACTIVE_LABEL
    extractive = True

    def __init__(self, settings: Settings, encode: Encode | None = None) -> None:
        self.settings = settings
        self.vectors = Vectors(encode) if encode is not None else None

    @property
    def opening(self) -> str:
        why = "" if self.settings.api_key else " (no API key configured)"
        return f"_Offline extractive answer{why}: the most relevant passages, quoted._\n\n"

    def stream(
        self,
        question: str,
        passages: Sequence[Passage],
        history: Sequence[Turn] = (),
        *,
        model: str | None = None,  # for Claude only: quoting needs no model
        system_prompt: str | None = None,  # for Claude only: quoting follows no instructions
        temperature: float | None = None,  # for models only: quoting does not sample
        max_tokens: int | None = None,  # for models only: a quote is as long as it is
    ) -> ExtractiveStream:
        return ExtractiveStream(self, question, passages)

    def answer_quotes(self, question: str, passages: Sequence[Passage]) -> list[Quote] | None:
        """The quotes that answer; [] when nothing does; None when nothing was retrieved."""
        if not passages:
            return None
        chosen = select_passages(passages, self.settings.context_token_budget)
        ranked = score(question, candidates(chosen), self.vectors)
        if not ranked or _weak(ranked[0], self.vectors is not None):
            return []
        return quotes(choose(ranked))


class ExtractiveStream:
    def __init__(
        self, answerer: ExtractiveAnswerer, question: str, passages: Sequence[Passage]
    ) -> None:
        self._answerer = answerer
        self._question = question
        self._passages = passages
        self._cancelled = threading.Event()

    def _deltas(self) -> Iterator[TextDelta]:
        yield TextDelta(self._answerer.opening)
        found = self._answerer.answer_quotes(self._question, self._passages)
        if found is None:
            yield TextDelta(NOTHING_RETRIEVED + "\n")
        elif not found:
            yield TextDelta(NOTHING_ANSWERS + "\n")
        for quote in found or ():
            yield TextDelta(quote.markdown(), quote.citations())

    def __iter__(self) -> Iterator[GenerationEvent]:
        text = ""
        for delta in self._deltas():
            if self._cancelled.is_set():
                raise CancelledError_("Answer cancelled.", partial_text=text)
            text += delta.text
            yield delta
        if self._cancelled.is_set():
            raise CancelledError_("Answer cancelled.", partial_text=text)
        yield Completed()

    def cancel(self) -> None:
        self._cancelled.set()

    def close(self) -> None:
        self._cancelled.set()

    def __enter__(self) -> ExtractiveStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
