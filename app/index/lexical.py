"""The keyword index: BM25 over stemmed words (the only module that imports bm25s).

English Snowball stemming and stop words matter more than any BM25 parameter
on our benchmark (see eval/README.md), so both are always on. bm25s saves its
index as plain .npy and JSON files, loaded with allow_pickle=False; beside them
goes `document_frequencies.json` (in how many chunks each term occurs), counted
while the index is built, for the extractive answerer's term weights.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("english")


# One stemmer per thread: PyStemmer's objects are not safe to share between threads (the server answers
# on several), and a new one per call starts with an empty cache (about 12× slower on a passage).
_per_thread = threading.local()


def terms(text: str) -> list[str]:
    """The stemmed, stop-worded terms BM25 sees for `text`."""
    import bm25s

    stemmer = getattr(_per_thread, "stemmer", None)
    if stemmer is None:
        stemmer = _per_thread.stemmer = _stemmer()
    tokenized = bm25s.tokenize([text], stopwords="en", stemmer=stemmer, show_progress=False, return_ids=False)
    return list(tokenized[0])


DOCUMENT_FREQUENCIES = "document_frequencies.json"


class LexicalIndex:
    def __init__(self, bm25: Any, size: int, document_frequencies: Mapping[str, int]) -> None:
        self._bm25 = bm25
        self._size = size
        self.document_frequencies = document_frequencies  # term → chunks it occurs in

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        bm25 = bm25s.BM25()
        frequencies: dict[str, int] = {}
        if texts:
            tokens = bm25s.tokenize(list(texts), stopwords="en", stemmer=_stemmer(), show_progress=False)
            bm25.index(tokens, show_progress=False)
            # each chunk's distinct term ids, counted: the same terms `tokens()` gives for one text
            distinct = [np.unique(np.asarray(ids, dtype=np.int64)) for ids in tokens.ids]
            counts = np.bincount(np.concatenate(distinct), minlength=len(tokens.vocab))
            frequencies = {term: int(counts[i]) for term, i in tokens.vocab.items() if term and counts[i]}
        return cls(bm25, len(texts), frequencies)

    def __len__(self) -> int:
        return self._size

    def tokens(self, text: str) -> list[str]:
        """The stemmed, stop-worded terms BM25 sees for `text`."""
        return terms(text)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for `query` (zeros when no query term is indexed)."""
        terms = self.tokens(query)
        if not terms or self._size == 0:
            return np.zeros(self._size, dtype=np.float32)
        return np.asarray(self._bm25.get_scores(terms), dtype=np.float32)

    def save(self, folder: Path) -> None:
        self._bm25.save(str(folder), show_progress=False)
        text = json.dumps({"chunks": self._size, "terms": dict(self.document_frequencies)}, ensure_ascii=False)
        (folder / DOCUMENT_FREQUENCIES).write_text(text, encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, size: int, mmap: bool = True) -> LexicalIndex:
        """Read the index; with `mmap` its score arrays stay in their files (mapped, shared between processes)."""
        import bm25s

        bm25 = bm25s.BM25.load(str(folder), mmap=mmap, show_progress=False, allow_pickle=False)
        stored = json.loads((folder / DOCUMENT_FREQUENCIES).read_text(encoding="utf-8"))
        if stored["chunks"] != size:
            raise ValueError(f"{DOCUMENT_FREQUENCIES} counts {stored['chunks']} chunks, the index {size}")
        return cls(bm25, size, stored["terms"])
