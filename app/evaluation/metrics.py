"""Evaluation metrics: pure functions, tested against hand-computed examples.

Text matching follows eval's format (../shared/EVAL_FORMAT.md): case-insensitive,
punctuation and whitespace normalized, so "56 billion" matches "C$56 billion".
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass

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


def short_answer_holds(short_answer: str, terms: Sequence[str]) -> bool:
    """The short answer (the span leading an answer) holds the key fact: it contains at least one
    key term, matched like `contains_term`. An empty short answer never passes.

    One term of several is enough on purpose: the short answer is a single span (a name, a figure,
    a phrase), so it cannot hold every item of a list question or every clause of a "why" question;
    the rest belongs in the quotes that follow it, which `accuracy` checks. With no key terms at all
    (nothing to look for), any non-empty short answer passes, as `term_recall` counts 1.0.
    """
    if not short_answer.strip():
        return False
    return not terms or any(contains_term(short_answer, t) for t in terms)


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


@dataclass(frozen=True)
class Outcome:
    """One evaluated item as the coverage curve and calibration see it.

    `answered`: the answerer did not abstain; `right`: the answer was correct (only meaningful when
    answered; an answered question the documents cannot answer is never right).
    """

    confidence: float
    answered: bool
    right: bool


@dataclass(frozen=True)
class CoveragePoint:
    """Answering only when confidence >= `threshold`: the share of all items answered and, of those
    answered, the share right (None when none is answered)."""

    threshold: float
    answered: int
    coverage: float
    accuracy: float | None


@dataclass(frozen=True)
class CalibrationBin:
    """Answered items whose confidence lies in [low, high) ([low, high] for the last bin): how many,
    their mean confidence and the share right (both None for an empty bin)."""

    low: float
    high: float
    count: int
    mean_confidence: float | None
    share_right: float | None


def _share(flags: Sequence[bool]) -> float | None:
    return sum(flags) / len(flags) if flags else None


def coverage_curve(outcomes: Sequence[Outcome], thresholds: Sequence[float]) -> list[CoveragePoint]:
    """Coverage and accuracy at each confidence threshold, over all outcomes (answerable or not).

    An item counts as answered at threshold c when it was answered and its confidence >= c. Items the
    answerer already abstained on stay abstained at every c: a threshold under the answerer's own
    only repeats the curve's first point.
    """
    points = []
    for c in thresholds:
        kept = [o.right for o in outcomes if o.answered and o.confidence >= c]
        coverage = len(kept) / len(outcomes) if outcomes else 0.0
        points.append(CoveragePoint(c, len(kept), coverage, _share(kept)))
    return points


def calibration(outcomes: Sequence[Outcome], bins: int = 10) -> list[CalibrationBin]:
    """Reliability table: answered outcomes in `bins` equal-width confidence bins over 0..1.

    Confidence outside 0..1 falls into the first or last bin; 1.0 falls into the last.
    """
    edges = [i / bins for i in range(bins + 1)]
    members: list[list[Outcome]] = [[] for _ in range(bins)]
    for o in outcomes:
        if o.answered:
            # bisect against the same edges the table shows, so 0.3 lands in [0.3, 0.4), not below it
            members[min(max(bisect_right(edges, o.confidence) - 1, 0), bins - 1)].append(o)
    return [
        CalibrationBin(
            low=edges[i],
            high=edges[i + 1],
            count=len(group),
            mean_confidence=sum(o.confidence for o in group) / len(group) if group else None,
            share_right=_share([o.right for o in group]),
        )
        for i, group in enumerate(members)
    ]
