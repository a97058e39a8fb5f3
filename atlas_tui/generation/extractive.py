"""The offline answerer: quotes the retrieved sentences most relevant to the question, cited.

No model and no network. Sentences of the chosen passages (the same selection Claude gets) are
scored by the question's terms they contain, each term weighted by how rare it is among those
sentences (an IDF), then lifted by their passage's retrieval score. The best few are quoted
verbatim, each followed by its [n]; nothing is written that is not in the documents, apart from the
opening line that says what this answer is and the line that says when nothing relevant was found.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from atlas_tui.config import Settings
from atlas_tui.errors import CancelledError_
from atlas_tui.generation import Completed, GenerationEvent, TextDelta
from atlas_tui.generation.prompts import NumberedPassage, select_passages
from atlas_tui.types import Citation, Passage, Turn

MAX_SENTENCES = 5
MIN_WORDS = 4
NOTHING_RETRIEVED = "Nothing in the index matched this question, so there is nothing to quote."
NOTHING_RELEVANT = (
    "None of the retrieved passages contains the question's terms, so there is nothing to quote; "
    "see the retrieved documents, or rephrase the question."
)

_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        """a an and are as at be by can could do does for from how i if in into is it its me my of
        on or our should so than that the their them then there these they this to use used using
        was we were what when where which who why will with would you your""",
    )
)
# A sentence ends at . ! or ? followed by white space, or at the end of its block.
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s)|$)", re.DOTALL)
# Lines that stand alone rather than continue a wrapped paragraph: list items, headings, tables,
# quotes, reST directives and field lists.
_STANDALONE = re.compile(r"^\s*(?:[-*+•]\s|\d+[.)]\s|#|\||>|\.\.\s|:\w)")
_WORD = re.compile(r"[a-z0-9][a-z0-9_+#.-]*[a-z0-9+#]|[a-z0-9]")


def _terms(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def _stem(word: str) -> str:
    """A light plural/verb-form fold, enough for overlap scoring ("indexes" ~ "index")."""
    for suffix in ("ies", "es", "s", "ing", "ed"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


@dataclass(frozen=True, slots=True)
class _Sentence:
    text: str  # verbatim from the passage
    numbered: NumberedPassage
    terms: frozenset[str]
    position: int


def _blocks(text: str) -> Iterator[str]:
    """Paragraphs (soft-wrapped lines kept together, verbatim); list items, headings and table
    rows each a block of their own."""
    for paragraph in re.split(r"\n\s*\n", text):
        current: list[str] = []
        for line in paragraph.splitlines():
            if _STANDALONE.match(line) and current:
                yield "\n".join(current)
                current = []
            current.append(line)
        if current:
            yield "\n".join(current)


def _sentences(chosen: Sequence[NumberedPassage]) -> list[_Sentence]:
    found: list[_Sentence] = []
    for numbered in chosen:
        for block in _blocks(numbered.text):
            if block.startswith("```"):
                continue
            for match in _SENTENCE.finditer(block):
                text = match.group().strip()
                # Too short to answer anything, or a question rather than an answer.
                if len(text.split()) < MIN_WORDS or text.endswith("?"):
                    continue
                found.append(_Sentence(text, numbered, frozenset(_terms(text)), len(found)))
    return found


def rank_sentences(question: str, chosen: Sequence[NumberedPassage]) -> list[_Sentence]:
    """The sentences that share terms with the question, most relevant first."""
    wanted = _terms(question)
    sentences = _sentences(chosen)
    if not wanted or not sentences:
        return []
    count = len(sentences)
    idf = {
        term: math.log(1 + count / (1 + sum(term in s.terms for s in sentences))) for term in wanted
    }
    scored: list[tuple[float, _Sentence]] = []
    for sentence in sentences:
        overlap = sum(idf[t] for t in wanted & sentence.terms)
        if overlap <= 0:
            continue
        length_penalty = 1 + math.log1p(len(sentence.terms) / 20)
        lift = 0.5 + max(0.0, min(1.0, sentence.numbered.passage.score))
        scored.append((overlap * lift / length_penalty, sentence))
    scored.sort(key=lambda pair: (-pair[0], pair[1].position))
    return [sentence for _score, sentence in scored]


def _quote(sentence: str) -> str:
    """A Markdown block quote that keeps the sentence verbatim and cannot open a code block."""
    return "> " + " ".join(sentence.split())


class ExtractiveAnswerer:
    """Answers without a model: the most relevant sentences, quoted with their citations."""

    label = "offline extractive"
    extractive = True

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

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
    ) -> ExtractiveStream:
        return ExtractiveStream(self.opening, question, passages, self.settings)


class ExtractiveStream:
    def __init__(
        self, opening: str, question: str, passages: Sequence[Passage], settings: Settings
    ) -> None:
        self._opening = opening
        self._question = question
        self._passages = passages
        self._settings = settings
        self._cancelled = threading.Event()

    def _deltas(self) -> Iterator[TextDelta]:
        yield TextDelta(self._opening)
        if not self._passages:
            yield TextDelta(NOTHING_RETRIEVED + "\n")
            return
        chosen = select_passages(self._passages, self._settings.context_token_budget)
        ranked = rank_sentences(self._question, chosen)[:MAX_SENTENCES]
        if not ranked:
            yield TextDelta(NOTHING_RELEVANT + "\n")
            return
        for sentence in ranked:
            numbered = sentence.numbered
            citation = Citation(numbered.number, numbered.passage.chunk_id, sentence.text, True)
            yield TextDelta(f"{_quote(sentence.text)} [{numbered.number}]\n\n", (citation,))

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
