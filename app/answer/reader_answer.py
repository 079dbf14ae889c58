"""Passages → a short answer and the sentence that holds it, quoted with its exact span: the default answerer.

The reader model (`app/answer/reader.py`) reads each retrieved passage, widened to whole
sentences, and proposes answer spans with an answer score (span − no-answer logits). Then:

1. Spans inside a heading line are dropped: a heading is never an answer.
2. The best span leads the answer; the sentence(s) holding it are quoted word for word with
   their `[start, end)` span in the document and a citation.
3. A second quote only when another passage gives the same answer (support from another
   place) or a different figure for the same question (sources disagree: the article's
   C$9 billion beside the Conference Board's C$8.6 billion); a reader then sees both.
4. Confidence is the answer score through a logistic curve (0..1); under `threshold` (calibrated
   on the dev split and on held-out near-miss pairs; eval/README.md) the answer is "not found",
   with the reason in `notes`. So is a question no passage is close to (`min_similarity`), unless
   one passage holds every word it searches by (MiniLM places names poorly: no passage is within 0.3
   of "Who is Graeme Clark?", not even his biography; of 200 off-topic SQuAD questions, one has all
   its words in one of our passages).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from app.answer.extractive import NOT_FOUND, Extract
from app.answer.reader import Reader, Span
from app.index.lexical import terms
from app.ingest.sentences import Sentence, sentences_overlapping
from app.search.query import ResolvedQuery
from app.types import Citation, Document, Passage

SECOND_QUOTE_MARGIN = 2.0  # another passage's answer must score within this of the best to be quoted
_NUMBER = re.compile(r"\d")
# not stop words to BM25, but they say what kind of answer is wanted, not what it is about
QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "why", "how"})


@dataclass(frozen=True)
class Window:
    """What the reader reads of one passage: the chunk widened to whole sentences.

    (Putting the chunk's section path before it was tried on the dev split: no more answers right,
    and no better separation of the unanswerable ones, so it is not done.)
    """

    passage: Passage
    start: int  # offsets into the document text
    end: int
    sentences: tuple[Sentence, ...]


@dataclass(frozen=True)
class Found:
    """A span placed in its document: the short answer and the sentences that hold it."""

    window: Window
    span: Span
    start: int  # the short answer's offsets in the document
    end: int
    quote_start: int  # the quoted sentence(s)
    quote_end: int


class ReaderAnswerer:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader

    def answer(
        self,
        query: ResolvedQuery,
        passages: Sequence[Passage],
        documents: Mapping[str, Document],
        threshold: float,
        min_similarity: float = 0.0,
    ) -> Extract:
        # An off-topic question ("Who won the Stanley Cup?") still gets spans, some confident: the
        # reader only knows a passage, not how far the passages are from the question. The best
        # passage's cosine to the question says that.
        similarities = [p.dense_score for p in passages if p.dense_score is not None]
        if similarities and max(similarities) < min_similarity and not _one_passage_has_every_word(query, passages):
            closest = max(similarities)
            reason = f"no passage is close to the question (best similarity {closest:.2f} < {min_similarity:g})"
            return Extract(NOT_FOUND, (), True, 0.0, reason)
        windows = [reading_window(p, documents[p.chunk.doc_id]) for p in passages]
        windows = [w for w in windows if w.sentences]
        texts = [documents[w.passage.chunk.doc_id].text[w.start : w.end] for w in windows]
        spans = self.reader.read(reader_question(query), texts)
        found = [f for f in (place(windows[s.passage], s) for s in spans) if f is not None]
        if not found:
            return Extract(NOT_FOUND, (), True, 0.0, "the reader found no answer span in the passages")
        best = found[0]
        confidence = logistic(best.span.score)
        if confidence < threshold:
            reason = (
                f"the reader's best answer ({best.span.text.strip()!r}) has confidence {confidence:.2f}, "
                f"under the threshold {threshold:g}"
            )
            return Extract(NOT_FOUND, (), True, confidence, reason)
        chosen = [best, *second_quote(best, found[1:], threshold)]
        citations = tuple(_citation(f, documents, marker) for marker, f in enumerate(chosen, start=1))
        text = f"{best.span.text.strip()} [1]. “{citations[0].quote}” [1]"
        if len(chosen) == 2:
            other = chosen[1]
            if _disagrees(best, other):
                text += f" Another source gives {other.span.text.strip()} [2]: “{citations[1].quote}” [2]"
            else:
                text += f" Also: “{citations[1].quote}” [2]"
        return Extract(text, citations, False, confidence, short=best.span.text.strip())


def logistic(score: float) -> float:
    return 1.0 / (1.0 + math.exp(-score))


def reader_question(query: ResolvedQuery) -> str:
    """The question as the reader sees it; a follow-up carries what it refers to in brackets."""
    return f"{query.search} ({query.context})" if query.context else query.search


def reading_window(passage: Passage, document: Document) -> Window:
    chunk = passage.chunk
    sentences = tuple(sentences_overlapping(document.text, chunk.start, chunk.end))
    if not sentences:
        return Window(passage, chunk.start, chunk.start, ())
    return Window(passage, sentences[0].start, sentences[-1].end, sentences)


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
        if logistic(other.span.score) < threshold or other.span.score < best.span.score - SECOND_QUOTE_MARGIN:
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
        support=round(logistic(found.span.score), 4),
    )


def _one_passage_has_every_word(query: ResolvedQuery, passages: Sequence[Passage]) -> bool:
    """Whether one passage (with its title and headings) holds every term the question searches by."""
    wanted = set(terms(query.search)) - QUESTION_WORDS
    return bool(wanted) and any(wanted <= set(terms(p.chunk.embedding_text())) for p in passages)
