"""Seeded synthetic corpora for `askdocs bench`: documents, chunks and vectors of any size.

They measure what size costs (index writing, loading, memory, search and answer time), not quality:
- Text: sentences of words drawn by a Zipf law (rank r with weight 1/r) from the seed corpus's own
  words, most frequent first, then made-up pseudo-words, as many as Heaps' law gives a real corpus of
  that many words (30·√tokens), so the keyword index grows as a real one would. The eval questions
  then hit real postings lists.
- Chunks: `CHUNKS_PER_DOCUMENT` per document, each about `chunk_size` characters, with exact spans.
- Vectors: a seeded two-level mixture around `centres` (the bench passes the real corpus's chunk
  vectors): each document draws a centre and lies near it, each chunk near its document. Exact search
  costs the same for any vectors of this shape, but approximate search (IVF) is only as good as the
  data is clustered: on random vectors its recall would mean nothing, on these the real questions'
  vectors find neighbours as they would near real chunks. What they retrieve still means nothing, and
  no encoder time is included (the bench says so).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from app.types import Chunk, Document

CHUNKS_PER_DOCUMENT = 20
WORDS_PER_SENTENCE = (8, 18)
HEAPS_K = 30  # vocabulary ≈ HEAPS_K · √tokens, a typical English Heaps' law
# Length of the noise added to a centre for a document, and to a document's vector for a chunk: a chunk
# keeps cosine ≈ 0.8 to its centre and ≈ 0.9 to its document's other chunks, about as near as real ones
DOCUMENT_SPREAD = 0.6
CHUNK_SPREAD = 0.35
RANDOM_CENTRES = 64  # when no centres are given
_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]


@dataclass(frozen=True)
class SyntheticCorpus:
    documents: list[Document]
    chunks: list[Chunk]
    vectors: np.ndarray  # (len(chunks), dimension) float32, unit rows
    vocabulary: int  # distinct words the text was drawn from


def seed_words(texts: Sequence[str]) -> list[str]:
    """The words of `texts`, most frequent first (ties alphabetical, so the order is reproducible)."""
    counts = Counter(word.lower() for text in texts for word in re.findall(r"[A-Za-z]+", text))
    return [word for word, _ in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def synthetic_corpus(
    n_chunks: int,
    words: Sequence[str],
    chunk_size: int,
    dimension: int,
    seed: int = 16,
    centres: np.ndarray | None = None,
) -> SyntheticCorpus:
    """`n_chunks` chunks of seeded text in documents of CHUNKS_PER_DOCUMENT, with unit vectors clustered
    around `centres` ((any, dimension) unit rows; seeded random ones when None)."""
    rng = np.random.default_rng(seed)
    mean_sentence = sum(WORDS_PER_SENTENCE) / 2
    average_word = 7  # characters with the space, about what the draw below gives
    tokens = n_chunks * chunk_size / average_word
    vocabulary = list(words) + [_pseudo_word(i) for i in range(max(0, int(HEAPS_K * math.sqrt(tokens)) - len(words)))]
    weights = 1.0 / np.arange(1, len(vocabulary) + 1)
    draws = rng.choice(len(vocabulary), size=int(tokens * 1.2) + 64, p=weights / weights.sum())
    lengths = rng.integers(WORDS_PER_SENTENCE[0], WORDS_PER_SENTENCE[1] + 1, size=int(len(draws) / mean_sentence) + 1)

    documents: list[Document] = []
    chunks: list[Chunk] = []
    position, sentence = 0, 0
    for first in range(0, n_chunks, CHUNKS_PER_DOCUMENT):
        doc_id = f"synthetic-{first // CHUNKS_PER_DOCUMENT:07d}.txt"
        title = f"Synthetic document {first // CHUNKS_PER_DOCUMENT}"
        pieces: list[str] = []
        spans: list[tuple[int, int]] = []
        offset = 0
        for _ in range(min(CHUNKS_PER_DOCUMENT, n_chunks - first)):
            text = ""
            while len(text) < chunk_size - 60:
                if position + lengths[sentence % len(lengths)] > len(draws):
                    position = 0  # reuse the draws (only for tiny corpora)
                picked = draws[position : position + lengths[sentence % len(lengths)]]
                position += len(picked)
                sentence += 1
                text += (" " if text else "") + " ".join(vocabulary[i] for i in picked).capitalize() + "."
            pieces.append(text)
            spans.append((offset, offset + len(text)))
            offset += len(text) + 2
        body = "\n\n".join(pieces)
        document = Document(
            id=doc_id, title=title, text=body, content_hash=hashlib.sha256(body.encode()).hexdigest()
        )
        documents.append(document)
        for number, ((start, end), text) in enumerate(zip(spans, pieces, strict=True)):
            chunks.append(Chunk(f"{doc_id}#{number}", doc_id, number, start, end, text, title))
    vectors = _clustered_vectors(rng, n_chunks, dimension, centres)
    return SyntheticCorpus(documents, chunks, vectors, len(vocabulary))


def _clustered_vectors(
    rng: np.random.Generator, n_chunks: int, dimension: int, centres: np.ndarray | None
) -> np.ndarray:
    """Unit vectors near their document's, documents near a centre each (see the module's docstring)."""
    if centres is None:
        centres = _unit(rng.standard_normal((RANDOM_CENTRES, dimension), dtype=np.float32))
    n_documents = -(-n_chunks // CHUNKS_PER_DOCUMENT)
    picked = centres[rng.integers(0, len(centres), size=n_documents)].astype(np.float32)
    noise = rng.standard_normal((n_documents, dimension), dtype=np.float32)
    document_vectors = _unit(picked + DOCUMENT_SPREAD * _unit(noise))
    vectors = np.repeat(document_vectors, CHUNKS_PER_DOCUMENT, axis=0)[:n_chunks]
    for first in range(0, n_chunks, 100_000):  # in slices: the noise of a million rows at once is 1.5 GB more
        rows = vectors[first : first + 100_000]
        noise = rng.standard_normal(rows.shape, dtype=np.float32)
        vectors[first : first + 100_000] = _unit(rows + CHUNK_SPREAD * _unit(noise))
    return vectors


def _unit(rows: np.ndarray) -> np.ndarray:
    unit: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return unit


def _pseudo_word(rank: int) -> str:
    """A distinct made-up word for each rank ("bab", "bad", …): base-len(_SYLLABLES) digits as syllables."""
    digits = []
    rank += len(_SYLLABLES)  # at least two syllables: no one-letter-pair words
    while rank:
        rank, digit = divmod(rank, len(_SYLLABLES))
        digits.append(_SYLLABLES[digit])
    return "".join(reversed(digits)) + "k"
