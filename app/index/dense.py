"""The dense vector index (the only module that imports FAISS).

An exact inner-product index over normalized vectors: for the corpus sizes this product serves today
(thousands to ~100k chunks) exact search takes a few milliseconds, and it returns the true nearest
neighbours, which keeps the evaluation honest. Like minsearch's vector index it takes vectors, not a
model. It is also the one place the vectors are kept, on disk and in memory (`vectors` is a view of
FAISS's own storage), so an index holds each vector once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def search_threads() -> int:
    """The OpenMP threads FAISS searches with (one per core unless OMP_NUM_THREADS says otherwise)."""
    import faiss

    return int(faiss.omp_get_max_threads())


class DenseIndex:
    def __init__(self, index: Any) -> None:
        self._index = index

    @classmethod
    def build(cls, vectors: np.ndarray) -> DenseIndex:
        import faiss

        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise ValueError(f"vectors must be a 2-D float32 array, got {vectors.dtype} {vectors.shape}")
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(vectors)
        return cls(index)

    @property
    def vectors(self) -> np.ndarray:
        """The stored vectors, (len, dimension) float32: a read-only view of FAISS's own memory, not a copy.

        Valid while this DenseIndex lives; keep the index, not the view (copy rows that must outlive it).
        """
        import faiss

        count, dimension = len(self), self.dimension
        if count == 0:
            return np.zeros((0, dimension), dtype=np.float32)
        view: np.ndarray = faiss.rev_swig_ptr(self._index.get_xb(), count * dimension).reshape(count, dimension)
        view.flags.writeable = False
        return view

    @property
    def dimension(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, row ids) for one query vector, best first; rows padded with -1 are dropped."""
        if query.shape != (self.dimension,):
            raise ValueError(f"query must have shape ({self.dimension},), got {query.shape}")
        k = min(k, len(self))
        if k == 0:
            return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
        scores, ids = self._index.search(query.reshape(1, -1).astype(np.float32), k)
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep]

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self._index, str(path))

    @classmethod
    def load(cls, path: Path) -> DenseIndex:
        import faiss

        return cls(faiss.read_index(str(path)))
