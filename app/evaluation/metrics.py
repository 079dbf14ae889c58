"""Evaluation metrics: pure functions, tested against hand-computed examples.

Text matching follows eval's format (../shared/EVAL_FORMAT.md): case-insensitive,
punctuation and whitespace normalized, so "56 billion" matches "C$56 billion".
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence

_PUNCT = re.compile(r"[^\w\s]|_", re.UNICODE)


def normalize(text: str) -> str:
    """Lowercase, accents folded, punctuation → space, whitespace collapsed."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(_PUNCT.sub(" ", text).split())


def normalize_space(text: str) -> str:
    """Lowercase with whitespace collapsed (for evidence, which is an exact substring)."""
    return " ".join(text.lower().split())


def contains_term(text: str, term: str) -> bool:
    """`term` occurs in `text` at word boundaries after normalizing both."""
    t, needle = f" {normalize(text)} ", f" {normalize(term)} "
    return needle.strip() != "" and needle in t


def term_recall(answer_text: str, terms: Sequence[str]) -> float:
    """Share of the key terms present in the answer (1.0 when there are none)."""
    if not terms:
        return 1.0
    return sum(contains_term(answer_text, t) for t in terms) / len(terms)


def supports(text: str, evidence: Sequence[str]) -> bool:
    """A passage or quote supports an item when it contains one of its evidence strings."""
    haystack = normalize_space(text)
    return any(normalize_space(e) and normalize_space(e) in haystack for e in evidence)


def first_relevant_rank(relevance: Sequence[bool]) -> int | None:
    return next((i + 1 for i, rel in enumerate(relevance) if rel), None)


def hit_at(relevance: Sequence[bool], k: int) -> float:
    return 1.0 if any(relevance[:k]) else 0.0


def mrr_at(relevance: Sequence[bool], k: int) -> float:
    rank = first_relevant_rank(relevance[:k])
    return 0.0 if rank is None else 1.0 / rank


def ndcg_at(relevance: Sequence[bool], k: int, total_relevant: int | None = None) -> float:
    """Binary-relevance nDCG@k. The ideal ranking puts min(total_relevant, k) relevant items first;
    `total_relevant` defaults to the relevant items in the list (all we know for passages)."""
    dcg = sum(1.0 / math.log2(i + 2) for i, rel in enumerate(relevance[:k]) if rel)
    n_relevant = sum(bool(r) for r in relevance) if total_relevant is None else total_relevant
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(n_relevant, k)))
    return dcg / ideal if ideal > 0 else 0.0


def recall_at(relevance: Sequence[bool], k: int, total_relevant: int) -> float:
    if total_relevant <= 0:
        return 0.0
    return min(1.0, sum(bool(r) for r in relevance[:k]) / total_relevant)


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile, q in 0..100; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]
