"""Retrieval on a BEIR-format dataset, through the product's own chunking, index and Retriever.

    DIR/corpus.jsonl   {"_id", "title", "text"} per line
    DIR/queries.jsonl  {"_id", "text"} per line
    DIR/qrels/<split>.tsv   query-id, corpus-id, score (header line; relevant when score > 0)

Each BEIR document becomes an `app.types.Document` (title + blank line + text), is chunked with
the configured chunk size, embedded and written as a real index with `app.store`, then queried
with `app.retrieve.Retriever` in each mode. Trade-offs, stated so the numbers can be read right:
- Documents are chunked, qrels are per document: a document ranks by its best chunk. To get 100
  distinct documents back, each query asks for max(300, 100 × chunks per document) passages, and
  as the Retriever takes max(candidates, k) candidates per side, hybrid fuses (and z-scores) over
  that wider pool, not the product's `candidates` (50). On SciFact this moved nDCG@10 by < 0.01.
- The title also starts the document text (as BEIR evaluations embed title + text), so the splitter
  usually cuts the title off as a chunk of its own, and every chunk carries it as context too.
- Query time includes embedding each query (one at a time, as in the product) and building Passages.
- The index is cached per (corpus.jsonl, model, chunking) under ~/.cache/askdocs/beir (the dataset
  folder may be read-only) and reused when its manifest matches; a mismatch rebuilds it.
- Tuning sweeps only the z-score fusion's dense_weight; the RRF row keeps settings.dense_weight.
"""

from __future__ import annotations

import hashlib
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean

from app.errors import AskdocsError, IndexCorruptError, IndexMismatchError, IndexMissingError
from app.evaluation.metrics import mrr_at, ndcg_at, recall_at
from app.index import store
from app.index.build import write_build
from app.index.embedding import Embedder
from app.jsonl import read_jsonl
from app.search.retrieve import Retriever
from app.settings import Settings
from app.types import Document

MIN_PASSAGES = 300
DOC_DEPTH = 100
TUNING_WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


class BeirFormatError(AskdocsError, ValueError):
    """The folder is not a readable BEIR dataset (missing file, bad JSON, unknown split)."""


@dataclass(frozen=True)
class ModeResult:
    name: str  # row label, e.g. "dense" or "hybrid (zscore, w=0.5)"
    ndcg_10: float
    recall_10: float
    recall_100: float
    mrr_10: float
    queries_per_s: float
    short_queries: int  # queries whose passages reached < 100 documents (or < all): Recall@100 undercounts
    per_query_ndcg: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class BeirReport:
    dataset: str
    split: str
    queries: int
    documents: int
    chunks: int
    settings: Settings  # as run: model, chunking, index_dir (the cache folder)
    passages: int  # retrieved per query, ranked into documents
    results: tuple[ModeResult, ...]  # dense, bm25, hybrid (zscore), hybrid (rrf)
    dense_weight: float  # used by the z-score hybrid row
    tuned_on: str | None  # split the weight was tuned on; None when settings.dense_weight was used
    tuning: tuple[tuple[float, float], ...]  # (dense_weight, nDCG@10 on the tuning split)
    cached: bool  # the index came from the cache
    index_seconds: float  # to make the index ready: build (chunk, embed, write, load) or load and verify
    docs_per_s: float | None  # build throughput; None when cached
    chunks_per_s: float | None

    def result(self, name_prefix: str) -> ModeResult:
        return next(r for r in self.results if r.name.startswith(name_prefix))


def run_beir(
    directory: Path,
    settings: Settings,
    cache_dir: Path | None = None,
    split: str = "test",
    tune_on: str | None = None,
    embedder: Embedder | None = None,
    progress: Callable[[str], None] = lambda _message: None,
) -> BeirReport:
    """Index `directory` (or reuse its cached index), then score every retrieval mode on `split`."""
    if tune_on == split:
        raise BeirFormatError(f"tuning and reporting on the same split ({split}) would flatter the result")
    documents = read_corpus(directory)
    queries = {str(row["_id"]): str(row.get("text", "")) for row in _read_jsonl(directory / "queries.jsonl")}
    qrels = read_qrels(directory, split, queries)
    tunable = tune_on and (directory / "qrels" / f"{tune_on}.tsv").is_file()
    tune_qrels = read_qrels(directory, tune_on, queries) if tune_on and tunable else {}
    embedder = embedder or Embedder.from_settings(settings)
    embedder.encode(["warm up"])  # load the model outside every timing

    cache = (cache_dir or default_cache_root()) / f"{directory.resolve().name}-{cache_key(directory, settings)}"
    run_settings = settings.replace(index_dir=cache)
    started = time.perf_counter()
    index = _cached_index(run_settings, documents, embedder.content_hash)
    cached = index is not None
    if index is None:
        progress(f"building the index for {directory} ({len(documents)} documents) in {cache} …")
        _build(run_settings, documents, embedder)
        index = store.load_index(cache)
    index_seconds = time.perf_counter() - started
    passages = max(MIN_PASSAGES, math.ceil(DOC_DEPTH * len(index.chunks) / len(documents)))

    def score(name: str, mode: str, on: dict[str, set[str]], **changes: object) -> ModeResult:
        retriever = Retriever(index, embedder, run_settings.replace(**changes))
        return _score(name, retriever, mode, passages, queries, on)

    weight = settings.dense_weight
    tuning: tuple[tuple[float, float], ...] = ()
    if tune_qrels:
        progress(f"tuning dense_weight on {len(tune_qrels)} {tune_on} queries …")
        sweep = [score("tune", "hybrid", tune_qrels, fusion="zscore", dense_weight=w) for w in TUNING_WEIGHTS]
        tuning = tuple((w, result.ndcg_10) for w, result in zip(TUNING_WEIGHTS, sweep, strict=True))
        weight = max(tuning, key=lambda pair: pair[1])[0]  # the first best: the lowest weight on ties
    progress(f"scoring {len(qrels)} {split} queries …")
    results = (
        score("dense", "dense", qrels),
        score("bm25", "bm25", qrels),
        score(f"hybrid (zscore, w={weight:g})", "hybrid", qrels, fusion="zscore", dense_weight=weight),
        score("hybrid (rrf)", "hybrid", qrels, fusion="rrf"),
    )
    return BeirReport(
        dataset=directory.resolve().name,
        split=split,
        queries=len(qrels),
        documents=len(documents),
        chunks=len(index.chunks),
        settings=run_settings,
        passages=passages,
        results=results,
        dense_weight=weight,
        tuned_on=tune_on if tune_qrels else None,
        tuning=tuning,
        cached=cached,
        index_seconds=index_seconds,
        docs_per_s=None if cached else len(documents) / index_seconds,
        chunks_per_s=None if cached else len(index.chunks) / index_seconds,
    )


def format_beir_report(report: BeirReport) -> str:
    s = report.settings
    lines = [
        f"BEIR {report.dataset}, {report.split} split: {report.queries} queries, {report.documents} documents, "
        f"{report.chunks} chunks (chunk_size {s.chunk_size}, overlap {s.chunk_overlap}), model {s.model}, "
        f"{s.encoder} encoder",
        "",
        "| mode | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | queries/s |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.name} | {r.ndcg_10:.3f} | {r.recall_10:.3f} | {r.recall_100:.3f} | {r.mrr_10:.3f} "
            f"| {r.queries_per_s:.1f} |"
            for r in report.results
        ),
        "",
    ]
    if report.tuned_on:
        sweep = ", ".join(f"{w:g}: {ndcg:.3f}" for w, ndcg in report.tuning)
        lines.append(f"dense_weight {report.dense_weight:g} tuned on {report.tuned_on} (nDCG@10 by weight: {sweep})")
    else:
        lines.append(f"dense_weight {report.dense_weight:g} from the settings (not tuned)")
    short = ", ".join(f"{r.name.split(' (')[0]} {r.short_queries}" for r in report.results[:3])
    lines.append(
        f"hybrid (rrf) uses dense_weight {s.dense_weight:g}, rrf_k {s.rrf_k}; documents ranked by their best of "
        f"{report.passages} passages (queries reaching under {DOC_DEPTH} documents: {short})"
    )
    if report.cached:
        lines.append(f"index: cached, loaded and verified in {report.index_seconds:.1f} s ({s.index_dir})")
    else:
        lines.append(
            f"index: built in {report.index_seconds:.1f} s ({report.docs_per_s:.1f} docs/s, "
            f"{report.chunks_per_s:.1f} chunks/s: chunk, embed, write, load) into {s.index_dir}"
        )
    return "\n".join(lines)


def beir_command(directory: Path, settings: Settings, cache_dir: Path | None, split: str, tune: bool) -> str:
    """`askdocs eval beir DIR [--cache DIR] [--split test] [--tune]`: the report as text."""
    report = run_beir(
        directory,
        settings,
        cache_dir=cache_dir,
        split=split,
        tune_on="train" if tune else None,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    text = format_beir_report(report)
    if tune and report.tuned_on is None:
        text += f"\nnote: --tune ignored: {directory / 'qrels' / 'train.tsv'} not found"
    return text


def default_cache_root() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "askdocs" / "beir"


def cache_key(directory: Path, settings: Settings) -> str:
    """Hash of corpus.jsonl's bytes, the model, its encoder and the chunking: what the index depends on."""
    digest = hashlib.sha256(store.file_hash(directory / "corpus.jsonl").encode())
    digest.update(
        f"{settings.model}|{settings.encoder}|{settings.chunk_size}|{settings.chunk_overlap}|{store.SPLITTER}".encode()
    )
    return digest.hexdigest()[:12]


def read_corpus(directory: Path) -> list[Document]:
    documents = []
    for row in _read_jsonl(directory / "corpus.jsonl"):
        title, text = str(row.get("title") or "").strip(), str(row.get("text") or "")
        body = f"{title}\n\n{text}" if title else text
        content_hash = hashlib.sha256(body.encode("utf-8")).hexdigest()
        documents.append(Document(id=str(row["_id"]), title=title, text=body, content_hash=content_hash))
    if not documents or len({d.id for d in documents}) != len(documents):
        raise BeirFormatError(f"{directory / 'corpus.jsonl'} has no documents, or repeats an _id")
    return documents


def read_qrels(directory: Path, split: str, queries: dict[str, str]) -> dict[str, set[str]]:
    """Query id → relevant document ids (score > 0); queries with no relevant document are left out."""
    path = directory / "qrels" / f"{split}.tsv"
    if not path.is_file():
        found = sorted(p.stem for p in (directory / "qrels").glob("*.tsv"))
        raise BeirFormatError(f"no qrels for split {split!r}: {path} not found (splits found: {found or 'none'})")
    qrels: dict[str, set[str]] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.strip().split("\t")
        if not line.strip() or (number == 1 and parts[0] == "query-id"):
            continue
        try:
            query_id, doc_id, relevance = parts[0], parts[1], int(parts[2])
        except (IndexError, ValueError):
            raise BeirFormatError(f"{path}:{number}: expected query-id, corpus-id, score: {line!r}") from None
        if query_id not in queries:
            raise BeirFormatError(f"{path}:{number}: query {query_id!r} is not in queries.jsonl")
        if relevance > 0:
            qrels.setdefault(query_id, set()).add(doc_id)
    if not qrels:
        raise BeirFormatError(f"{path} has no relevant (score > 0) pairs")
    return qrels


def _read_jsonl(path: Path) -> list[dict[str, object]]:
    if not path.is_file():
        raise BeirFormatError(f"not a BEIR dataset: {path} not found")
    rows = []
    try:
        for number, row in read_jsonl(path):
            if not isinstance(row, dict) or "_id" not in row:
                raise BeirFormatError(f"{path}:{number}: expected an object with an _id")
            rows.append(row)
    except BeirFormatError:
        raise
    except ValueError as exc:
        raise BeirFormatError(str(exc)) from None
    return rows


def _cached_index(settings: Settings, documents: list[Document], model_hash: str) -> store.LoadedIndex | None:
    """The cached index when it was built from these documents with this model, encoder and chunking."""
    try:
        index = store.load_index(settings.index_dir)
        store.check_settings(index.manifest, settings, model_hash)
    except (IndexMissingError, IndexCorruptError, IndexMismatchError):
        return None
    return index if index.manifest.documents == {d.id: d.content_hash for d in documents} else None


def _build(settings: Settings, documents: list[Document], embedder: Embedder) -> None:
    with store.build_lock(settings.index_dir):
        write_build(settings, documents, embedder, progress=sys.stderr.isatty(), annotate=False)


def _score(
    name: str, retriever: Retriever, mode: str, k: int, queries: dict[str, str], qrels: dict[str, set[str]]
) -> ModeResult:
    """Mean metrics over the queries in `qrels`; documents ranked by their best retrieved chunk."""
    rows: dict[str, tuple[float, float, float, float, int]] = {}
    started = time.perf_counter()
    for query_id, relevant in qrels.items():
        passages = retriever.retrieve(queries[query_id], k=k, mode=mode)
        ranked = list(dict.fromkeys(p.chunk.doc_id for p in passages))  # passages come best first
        hits = [doc_id in relevant for doc_id in ranked[:DOC_DEPTH]]
        total = len(relevant)
        metrics = ndcg_at(hits, 10, total), recall_at(hits, 10, total), recall_at(hits, 100, total), mrr_at(hits, 10)
        rows[query_id] = (*metrics, len(ranked))
    seconds = time.perf_counter() - started
    columns = list(zip(*rows.values(), strict=True))
    ndcg, recall_10, recall_100, mrr = (fmean(column) for column in columns[:4])
    per_query = {query_id: row[0] for query_id, row in rows.items()}
    short = sum(n < min(DOC_DEPTH, len(retriever.index.documents)) for n in columns[4])
    return ModeResult(name, ndcg, recall_10, recall_100, mrr, len(rows) / seconds, short, per_query)
