"""The façade every interface uses: `Assistant.load(settings)`, then `.retrieve` and `.ask`.

It owns the one loaded index, the embedding model and the reader; the CLI, the
HTTP API, the chat UI and the evaluation runner all go through it, so they all
answer the same way.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from app.answer.extractive import Extract, ExtractiveAnswerer
from app.answer.reader import Reader
from app.answer.reader_answer import ReaderAnswerer
from app.errors import DocumentNotFoundError, QuestionError
from app.index import store
from app.index.build import build_index, corpus_hashes
from app.index.embedding import Embedder
from app.index.store import LoadedIndex
from app.search.query import resolve
from app.search.retrieve import Retriever
from app.settings import Settings
from app.types import Answer, Document, Passage, Turn


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    built: bool  # True when the index was missing and was built first
    stale: list[str]  # corpus changes since the index was built


class Assistant:
    def __init__(
        self,
        settings: Settings,
        index: LoadedIndex,
        embedder: Embedder,
        extractive: ExtractiveAnswerer | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.embedder = embedder
        self.retriever = Retriever(index, embedder, settings)
        self._extractive = extractive
        self._extractive_lock = threading.Lock()
        self.reader = ReaderAnswerer(reader or Reader())
        self.load_report = LoadReport(0.0, False, [])

    @property
    def extractive(self) -> ExtractiveAnswerer:
        """Built on first use: its IDF table is a pass over every chunk, wasted at start when the reader answers."""
        with self._extractive_lock:
            if self._extractive is None:
                chunk_texts = [c.embedding_text() for c in self.index.chunks]
                self._extractive = ExtractiveAnswerer(self.embedder, self.index.lexical, chunk_texts)
            return self._extractive

    @classmethod
    def load(
        cls,
        settings: Settings,
        build_if_missing: bool = False,
        embedder: Embedder | None = None,
        warm_up: Collection[Literal["embedder", "reader"]] = ("embedder", "reader"),
    ) -> Assistant:
        """Load the index (building it first if asked and missing), check it fits the settings.

        The models in `warm_up` load now, not on the first question; the others on first use, if any
        (a one-off BM25 search from the command line needs neither).
        """
        started = time.perf_counter()
        embedder = embedder or Embedder(settings.model, settings.embed_batch_size)
        built = False
        if build_if_missing and not (settings.index_dir / "current").exists():
            build_index(settings, embedder=embedder)
            built = True
        index = store.load_index(settings.index_dir)
        store.check_settings(index.manifest, settings)
        stale = store.corpus_changes(index.manifest, corpus_hashes(settings.corpus_dir))
        if "embedder" in warm_up:
            embedder.encode(["warm up"])  # load the model now, not on the first question
        assistant = cls(settings, index, embedder)
        if "reader" in warm_up:
            assistant.reader.reader.read("warm up", ["warm up"])  # check and load the reader now, too
        assistant.load_report = LoadReport(time.perf_counter() - started, built, stale)
        return assistant

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        return self.retriever.retrieve(question, k=k, mode=mode)

    def ask(
        self,
        question: str,
        history: Sequence[str | Turn] = (),
        answerer: str | None = None,
        k: int | None = None,
    ) -> Answer:
        """Answer `question` (after the earlier `history` questions) with quoted, cited sentences."""
        answer: Answer | None = None
        for item in self.ask_stream(question, history, answerer, k, stream=False):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        history: Sequence[str | Turn] = (),
        answerer: str | None = None,
        k: int | None = None,
        stream: bool = True,
    ) -> Iterator[str | Answer]:
        """Text pieces as they are produced, then the final Answer, which replaces them on screen.

        The offline answers are ready at once, so their pieces are their words; an LLM's are its tokens.
        `history` holds the earlier turns, oldest first: `Turn`s (question and the short answer it got),
        or plain earlier questions.
        """
        question, history = self.check_question(question, history)
        answerer = answerer or self.settings.answerer
        k = k or self.settings.top_k
        started = time.perf_counter()
        query = resolve(question, history, self.settings.history_weight)
        # embedded once, for retrieval and for scoring the answer's sentences
        query_vector = self.embedder.encode_query(query.search, query.context, query.context_weight)
        passages = self.retriever.retrieve(
            query.search,
            k=max(k, self.settings.show_passages),
            context=query.context,
            context_weight=query.context_weight,
            query_vector=query_vector,
        )
        timings = {"retrieve": _ms_since(started)}

        def as_answer(name: str, extract: Extract, t: float) -> Answer:
            return Answer(
                question=question,
                text=extract.text,
                citations=extract.citations,
                abstained=extract.abstained,
                passages=tuple(passages),
                query=query.describe(),
                answerer=name,
                confidence=round(extract.best_support, 4),
                timings_ms={**timings, "answer": _ms_since(t)},
                notes=(f"not answered: {extract.reason}",) if extract.reason else (),
                short_answer=extract.short,
            )

        def extractive() -> Answer:
            t = time.perf_counter()
            extract = self.extractive.answer(
                query,
                passages[:k],
                self.index.documents,
                self.settings.abstain_threshold,
                self.settings.answer_sentences,
                self.settings.answer_margin,
                query_vector,
            )
            return as_answer("extractive", extract, t)

        def read() -> Answer:
            t = time.perf_counter()
            extract = self.reader.answer(
                query,
                passages[:k],
                self.index.documents,
                self.settings.reader_threshold,
                self.settings.reader_min_similarity,
            )
            return as_answer("reader", extract, t)

        if answerer == "llm" and not self.settings.llm_configured:
            note = "no LLM is configured (settings llm_base_url and llm_model); showing the reader's answer"
            pieces: Iterator[str | Answer] = iter([dataclasses.replace(read(), notes=(note,))])
        elif answerer == "llm":
            from app.answer import llm

            request = llm.LLMRequest(
                question=question,
                query=query.describe(),
                passages=passages[:k],
                documents=self.index.documents,
                embedder=self.embedder,
                settings=self.settings,
                fallback=read,
            )
            run = llm.stream_llm_answer if stream else llm.llm_answer
            result = run(request)
            pieces = result if isinstance(result, Iterator) else iter([result])
        else:
            answer = extractive() if answerer == "extractive" else read()
            pieces = iter([*(re.findall(r"\S+\s*", answer.text) if stream else []), answer])
        for piece in pieces:
            if isinstance(piece, Answer):
                piece = dataclasses.replace(
                    piece,
                    timings_ms={**timings, **piece.timings_ms, "total": _ms_since(started)},
                    follows_up=query.carried,
                )
            yield piece

    def replay(self, questions: Sequence[str], answerer: str | None = None, k: int | None = None) -> list[Turn]:
        """Ask earlier questions in order, as a chat would, so a follow-up knows the answers they got."""
        turns: list[Turn] = []
        for earlier in questions:
            turns.append(Turn(earlier, self.ask(earlier, turns, answerer, k).short_answer))
        return turns

    def check_question(self, question: object, history: object = ()) -> tuple[str, list[Turn]]:
        """The question and history (as `Turn`s) cleaned, or QuestionError saying what is wrong."""
        limit = self.settings.max_question_chars
        if not isinstance(question, str):
            raise QuestionError("the question must be a string")
        if not question.strip():
            raise QuestionError("the question is empty")
        if len(question) > limit:
            raise QuestionError(f"the question is {len(question)} characters; the limit is {limit}")
        if not isinstance(history, list | tuple) or not all(isinstance(h, str | Turn) for h in history):
            raise QuestionError("history must be a list of earlier turns (questions, or question and answer)")
        turns = [h if isinstance(h, Turn) else Turn(h) for h in history]
        turns = [t for t in turns if t.question.strip()][-self.settings.max_history_turns :]
        if any(len(t.question) > limit or len(t.answer) > limit for t in turns):
            raise QuestionError(f"an earlier turn is over the {limit}-character limit")
        return question.strip(), turns

    def document(self, doc_id: str) -> Document:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
