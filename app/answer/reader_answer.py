"""Passages → a short answer and the sentence that holds it, quoted with its exact span: the default answerer.

The reader model (`app/answer/reader.py`) reads each retrieved passage, widened to whole
sentences and prefixed with its title and headings ("Graeme Clark › Early life: Born: …", so a
field line knows whose it is), and proposes answer spans. Then:

1. A span is a candidate unless it lies in a heading, is the very thing the question names ("Who
   replaced Graeme Clark?" is not answered "Graeme Clark"), or is malformed (an unbalanced quote
   or bracket).
2. Each candidate is described (`app/answer/calibration.py`): the reader's score, whether it has
   the type the question asks for (from the entities found when the index was built), whether its
   passage states the question's own names and numbers, and how many of its other words. The
   calibrated combination gives each the chance it is a right answer; the best leads the answer
   and the sentence(s) holding it are quoted word for word, with their `[start, end)` span and a citation.
3. A second quote only when another passage gives the same answer (support from another
   place) or a different figure for the same question (sources disagree: the article's
   C$9 billion beside the Conference Board's C$8.6 billion); a reader then sees both.
4. Under `threshold` (chosen on the dev split; eval/README.md) the answer is "not found", with
   the reason in `notes`. So is a question no passage is close to (`min_similarity`), unless one
   passage holds every word it searches by (MiniLM places names poorly: no passage is within 0.3
   of "Who is Graeme Clark?", not even his biography).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from app.answer.answer_type import expected_types
from app.answer.answerer import NOT_FOUND, Extract, in_words
from app.answer.calibration import (
    QUESTION_WORDS,
    Calibration,
    Candidate,
    Context,
    describe,
    question_facts,
)
from app.answer.reader import Reader, Span, context_prefix
from app.index.lexical import terms
from app.ingest.annotate import Annotator, Mention
from app.ingest.sentences import Sentence, sentences_overlapping
from app.search.query import ResolvedQuery
from app.types import Citation, Document, Passage

SECOND_QUOTE_MARGIN = 0.15  # another passage's answer must be within this confidence of the best to be quoted
SPANS_PER_PASSAGE = 4  # candidates read from each passage (a typed one is often not the reader's first)
_NUMBER = re.compile(r"\d")
_PAIRS = (("(", ")"), ("[", "]"), ("“", "”"))
_FIGURES = frozenset({"MONEY", "PERCENT", "QUANTITY"})


@dataclass(frozen=True)
class Window:
    """What the reader reads of one passage: the chunk widened to whole sentences, after its title and headings."""

    passage: Passage
    start: int  # offsets into the document text
    end: int
    sentences: tuple[Sentence, ...]
    prefix: str = ""  # context_prefix(title, headings)


@dataclass(frozen=True)
class Found:
    """A span placed in its document: the short answer, the sentences that hold it, how likely it is right."""

    window: Window
    span: Span
    start: int  # the short answer's offsets in the document
    end: int
    quote_start: int  # the quoted sentence(s)
    quote_end: int
    candidate: Candidate | None = None
    confidence: float = 0.0


class ReaderAnswerer:
    """The reader with its operating point bound: `answer(query, passages, documents)` → Extract."""

    name = "reader"

    def __init__(
        self,
        reader: Reader,
        calibration: Calibration,
        threshold: float,
        min_similarity: float,
        entities: Mapping[str, Sequence[Mention]],
        annotator: Annotator,
    ) -> None:
        self.reader = reader
        self.calibration = calibration
        self.threshold = threshold
        self.min_similarity = min_similarity
        self.entities = entities  # document id → its entities, from the index (build time)
        self.reads_context = reader.reads_context  # the model reads "title › heading: passage" (else the checks only)
        self.annotator = annotator
        self._window_entities: dict[tuple[str, int, int], tuple[Mention, ...]] = {}  # for documents the index lacks
        self._lock = threading.Lock()

    def stream(
        self, query: ResolvedQuery, passages: Sequence[Passage], documents: Mapping[str, Document]
    ) -> Iterator[str | Extract]:
        return in_words(self.answer(query, passages, documents))

    def answer(self, query: ResolvedQuery, passages: Sequence[Passage], documents: Mapping[str, Document]) -> Extract:
        # An off-topic question ("Who won the Stanley Cup?") still gets spans, some confident: the
        # reader only knows a passage, not how far the passages are from the question. The best
        # passage's cosine to the question says that.
        similarities = [p.dense_score for p in passages if p.dense_score is not None]
        if (
            similarities
            and max(similarities) < self.min_similarity
            and not _one_passage_has_every_word(query, passages)
        ):
            closest = max(similarities)
            reason = f"no passage is close to the question (best similarity {closest:.2f} < {self.min_similarity:g})"
            return Extract(NOT_FOUND, (), True, 0.0, reason)
        found = self.candidates(query, passages, documents)
        if not found:
            return Extract(NOT_FOUND, (), True, 0.0, "the reader found no answer span in the passages")
        # candidates of the type the question asks for first; when there are none, the passages don't say it
        typed = [f for f in found if f.candidate is None or not f.candidate.mistyped]
        if not typed:
            best = found[0]
            reason = (
                f"no candidate answer is of the kind the question asks for (the likeliest, "
                f"{best.span.text.strip()!r}, is not)"
            )
            return Extract(NOT_FOUND, (), True, best.confidence, reason)
        found = typed
        best = found[0]
        if best.confidence < self.threshold:
            reason = (
                f"the best answer ({best.span.text.strip()!r}) has confidence {best.confidence:.2f}, "
                f"under the threshold {self.threshold:g}{_why_unsure(best.candidate)}"
            )
            return Extract(NOT_FOUND, (), True, best.confidence, reason)
        chosen = [best, *second_quote(best, found[1:], self.threshold)]
        citations = tuple(_citation(f, documents, marker) for marker, f in enumerate(chosen, start=1))
        text = f"{best.span.text.strip()} [1]. “{citations[0].quote}” [1]"
        if len(chosen) == 2:
            other = chosen[1]
            if _disagrees(best, other):
                text += f" Another source gives {other.span.text.strip()} [2]: “{citations[1].quote}” [2]"
            else:
                text += f" Also: “{citations[1].quote}” [2]"
        return Extract(text, citations, False, best.confidence, short=best.span.text.strip())

    def candidates(
        self, query: ResolvedQuery, passages: Sequence[Passage], documents: Mapping[str, Document]
    ) -> list[Found]:
        """Every acceptable span of the passages with its calibrated confidence, most likely right first."""
        looked_up: dict[str, Document] = {}  # a document (its text decoded) once per question

        def document(doc_id: str) -> Document:
            if doc_id not in looked_up:
                looked_up[doc_id] = documents[doc_id]
            return looked_up[doc_id]

        def text_of(doc_id: str) -> str:
            return document(doc_id).text

        windows = [reading_window(p, text_of(p.chunk.doc_id)) for p in passages]
        windows = [w for w in windows if w.sentences]
        question = reader_question(query)
        spans = self.reader.read(
            question,
            [text_of(w.passage.chunk.doc_id)[w.start : w.end] for w in windows],
            per_passage=SPANS_PER_PASSAGE,
            prefixes=[w.prefix for w in windows] if self.reads_context else [],
        )
        facts = question_facts(
            query.search, self.annotator.annotate(query.search).entities, expected_types(query.search)
        )
        contexts: dict[int, Context] = {}
        found = []
        for span in spans:
            window = windows[span.passage]
            placed = place(window, span)
            if placed is None or is_about_the_question(span.text, query.search) or not well_formed(span.text):
                continue
            doc_id = window.passage.chunk.doc_id
            if span.passage not in contexts:  # its kind too: "according to the news article …"
                read = window.prefix + text_of(doc_id)[window.start : window.end]
                contexts[span.passage] = Context.of(f"{document(doc_id).kind}: {read}")
            context = contexts[span.passage]
            entities = self._entities(doc_id, window, text_of(doc_id))
            if figures_within(placed.start, placed.end, entities) > 1:
                continue  # "C$56 billion, but C$47 billion": two figures are not one answer
            candidate = describe(facts, span.score, (placed.start, placed.end), entities, context)
            found.append(_with(placed, candidate, self.calibration.confidence(candidate)))
        return sorted(found, key=lambda f: -f.confidence)

    def _entities(self, doc_id: str, window: Window, text: str) -> Sequence[Mention]:
        """The document's entities from the index; for a document it has none for, the window's, annotated now."""
        if doc_id in self.entities:
            return self.entities[doc_id]
        key = (doc_id, window.start, window.end)
        with self._lock:
            if key not in self._window_entities:
                annotation = self.annotator.annotate(text[window.start : window.end]).shifted(window.start)
                self._window_entities[key] = annotation.entities
            return self._window_entities[key]


def _with(found: Found, candidate: Candidate, confidence: float) -> Found:
    return Found(
        found.window, found.span, found.start, found.end, found.quote_start, found.quote_end, candidate, confidence
    )


def _why_unsure(candidate: Candidate | None) -> str:
    if candidate is None:
        return ""
    reasons = []
    if candidate.mistyped:
        reasons.append("it is not the kind of answer the question asks for")
    if candidate.agreement < 1.0:
        reasons.append("its passage does not state all the names and numbers of the question")
    return f" ({'; '.join(reasons)})" if reasons else ""


def is_about_the_question(span: str, question: str) -> bool:
    """Whether the span only repeats what the question names ("Graeme Clark" for "Who replaced Graeme Clark?")."""
    span_terms = set(terms(span)) - QUESTION_WORDS
    return bool(span_terms) and span_terms <= set(terms(question))


def figures_within(start: int, end: int, entities: Sequence[Mention]) -> int:
    """How many amounts (money, percentages, quantities) lie wholly inside `[start, end)`."""
    return sum(1 for m in entities if m.label in _FIGURES and start <= m.start and m.end <= end)


def well_formed(span: str) -> bool:
    """No unbalanced bracket or quote, and it does not start or end inside one."""
    if span.count('"') % 2:
        return False
    return all(span.count(open_) == span.count(close) for open_, close in _PAIRS)


def reader_question(query: ResolvedQuery) -> str:
    """The question as the reader sees it; a follow-up carries what it refers to in brackets."""
    return f"{query.search} ({query.context})" if query.context else query.search


def reading_window(passage: Passage, text: str) -> Window:
    """The passage's chunk widened to whole sentences of its document's `text`, with its context prefix."""
    chunk = passage.chunk
    prefix = context_prefix(chunk.title, chunk.headings)
    sentences = tuple(sentences_overlapping(text, chunk.start, chunk.end))
    if not sentences:
        return Window(passage, chunk.start, chunk.start, (), prefix)
    return Window(passage, sentences[0].start, sentences[-1].end, sentences, prefix)


def place(window: Window, span: Span) -> Found | None:
    """The span in document offsets, with the sentences it lies in; None when that is a heading."""
    start, end = window.start + span.start, window.start + span.end
    holding = [s for s in window.sentences if s.end > start and s.start < end]
    if not holding or any(s.is_heading for s in holding):
        return None
    return Found(window, span, start, end, holding[0].start, holding[-1].end)


def second_quote(best: Found, others: Sequence[Found], threshold: float) -> list[Found]:
    """One more quote from another place that gives the same answer or a conflicting figure."""
    for other in others:
        if other.confidence < threshold or other.confidence < best.confidence - SECOND_QUOTE_MARGIN:
            break
        same_document = other.window.passage.chunk.doc_id == best.window.passage.chunk.doc_id
        if same_document and other.quote_start < best.quote_end and other.quote_end > best.quote_start:
            continue  # the same sentence again
        # a different figure only counts as sources disagreeing when it comes from another document
        if _same_answer(best, other) or (not same_document and _disagrees(best, other)):
            return [other]
    return []


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w.]+", " ", text.lower()).split())


def _same_answer(a: Found, b: Found) -> bool:
    x, y = _norm(a.span.text), _norm(b.span.text)
    return bool(x and y) and (x in y or y in x)


def _disagrees(a: Found, b: Found) -> bool:
    """Both answers are figures, and different ones."""
    return bool(_NUMBER.search(a.span.text) and _NUMBER.search(b.span.text)) and not _same_answer(a, b)


def _citation(found: Found, documents: Mapping[str, Document], marker: int) -> Citation:
    chunk = found.window.passage.chunk
    document = documents[chunk.doc_id]
    return Citation(
        marker=marker,
        doc_id=document.id,
        title=document.title,
        chunk_id=chunk.id,
        quote=document.text[found.quote_start : found.quote_end],
        start=found.quote_start,
        end=found.quote_end,
        page=document.page_at(found.quote_start),
        support=round(found.confidence, 4),
    )


def _one_passage_has_every_word(query: ResolvedQuery, passages: Sequence[Passage]) -> bool:
    """Whether one passage (with its title and headings) holds every term the question searches by."""
    wanted = set(terms(query.search)) - QUESTION_WORDS
    return bool(wanted) and any(wanted <= set(terms(p.chunk.embedding_text())) for p in passages)
