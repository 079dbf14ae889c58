"""The façade every interface uses: `Assistant.load(settings)`, then `.retrieve` and `.ask`.

It owns the one loaded index, the embedding model and the reader; the CLI, the
HTTP API, the chat UI and the evaluation runner all go through it, so they all
answer the same way.

`reload()` switches to a newer build between questions: everything that belongs to one
build (the index, its retriever, the extractive answerer) is one `Served`
value, replaced in a single assignment, and each question reads it once, so a question
under way finishes on the build it started with.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from app.answer.answerer import Answerer, as_answer
from app.answer.calibration import Calibration
from app.answer.extractive import ExtractiveAnswerer, ExtractiveSettings
from app.answer.llm import LLMAnswerer
from app.answer.reader import Reader, load_calibration
from app.answer.reader_answer import ReaderAnswerer
from app.errors import AskdocsError, DocumentNotFoundError, IndexMismatchError, QuestionError
from app.index import store
from app.index.build import build_index, file_hash_or_empty
from app.index.embedding import Embedder
from app.index.store import LoadedIndex
from app.ingest.annotate import Annotator
from app.ingest.files import corpus_files
from app.search.query import resolve
from app.search.retrieve import Retriever
from app.settings import ANSWERERS, Settings
from app.types import Answer, Document, Passage, Turn


@dataclass(frozen=True)
class LoadReport:
    seconds: float
    built: bool  # True when the index was missing or stale and was built first
    stale: list[str]  # corpus changes since the index was built (at load time)


class Served:
    """One index build and what is derived from it; replaced as a whole when a newer build is loaded.

    Its answerers are made on first use (they hold the build's term weights and entities) by `make`.
    """

    def __init__(self, index: LoadedIndex, retriever: Retriever, make: Callable[[str, Served], Answerer]) -> None:
        self.index = index
        self.retriever = retriever
        self._make = make
        self._answerers: dict[str, Answerer] = {}
        self._lock = threading.RLock()  # the LLM's fallback is made while the LLM is

    def answerer(self, name: str) -> Answerer:
        with self._lock:
            if name not in self._answerers:
                self._answerers[name] = self._make(name, self)
            return self._answerers[name]


class Assistant:
    def __init__(
        self,
        settings: Settings,
        index: LoadedIndex,
        embedder: Embedder,
        extractive: ExtractiveAnswerer | None = None,
        reader: Reader | None = None,
        annotator: Annotator | None = None,
    ) -> None:
        """`extractive`, `reader` and `annotator` share what is already loaded (another Assistant's) when given."""
        self.settings = settings
        self.embedder = embedder
        self.reader = reader or Reader(threads=settings.reader_threads)
        self.annotator = annotator or Annotator()
        self._extractive = extractive
        self._calibration: Calibration | None = None
        self.served = Served(index, Retriever(index, embedder, settings), self._make_answerer)
        self.load_report = LoadReport(0.0, False, [])
        self._reload_lock = threading.Lock()
        self._corpus_hashes = CorpusHashes(settings.corpus_dir)

    @property
    def index(self) -> LoadedIndex:
        return self.served.index

    @property
    def retriever(self) -> Retriever:
        return self.served.retriever

    @property
    def extractive(self) -> ExtractiveAnswerer:
        answerer = self.served.answerer("extractive")
        assert isinstance(answerer, ExtractiveAnswerer)
        return answerer

    def answerer(self, name: str | None = None) -> Answerer:
        """The answerer of that name (`ANSWERERS`; default the `answerer` setting) for the build served now."""
        return self.served.answerer(name or self.settings.answerer)

    def _make_answerer(self, name: str, served: Served) -> Answerer:
        settings = self.settings
        if name == "reader":
            if self._calibration is None:
                self._calibration = load_calibration(self.reader.model_dir)
            return ReaderAnswerer(
                self.reader,
                self._calibration,
                settings.reader_threshold,
                settings.reader_min_similarity,
                served.index.entities,
                self.annotator,
            )
        if name == "extractive":
            bound = ExtractiveSettings(settings.abstain_threshold, settings.answer_sentences, settings.answer_margin)
            if self._extractive is not None and self._extractive.lexical is served.index.lexical:
                return self._extractive.bound_to(bound)
            return ExtractiveAnswerer(self.embedder, served.index.lexical, bound)
        if name == "llm":
            return LLMAnswerer(settings, self.embedder, fallback=served.answerer("reader"))
        raise QuestionError(f"unknown answerer {name!r}; one of: {', '.join(ANSWERERS)}")

    def reload(self) -> bool:
        """Switch to the index's current build if it is not the one served; True when it switched.

        The new build is loaded and checked before the switch, so a damaged or mismatched build
        raises here and the old one keeps serving. Safe to call from any thread.
        """
        with self._reload_lock:
            if store.current_build_name(self.settings.index_dir) == self.index.path.name:
                return False
            index = store.load_index(self.settings.index_dir)
            try:
                store.check_settings(index.manifest, self.settings, self.embedder.content_hash)
            except BaseException:
                index.unpin()
                raise
            retriever = Retriever(index, self.embedder, self.settings)
            old, self.served = self.served, Served(index, retriever, self._make_answerer)
            old.index.unpin()  # questions still reading it hold it in memory; its files may go
            return True

    def corpus_hashes(self) -> dict[str, str]:
        """The corpus folder's content hashes now (re-reading only files that changed since last asked)."""
        return self._corpus_hashes.current()

    def corpus_changes(self) -> list[str]:
        """What changed in the corpus folder since the served build ("new: x.pdf", "removed: …", "changed: …")."""
        return store.corpus_changes(self.index.manifest, self.corpus_hashes())

    @classmethod
    def load(
        cls,
        settings: Settings,
        build_if_missing: bool = False,
        embedder: Embedder | None = None,
        rebuild_if_stale: bool = False,
        warm_up: Collection[Literal["embedder", "reader"]] = ("embedder", "reader"),
    ) -> Assistant:
        """Load the index (building it first if asked and missing, or stale), check it fits the settings.

        The models in `warm_up` load now, not on the first question; the others on first use, if any
        (a one-off BM25 search from the command line needs neither).
        """
        started = time.perf_counter()
        embedder = embedder or Embedder.from_settings(settings)
        built = False
        missing = not (settings.index_dir / "current").exists()
        hashes = CorpusHashes(settings.corpus_dir)  # read once here; later calls re-read only changed files
        if (build_if_missing and missing) or (rebuild_if_stale and not missing and _stale(settings, embedder, hashes)):
            build_index(settings, embedder=embedder)  # incremental: unchanged chunks reuse their vectors
            built = True
        index = store.load_index(settings.index_dir)
        try:
            # the encoder's weights are checked now when it loads now, else before the first query is embedded
            store.check_settings(index.manifest, settings, embedder.content_hash if "embedder" in warm_up else "")
        except BaseException:
            index.unpin()
            raise
        stale = store.corpus_changes(index.manifest, hashes.current())
        if "embedder" in warm_up:
            embedder.encode(["warm up"])  # load the model now, not on the first question
        assistant = cls(settings, index, embedder)
        assistant._corpus_hashes = hashes
        if "reader" in warm_up:
            assistant.reader.read("warm up", ["warm up"])  # check and load the reader now, too
            assistant.annotator.annotate("Warm up in Ottawa.")  # and spaCy, which reads every question
        assistant.load_report = LoadReport(time.perf_counter() - started, built, stale)
        return assistant

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        return self.retriever.retrieve(question, k=self.check_k(k), mode=mode)

    def check_k(self, k: int | None) -> int:
        """`k` (passages to retrieve), or the top_k setting when None; QuestionError when out of range."""
        if k is None:
            return self.settings.top_k
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.settings.candidates:
            raise QuestionError(f"k must be a whole number from 1 to {self.settings.candidates}, not {k!r}")
        return k

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
        or plain earlier questions. `answerer` is one of `ANSWERERS` (default: the setting).
        """
        question, history = self.check_question(question, history)
        k = self.check_k(k)
        started = time.perf_counter()
        served = self.served  # read once: a reload mid-question must not mix two builds
        chosen = served.answerer(answerer or self.settings.answerer)
        query = resolve(question, history, self.settings.history_weight, self.annotator)
        query_vector = self.embedder.encode_query(query.search, query.context, query.context_weight)
        passages = served.retriever.retrieve(
            query.search,
            k=max(k, self.settings.show_passages),
            context=query.context,
            context_weight=query.context_weight,
            query_vector=query_vector,
        )
        timings = {"retrieve": _ms_since(started)}
        answering = time.perf_counter()
        pieces = chosen.stream(query, passages[:k], served.index.documents) if stream else None
        for piece in pieces or [chosen.answer(query, passages[:k], served.index.documents)]:
            if isinstance(piece, str):
                yield piece
                continue
            timings_ms = {**timings, "answer": _ms_since(answering)}
            answer = as_answer(piece, chosen.name, query, passages, timings_ms)
            yield dataclasses.replace(answer, timings_ms={**answer.timings_ms, "total": _ms_since(started)})

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
        question = clean_text(question)
        if not question.strip():
            raise QuestionError("the question is empty")
        if len(question) > limit:
            raise QuestionError(f"the question is {len(question)} characters; the limit is {limit}")
        if not isinstance(history, list | tuple) or not all(isinstance(h, str | Turn) for h in history):
            raise QuestionError("history must be a list of earlier turns (questions, or question and answer)")
        turns = [h if isinstance(h, Turn) else Turn(h) for h in history]
        turns = [Turn(clean_text(t.question), clean_text(t.answer)) for t in turns]
        turns = [t for t in turns if t.question.strip()][-self.settings.max_history_turns :]
        if any(len(t.question) > limit or len(t.answer) > limit for t in turns):
            raise QuestionError(f"an earlier turn is over the {limit}-character limit")
        return question.strip(), turns

    def document(self, doc_id: str) -> Document:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(f"no document {doc_id!r} in the index") from None


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_text(text: str) -> str:
    """Text from outside made safe to process and to send back as UTF-8: a lone surrogate (which no
    encoder can write) becomes U+FFFD, control characters other than tab and line breaks go."""
    return _CONTROL.sub("", _SURROGATE.sub("\ufffd", text))


class CorpusHashes:
    """The corpus folder's content hashes, re-hashing only files whose size or modification time changed.

    /healthz and the documents list ask often; reading every file each time would not scale.
    """

    def __init__(self, corpus_dir: Path) -> None:
        self.corpus_dir = corpus_dir
        self._known: dict[str, tuple[int, int, str]] = {}  # id → (size, mtime_ns, hash)
        self._lock = threading.Lock()

    def current(self) -> dict[str, str]:
        with self._lock:
            seen: dict[str, tuple[int, int, str]] = {}
            for path in corpus_files(self.corpus_dir):
                doc_id = path.relative_to(self.corpus_dir).as_posix()
                try:
                    stat = path.stat()
                except OSError:
                    continue  # gone since it was listed
                known = self._known.get(doc_id)
                if known and known[:2] == (stat.st_size, stat.st_mtime_ns):
                    seen[doc_id] = known
                else:
                    seen[doc_id] = (stat.st_size, stat.st_mtime_ns, file_hash_or_empty(path))
            self._known = seen
            return {doc_id: entry[2] for doc_id, entry in seen.items()}


def _stale(settings: Settings, embedder: Embedder, hashes: CorpusHashes) -> bool:
    """Whether the current build needs rebuilding: the corpus changed, or it was built by an older version,
    with other settings or by other encoder weights. A damaged build counts as not stale: loading it says
    what is wrong."""
    try:
        manifest = store.read_manifest(store.current_path(settings.index_dir))
        store.check_settings(manifest, settings, embedder.content_hash)
    except IndexMismatchError:
        return True
    except AskdocsError:
        return False
    return bool(store.corpus_changes(manifest, hashes.current()))


def _ms_since(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)
