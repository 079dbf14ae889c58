"""The façade every interface uses: `Assistant.load(settings)`, then `.retrieve` and `.ask`.

It owns the one loaded index and the one embedding model; the CLI, the HTTP
API, the chat UI and the evaluation runner all go through it, so they all
answer the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from app import store
from app.embedding import Embedder
from app.errors import DocumentNotFoundError
from app.indexer import build_index, corpus_hashes
from app.retrieve import Retriever
from app.settings import Settings
from app.store import LoadedIndex
from app.types import Document, Passage


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    built: bool  # True when the index was missing and was built first
    stale: list[str]  # corpus changes since the index was built


class Assistant:
    def __init__(self, settings: Settings, index: LoadedIndex, embedder: Embedder) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, settings)
        self.load_report = LoadReport(0.0, False, [])

    @classmethod
    def load(cls, settings: Settings, build_if_missing: bool = False, embedder: Embedder | None = None) -> Assistant:
        """Load the index (building it first if asked and missing), check it fits the settings."""
        started = time.perf_counter()
        embedder = embedder or Embedder(settings.model, settings.embed_batch_size)
        built = False
        if build_if_missing and not (settings.index_dir / "current").exists():
            build_index(settings, embedder=embedder)
            built = True
        index = store.load_index(settings.index_dir)
        store.check_settings(index.manifest, settings)
        stale = store.corpus_changes(index.manifest, corpus_hashes(settings.corpus_dir))
        embedder.encode(["warm up"])  # load the model now, not on the first question
        assistant = cls(settings, index, embedder)
        assistant.load_report = LoadReport(time.perf_counter() - started, built, stale)
        return assistant

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        return self.retriever.retrieve(question, k=k, mode=mode)

    def document(self, doc_id: str) -> Document:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None
