"""What every answerer is: question, passages and documents in, an `Extract` out.

The assistant looks answerers up by their declared names (settings' `ANSWERERS`), builds each
with its thresholds bound, and calls them all the same way; a name it does not know is an error,
never a silent default.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from app.search.query import ResolvedQuery
from app.types import Answer, Citation, Document, Passage

NOT_FOUND = "I couldn't find that in the documents."


@dataclass(frozen=True)
class Extract:
    """An answer before it is wrapped for the interfaces: its text with markers, the citations, how sure."""

    text: str
    citations: tuple[Citation, ...]
    abstained: bool
    best_support: float  # 0..1: the answerer's confidence in its best answer
    reason: str = ""  # why it abstained
    short: str = ""  # the short answer leading the text, when there is one
    notes: tuple[str, ...] = ()  # anything else a reader should know ("the LLM was unavailable; …")
    answerer: str = ""  # who answered, when not the answerer asked (an LLM's fallback)
    timings_ms: Mapping[str, float] = field(default_factory=dict)  # the answerer's own stages


class Answerer(Protocol):
    name: str

    def answer(self, query: ResolvedQuery, passages: Sequence[Passage], documents: Mapping[str, Document]) -> Extract:
        """The answer to `query` from `passages` (their text looked up in `documents`)."""
        ...

    def stream(
        self, query: ResolvedQuery, passages: Sequence[Passage], documents: Mapping[str, Document]
    ) -> Iterator[str | Extract]:
        """Text pieces as they are made, then the final Extract, which replaces them on screen."""
        ...


def as_answer(
    extract: Extract, name: str, query: ResolvedQuery, passages: Sequence[Passage], timings_ms: Mapping[str, float]
) -> Answer:
    """The Answer every interface shows for `extract` (made by answerer `name` from `passages` for `query`)."""
    return Answer(
        question=query.question,
        text=extract.text,
        citations=extract.citations,
        abstained=extract.abstained,
        passages=tuple(passages),
        query=query.describe(),
        answerer=extract.answerer or name,
        confidence=round(extract.best_support, 4),
        timings_ms={**timings_ms, **extract.timings_ms},
        notes=(*extract.notes, *((f"not answered: {extract.reason}",) if extract.reason else ())),
        short_answer=extract.short,
        follows_up=query.carried,
    )


def in_words(extract: Extract) -> Iterator[str | Extract]:
    """A ready answer streamed: its words, then itself (the offline answerers are done at once)."""
    yield from re.findall(r"\S+\s*", extract.text)
    yield extract
