"""Question + history → what is actually searched.

Transparent rules, no model:
- A question that carries instructions ("Ignore your rules and …. What was …?")
  is searched by its interrogative sentences only: the instructions are not
  what the user wants to know about, and an extractive answer can't obey them.
- A follow-up carries the last `CONTEXT_TURNS` earlier questions into the query
  with a weight below 1 (the `history_weight` setting): their vector is blended
  into the query vector and their words add to BM25 and sentence scores.
The result says what was searched, so the UI and CLI can show it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.ingest.sentences import split_sentences

CONTEXT_TURNS = 2
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.*\b(rules?|instructions?|previous|above|prompt)\b"
    r"|\bsystem override\b|\byou are now\b|\bpretend\b|\bjust (say|answer|reply)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ResolvedQuery:
    question: str  # as asked
    search: str  # what retrieval and scoring use from the question itself
    context: str  # earlier questions carried in
    context_weight: float

    def describe(self) -> str:
        if not self.context:
            return self.search
        return f"{self.search} [+ earlier questions ×{self.context_weight:g}: {self.context}]"


def searchable_question(question: str) -> str:
    # one line: a question typed over several lines is still one question
    parts = [s.text for s in split_sentences(" ".join(question.split()))]
    if len(parts) > 1:
        asked = [p for p in parts if p.endswith("?") and not _INSTRUCTION.search(p)]
        kept = asked or [p for p in parts if not _INSTRUCTION.search(p)]
        if kept:
            return " ".join(kept)
    return " ".join(question.split())


def resolve(question: str, history: Sequence[str], weight: float) -> ResolvedQuery:
    earlier = [searchable_question(h) for h in history if h.strip()][-CONTEXT_TURNS:]
    context = " ".join(reversed(earlier))  # most recent first
    return ResolvedQuery(question, searchable_question(question), context, weight if context else 0.0)
