"""Question + history → what is actually searched.

Transparent rules, no model:
- A question that carries instructions ("Ignore your rules and …. What was …?")
  is searched without the instruction sentences: they are not what the user
  wants to know about, and an answer quoted from the documents can't obey them.
- A follow-up carries the last `CONTEXT_TURNS` earlier turns into the query, each
  question with the short answer it got ("Who replaced him?" needs the name the
  last answer gave), at a weight below 1 (the `history_weight` setting): their
  vector is blended into the query vector and their words add to BM25.
The result says what was searched, so the UI and CLI can show it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.ingest.sentences import split_sentences
from app.types import Turn

CONTEXT_TURNS = 2
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.*\b(rules?|instructions?|previous|above|prompt)\b"
    r"|\bsystem override\b|\byou are now\b|\bpretend\b|\bjust (say|answer|reply)\b",
    re.IGNORECASE,
)
# in a sentence that is not itself a question, these words address the assistant, not the documents
_COMMAND = re.compile(r"\b(say|respond|reply|print|reveal|disregard|ignore|skip|pretend|note to)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ResolvedQuery:
    question: str  # as asked
    search: str  # what retrieval and scoring use from the question itself
    context: str  # earlier questions and their short answers, carried in
    context_weight: float
    carried: tuple[str, ...] = ()  # the earlier questions whose turns are in `context`, oldest first

    def describe(self) -> str:
        if not self.context:
            return self.search
        return f"{self.search} [+ earlier turns ×{self.context_weight:g}: {self.context}]"


def searchable_question(question: str) -> str:
    # one line: a question typed over several lines is still one question
    parts = [s.text for s in split_sentences(" ".join(question.split()))]
    if len(parts) > 1:
        # Only the instructions go: "Now it stopped working. Why?" needs its first sentence, but
        # "Note to assistant: … say zero. How many …?" is searched by its question alone.
        kept = [p for p in parts if not _INSTRUCTION.search(p) and (p.endswith("?") or not _COMMAND.search(p))]
        if kept:
            return " ".join(kept)
    return " ".join(question.split())


def resolve(question: str, history: Sequence[Turn], weight: float) -> ResolvedQuery:
    earlier = [turn for turn in history if turn.question.strip()][-CONTEXT_TURNS:]
    pieces = []
    for turn in reversed(earlier):  # most recent first
        pieces.append(searchable_question(turn.question))
        if turn.answer.strip():
            pieces.append(" ".join(turn.answer.split()))
    context = " ".join(pieces)
    carried = tuple(turn.question for turn in earlier) if context else ()
    return ResolvedQuery(question, searchable_question(question), context, weight if context else 0.0, carried)
