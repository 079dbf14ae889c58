"""Combining the dense and keyword rankings: pure functions over score arrays.

Two methods, chosen by the `fusion` setting and compared in eval/README.md:
- zscore: each retriever's scores over the candidate set are standardized
  (mean 0, std 1) and mixed as w·dense + (1-w)·lexical. Uses how far ahead a
  candidate is, not just its place, so a clear keyword match can win.
- rrf: reciprocal-rank fusion, Σ w_i / (k + rank_i). Ignores score gaps.
And `top_indices`, which picks each retriever's candidates out of a score for every chunk.
"""

from __future__ import annotations

import numpy as np


def zscore(scores: np.ndarray) -> np.ndarray:
    """Standardize; constant scores (e.g. no query word in the vocabulary) carry no signal → zeros."""
    std = float(scores.std())
    if scores.size == 0 or std < 1e-9:
        return np.zeros_like(scores, dtype=np.float64)
    standardized: np.ndarray = (scores - scores.mean()) / std
    return standardized


def zscore_fusion(dense: np.ndarray, lexical: np.ndarray, dense_weight: float) -> np.ndarray:
    """Fused scores for candidates scored by both retrievers (arrays aligned by candidate)."""
    return dense_weight * zscore(dense) + (1.0 - dense_weight) * zscore(lexical)


def rrf_fusion(dense: np.ndarray, lexical: np.ndarray, dense_weight: float, k: int) -> np.ndarray:
    """Reciprocal-rank fusion over the same aligned candidate arrays.

    Equal scores share a rank (the best of their places), so ties are not broken by chunk order; a BM25
    score of zero (no query word in the chunk) is no ranking at all and earns nothing.
    """
    lexical_term = np.where(lexical > 0, _rrf_term(lexical, k), 0.0)
    return dense_weight * _rrf_term(dense, k) + (1.0 - dense_weight) * lexical_term


def _rrf_term(scores: np.ndarray, k: int) -> np.ndarray:
    ranks = 1.0 + (scores[None, :] > scores[:, None]).sum(axis=1)  # 1 + how many score higher
    term: np.ndarray = 1.0 / (k + ranks)
    return term


TOP_BLOCK = 1024  # scores per block when the n largest of a long array are bounded first (see `top_indices`)


def top_indices(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n largest scores, best first.

    A partition of a million BM25 scores takes about 10 ms, most of a query's budget. Past n blocks, the
    n-th largest of the blocks' maxima bounds the answer from below (n scores, one in each of those
    blocks, reach it), so only the scores at or above it are partitioned: about 1.5 ms at a million.
    """
    n = min(n, len(scores))
    candidates: np.ndarray | None = None
    blocks = len(scores) // TOP_BLOCK
    if blocks >= n:
        maxima = scores[: blocks * TOP_BLOCK].reshape(blocks, TOP_BLOCK).max(axis=1)
        bound = np.partition(maxima, blocks - n)[blocks - n]
        candidates = np.flatnonzero(scores >= bound)
    if candidates is None or len(candidates) > len(scores) // 4:  # mostly ties at the bound: no gain
        candidates = np.arange(len(scores))
    top = candidates[np.argpartition(-scores[candidates], n - 1)[:n]]
    return top[np.argsort(-scores[top], kind="stable")]
