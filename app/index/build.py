"""Build or update the index: corpus → documents → chunks → vectors → files on disk.

Updates are incremental where it counts: a chunk whose text (with its title
and headings) was embedded by the current build with the same model reuses
that vector, so editing one document re-embeds only that document's chunks.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.errors import AskdocsError
from app.index import store
from app.index.dense import DenseIndex
from app.index.embedding import Embedder
from app.ingest.annotate import Annotator, Mention
from app.ingest.chunking import chunk_documents
from app.ingest.files import Problem, corpus_files, load_corpus
from app.settings import Settings
from app.types import Chunk, Document


@dataclass(frozen=True)
class BuildReport:
    path: Path
    documents: int
    chunks: int
    embedded: int  # chunks encoded by the model in this build
    reused: int  # chunks whose vector came from the previous build
    seconds: float
    problems: list[Problem]


# Told how a build gets on: (stage, done, total), e.g. ("embedding", 640, 1200). Called from the building thread.
OnProgress = Callable[[str, int, int], None]
EMBED_SLICE = 256  # chunks embedded between two progress reports
Encode = Callable[[Sequence[str]], np.ndarray]  # texts → one vector per text


def build_index(
    settings: Settings,
    embedder: Embedder | None = None,
    progress: bool = False,
    on_progress: OnProgress | None = None,
) -> BuildReport:
    """Build the index for `settings.corpus_dir` into `settings.index_dir` and make it current."""
    started = time.perf_counter()
    with store.build_lock(settings.index_dir):
        if on_progress:
            on_progress("reading", 0, 0)
        chunks: list[Chunk] | None = None
        encode: Encode | None = None
        if settings.ray_address:  # read, chunk and embed on the cluster; written here all the same
            from app.index import cluster

            cluster.connect(settings.ray_address)
            chunked = cluster.read_and_chunk(
                settings.corpus_dir, settings.max_file_mb, settings.chunk_size, settings.chunk_overlap
            )
            corpus, chunks = chunked.corpus, chunked.chunks
            encode = functools.partial(cluster.embed, settings=settings)
        else:
            corpus = load_corpus(settings.corpus_dir, settings.max_file_mb)
        if not corpus.documents:
            reasons = "".join(f"\n  {p.path}: {p.reason}" for p in corpus.problems)
            raise AskdocsError(f"no readable documents in {settings.corpus_dir}/; nothing to index{reasons}")
        skipped = [
            {"path": p.path, "reason": p.reason, "hash": file_hash_or_empty(settings.corpus_dir / p.path)}
            for p in corpus.problems
        ]
        report = write_build(
            settings, corpus.documents, embedder, progress, skipped, started, on_progress, chunks=chunks, encode=encode
        )
    return dataclasses.replace(report, problems=corpus.problems, seconds=time.perf_counter() - started)


def write_build(
    settings: Settings,
    documents: list[Document],
    embedder: Embedder | None = None,
    progress: bool = False,
    skipped: Sequence[dict[str, str]] = (),
    started: float | None = None,
    on_progress: OnProgress | None = None,
    annotate: bool = True,
    chunks: list[Chunk] | None = None,
    encode: Encode | None = None,
) -> BuildReport:
    """Chunk and embed `documents` and write them as the current index; the caller holds the build lock.

    `annotate`: find every document's entities (what answering types its spans by); a retrieval
    benchmark, which answers nothing, skips it. `chunks`: the documents' chunks when they were made
    elsewhere (a cluster); `encode`: what embeds the chunks no earlier build embedded (default the
    embedder here).

    With `write_vectors`, the one place an index is written (the corpus build above and the BEIR benchmark
    both come here).
    """
    started = time.perf_counter() if started is None else started
    if chunks is None:
        chunks = chunk_documents(documents, settings.chunk_size, settings.chunk_overlap)
    embedder = embedder or Embedder.from_settings(settings)
    # here, in slices, so a caller can show how far embedding has got (the slow part of a build); a cluster at once
    sliced = on_progress is not None and encode is None
    encode = encode or (lambda texts: embedder.encode(texts, progress=progress))

    cache = store.embedding_cache(settings.index_dir, settings.model, embedder.content_hash)
    keys = [store.text_key(c.embedding_text()) for c in chunks]
    missing = [i for i, key in enumerate(keys) if key not in cache]
    vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    for i, key in enumerate(keys):
        if key in cache:
            vectors[i] = cache[key]
    step = EMBED_SLICE if sliced else max(1, len(missing))
    for first in range(0, len(missing), step):
        if on_progress:
            on_progress("embedding", first, len(missing))
        rows = missing[first : first + step]
        vectors[rows] = encode([chunks[i].embedding_text() for i in rows])
    if on_progress:
        on_progress("annotating", 0, len(documents))
    entities = document_entities(settings.index_dir, documents) if annotate else {}
    if on_progress:
        on_progress("writing", len(missing), len(missing))

    return write_vectors(
        settings,
        documents,
        chunks,
        vectors,
        model_hash=embedder.content_hash,
        encoder=embedder.encoder,
        embedded=len(missing),
        skipped=skipped,
        started=started,
        entities=entities,
    )


def document_entities(index_dir: Path, documents: Sequence[Document]) -> dict[str, tuple[Mention, ...]]:
    """Every document's named entities: the current build's for unchanged documents, spaCy's for the rest."""
    cache = store.entity_cache(index_dir)
    entities = {d.id: cache[d.content_hash] for d in documents if d.content_hash and d.content_hash in cache}
    fresh = [d for d in documents if d.id not in entities]
    annotator = Annotator()
    for document in fresh:
        entities[document.id] = annotator.annotate_long(document.text).entities
    return entities


def write_vectors(
    settings: Settings,
    documents: list[Document],
    chunks: list[Chunk],
    vectors: np.ndarray,
    model_hash: str,
    encoder: str,
    embedded: int = 0,
    skipped: Sequence[dict[str, str]] = (),
    started: float | None = None,
    entities: Mapping[str, Sequence[Mention]] | None = None,
) -> BuildReport:
    """Write documents, their chunks and one vector per chunk as the current index; the caller holds the lock.

    `write_build` comes here once its vectors are made; so does the benchmark with synthetic vectors
    (an empty `model_hash`: nothing reuses them).
    """
    started = time.perf_counter() if started is None else started
    reused = len(chunks) - embedded
    manifest = store.Manifest(
        model=settings.model,
        dimension=int(vectors.shape[1]),
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        documents={d.id: d.content_hash for d in documents},
        counts={"documents": len(documents), "chunks": len(chunks)},
        skipped=list(skipped),
        build={"seconds": round(time.perf_counter() - started, 3), "embedded": embedded, "reused": reused},
        model_hash=model_hash,
        encoder=encoder,
    )
    dense = DenseIndex.build(vectors, exact_limit=settings.exact_search_limit, recall=settings.ann_recall)
    path = store.write_index(settings.index_dir, documents, chunks, dense, manifest, entities)
    return BuildReport(
        path=path,
        documents=len(documents),
        chunks=len(chunks),
        embedded=embedded,
        reused=reused,
        seconds=time.perf_counter() - started,
        problems=[],
    )


def corpus_hashes(corpus_dir: Path) -> dict[str, str]:
    """Content hash of every file in the corpus folder, keyed like document ids."""
    return {p.relative_to(corpus_dir).as_posix(): file_hash_or_empty(p) for p in corpus_files(corpus_dir)}


def file_hash_or_empty(path: Path) -> str:
    try:
        return store.file_hash(path)
    except OSError:
        return ""
