"""The plain data passed between pipeline stages.

corpus → Document → Chunk → (index) → Passage → Answer (with Citation).
Everything here is a frozen dataclass of plain values, so each stage can be
tested on its own and any of them can be printed as JSON (`to_dict`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

# A "not found" answer in brief (the CLI's text, compact JSON) shows this many of its closest passages.
CLOSEST_PASSAGES = 3


@dataclass(frozen=True)
class Document:
    """One source file, read and reduced to plain text.

    `text` is what every span in the system points into. `page_starts[i]` is the
    character offset where page i+1 begins (PDFs only; empty otherwise).
    """

    id: str  # path relative to the corpus folder, e.g. "plan-mexico.md"
    title: str
    text: str
    kind: str = ""
    as_of: str = ""
    sources: tuple[str, ...] = ()
    page_starts: tuple[int, ...] = ()
    content_hash: str = ""  # sha256 of the file's bytes

    def page_at(self, offset: int) -> int | None:
        """The 1-based page holding character `offset`, or None when the document has no pages."""
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
        return page

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A span `[start, end)` of a document's text; `text == document.text[start:end]`."""

    id: str  # f"{doc_id}#{number}"
    doc_id: str
    number: int
    start: int
    end: int
    text: str
    title: str
    headings: tuple[str, ...] = ()  # Markdown/HTML section path, outermost first
    page: int | None = None
    as_of: str = ""
    sources: tuple[str, ...] = ()

    def embedding_text(self) -> str:
        """What the embedding model and BM25 see: the chunk with its title and section path.

        The title and headings carry context a short passage lacks ("it", "the pipeline").
        """
        context = " > ".join((self.title, *self.headings))
        return f"{context}\n{self.text}"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Chunk:
        return cls(**{**data, "headings": tuple(data["headings"]), "sources": tuple(data["sources"])})


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its rank and scores (the fused score and each retriever's own)."""

    chunk: Chunk
    rank: int  # 1-based
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        """Every field, or in brief (`full=False`): rank, score and the chunk's place and text."""
        if full:
            return asdict(self)
        c = self.chunk
        chunk = {"id": c.id, "doc_id": c.doc_id, "title": c.title, "start": c.start, "end": c.end, "text": c.text}
        return {"chunk": chunk, "rank": self.rank, "score": self.score}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        """The inverse of `to_dict()`: a passage read back from the JSON API."""
        return cls(**{**data, "chunk": Chunk.from_dict(data["chunk"])})


@dataclass(frozen=True)
class Citation:
    """A quotation that supports part of an answer: `quote == document.text[start:end]`."""

    marker: int  # the n in "[n]" in Answer.text
    doc_id: str
    title: str
    chunk_id: str
    quote: str
    start: int
    end: int
    page: int | None
    support: float  # how strongly the quote answers the question (0..1)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation: what was asked and the short answer it got ("" if none).

    Follow-ups are read in its light: "Who replaced him?" after an answer that named Graeme Clark.
    """

    question: str
    answer: str = ""


@dataclass(frozen=True)
class Answer:
    """What `Assistant.ask` returns and every interface (CLI, HTTP, UI, evaluation) shows."""

    question: str
    text: str  # with inline markers [1], [2] pointing at `citations`
    citations: tuple[Citation, ...]
    abstained: bool
    passages: tuple[Passage, ...]
    query: str  # what was actually searched (the question resolved against history)
    answerer: str
    confidence: float = 0.0  # the answerer's confidence in its best answer (0..1); under its threshold → abstained
    timings_ms: dict[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # e.g. "the LLM answer had no valid citation; extractive answer shown"
    short_answer: str = ""  # the span the reader found, which leads `text` ("" when none)
    follows_up: tuple[str, ...] = ()  # earlier questions carried into the search (a follow-up); () for a new topic

    def to_dict(self, full: bool = True) -> dict[str, Any]:
        """Every field, or the compact form (`full=False`) the CLI's --json and the API print by default.

        Compact drops what a reader of the answer rarely needs and most of the size (a "not found"
        was 45 KB): `passages` is empty when the answer has citations, which hold the quotes and
        their places; a "not found" keeps its `CLOSEST_PASSAGES` closest passages, in brief.
        """
        if full:
            return asdict(self)
        closest = self.passages[:CLOSEST_PASSAGES] if self.abstained else ()
        return {**asdict(replace(self, passages=())), "passages": [p.to_dict(full=False) for p in closest]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        """The inverse of `to_dict()` (every field): an answer read back from the JSON API."""
        return cls(
            **{
                **data,
                "citations": tuple(Citation(**c) for c in data["citations"]),
                "passages": tuple(Passage.from_dict(p) for p in data["passages"]),
                "notes": tuple(data["notes"]),
                "follows_up": tuple(data["follows_up"]),
            }
        )
