"""Question → ranked Passages, by dense search, BM25, or both fused.

Hybrid retrieval takes the top `candidates` of each retriever, scores the
union with both (a dot product with the stored vectors for the dense side, the
full BM25 score array for the keyword side) and fuses them (app.fusion).

A follow-up question can carry `context` (earlier turns) with a weight below 1:
its vector is blended into the query vector and its BM25 scores are added,
scaled, so "How long is it?" after a question about the pipeline still finds it.
"""

from __future__ import annotations

import numpy as np

from app.index import store
from app.index.embedding import Embedder
from app.index.store import LoadedIndex
from app.search.fusion import rrf_fusion, top_indices, zscore_fusion
from app.settings import Settings
from app.types import Passage


class Retriever:
    def __init__(self, index: LoadedIndex, embedder: Embedder, settings: Settings) -> None:
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self._encoder_checked = False

    def _check_encoder(self) -> None:
        """Before the first query is embedded: the embedder's weights are the ones that made the index's
        vectors (checked here, not at load, so a search that never embeds never loads the encoder)."""
        if not self._encoder_checked:
            store.check_settings(self.index.manifest, self.settings, self.embedder.content_hash)
            self._encoder_checked = True

    def retrieve(
        self,
        query: str,
        k: int | None = None,
        mode: str | None = None,
        context: str = "",
        context_weight: float = 0.0,
        query_vector: np.ndarray | None = None,
    ) -> list[Passage]:
        """Top-k passages; `query_vector` saves embedding the query again when the caller already has it."""
        k = k or self.settings.top_k
        mode = mode or self.settings.retrieval_mode
        size = len(self.index.chunks)
        if size == 0:
            return []
        carry = bool(context.strip()) and context_weight > 0
        n = min(max(self.settings.candidates, k), size)

        dense_all: np.ndarray | None = None
        if mode in ("dense", "hybrid"):
            if query_vector is None:
                self._check_encoder()
                query_vector = self.embedder.encode_query(query, context, context_weight)
            dense_scores, dense_ids = self.index.dense.search(query_vector, n)
        lexical_all = np.zeros(size, dtype=np.float32)
        if mode in ("bm25", "hybrid"):
            lexical_all = self.index.lexical.scores(query)
            if carry:
                lexical_all += np.float32(context_weight) * self.index.lexical.scores(context)

        if mode == "dense":
            ids, fused = dense_ids, dense_scores
            dense_all = dense_scores
        elif mode == "bm25":
            ids = top_indices(lexical_all, n)
            ids = ids[lexical_all[ids] > 0]
            fused = lexical_all[ids]
        else:
            ids = np.union1d(dense_ids, top_indices(lexical_all, n))
            dense_all = self.index.dense.rows(ids) @ query_vector
            if self.settings.fusion == "rrf":
                fused = rrf_fusion(dense_all, lexical_all[ids], self.settings.dense_weight, self.settings.rrf_k)
            else:
                fused = zscore_fusion(dense_all, lexical_all[ids], self.settings.dense_weight)

        order = np.argsort(-np.asarray(fused), kind="stable")[:k]
        return [
            Passage(
                chunk=self.index.chunks[int(ids[i])],
                rank=rank,
                score=float(fused[i]),
                dense_score=None if dense_all is None else float(dense_all[i]),
                lexical_score=None if mode == "dense" else float(lexical_all[int(ids[i])]),
            )
            for rank, i in enumerate(order, start=1)
        ]
