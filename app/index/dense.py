"""The dense vector index (the only module that imports FAISS).

Inner product over normalized vectors, exact (a flat index) up to `exact_limit` vectors: there exact
search takes a few milliseconds and returns the true nearest neighbours, which keeps the evaluation
honest. Past it an exact search costs more than a query's budget (about 130 ms at a million), so the
build makes an inverted-file index instead (FAISS's IVF: k-means lists, a query scans the `nprobe`
lists nearest to it) and chooses `nprobe` as the fewest lists that find `recall` of the exact top 10
for calibration queries amid three random indexed vectors (their normalized sum). A question lies
between the passages it is about, and these do too: indexed vectors as queries each find their own
list first and ask for far fewer probes than real questions need. Measured on the bench's clustered
vectors with the eval questions: at 200k, rows chose 2 probes (questions' recall@10 0.79), midpoints
of two chose 8 (0.97), of three 12 (0.99); at 1M midpoints of two chose 12 and the questions found
0.942. Like minsearch's vector index it takes vectors, not a model. It is the one place the vectors
are kept, on disk and in memory, each once; the file is memory-mapped when loaded, so loading is
mapping and processes share its pages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

LISTS_PER_SQRT = 1  # nlist = √N: 4·√N lists would scan fewer vectors a query, but training and assigning them
# cost four times as much (minutes at a million vectors on two cores) for about a millisecond of search
TRAIN_PER_LIST = 40  # k-means sample: FAISS warns under 39 points per centroid
CALIBRATION_QUERIES = 200
NPROBES = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
SEED = 16


def search_threads() -> int:
    """The OpenMP threads FAISS searches with (one per core unless OMP_NUM_THREADS says otherwise)."""
    import faiss

    return int(faiss.omp_get_max_threads())


class DenseIndex:
    def __init__(self, index: Any) -> None:
        self._index = index
        self.calibrated_recall: float | None = None  # measured when an IVF index is built, not kept in its file

    @classmethod
    def build(cls, vectors: np.ndarray, exact_limit: int | None = None, recall: float = 0.95) -> DenseIndex:
        """Exact, or past `exact_limit` vectors IVF with the `nprobe` that finds `recall` of the exact top 10."""
        import faiss

        if vectors.ndim != 2 or vectors.dtype != np.float32:
            raise ValueError(f"vectors must be a 2-D float32 array, got {vectors.dtype} {vectors.shape}")
        if exact_limit is None or len(vectors) <= exact_limit:
            flat = faiss.IndexFlatIP(vectors.shape[1])
            flat.add(vectors)
            return cls(flat)
        nlist = max(1, round(LISTS_PER_SQRT * math.sqrt(len(vectors))))
        index: Any = faiss.index_factory(vectors.shape[1], f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(SEED)
        sample = np.sort(rng.choice(len(vectors), min(len(vectors), TRAIN_PER_LIST * nlist), replace=False))
        index.train(vectors[sample])
        index.add(vectors)
        index.make_direct_map()  # row → its place in the lists, so `rows()` can read any vector back
        dense = cls(index)
        picked = rng.integers(0, len(vectors), size=(3, CALIBRATION_QUERIES))
        midpoints = vectors[picked[0]] + vectors[picked[1]] + vectors[picked[2]]
        norms = np.linalg.norm(midpoints, axis=1, keepdims=True)
        dense._choose_nprobe(midpoints[norms[:, 0] > 0] / norms[norms[:, 0] > 0], vectors, recall)
        return dense

    def _choose_nprobe(self, queries: np.ndarray, vectors: np.ndarray, recall: float) -> None:
        """The fewest lists that find `recall` of the queries' exact top 10."""
        import faiss

        _scores, exact = faiss.knn(queries, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
        for nprobe in (*(n for n in NPROBES if n < self._index.nlist), self._index.nlist):
            self._index.nprobe = nprobe
            _scores, found = self._index.search(queries, 10)
            self.calibrated_recall = recall_at_10(list(found), list(exact))
            if self.calibrated_recall >= recall:
                return

    @property
    def parameters(self) -> dict[str, Any]:
        """What kind of index this is, for the manifest: {"type": "flat"} or the IVF lists and probes."""
        if not hasattr(self._index, "nlist"):
            return {"type": "flat"}
        parameters: dict[str, Any] = {"type": "ivf-flat", "nlist": int(self._index.nlist), "nprobe": self.nprobe}
        if self.calibrated_recall is not None:
            parameters["calibrated_recall@10"] = round(self.calibrated_recall, 4)
        return parameters

    @property
    def nprobe(self) -> int:
        """Lists an IVF search scans (0 for an exact index); saved with the index."""
        return int(getattr(self._index, "nprobe", 0))

    @property
    def exact(self) -> bool:
        return not hasattr(self._index, "nlist")

    @property
    def vectors(self) -> np.ndarray:
        """The stored vectors in row order, (len, dimension) float32, read-only.

        For the exact index a view of FAISS's own memory (a memory-mapped file when loaded), not a copy;
        the view keeps the FAISS index alive, so the mapping outlives neither. The IVF index keeps its
        vectors in its lists, so for it this is a copy of all of them: read a few rows with `rows()` instead.
        """
        import faiss

        count, dimension = len(self), self.dimension
        if count == 0:
            return np.zeros((0, dimension), dtype=np.float32)
        if not self.exact:
            return self.rows(np.arange(count))
        storage = faiss.rev_swig_ptr(self._index.get_xb(), count * dimension).reshape(count, dimension)
        view: np.ndarray = np.asarray(_Lent(storage, self._index))
        view.flags.writeable = False
        return view

    def rows(self, ids: np.ndarray) -> np.ndarray:
        """The vectors of rows `ids`, (len(ids), dimension) float32, a copy."""
        if self.exact:
            copied: np.ndarray = self.vectors[ids]
            return copied
        copied = np.asarray(self._index.reconstruct_batch(np.asarray(ids, dtype=np.int64)))
        copied.flags.writeable = False
        return copied

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
    def load(cls, path: Path, mmap: bool = True) -> DenseIndex:
        """Read the index; with `mmap`, its vectors stay in the file (mapped read-only, paged in when read).

        Without it FAISS reads the whole file into memory, as `faiss.read_index` does by default.
        """
        import faiss

        flags = faiss.IO_FLAG_MMAP_IFC | faiss.IO_FLAG_READ_ONLY if mmap else 0  # flat codes and IVF lists alike
        return cls(faiss.read_index(str(path), flags))


class _Lent:
    """FAISS's memory lent to numpy: an array made from this keeps it (and so the index) as its base.

    A bare `rev_swig_ptr` view does not keep the index alive; once the index is freed its memory is
    unmapped, and reading the view would crash the process instead of raising.
    """

    def __init__(self, storage: np.ndarray, index: Any) -> None:
        self.__array_interface__ = storage.__array_interface__
        self._index = index


def recall_at_10(found: Sequence[np.ndarray], exact: Sequence[np.ndarray]) -> float:
    """The share of the true neighbours (each row of `exact`) found (in the same row of `found`)."""
    hits = sum(len(set(f.tolist()) & set(e.tolist())) for f, e in zip(found, exact, strict=True))
    total = sum(len(e) for e in exact)
    return hits / total if total else 1.0
