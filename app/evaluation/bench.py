"""`askdocs bench`: what building, loading, searching and answering cost, and how that grows with size.

Machine load varies (this machine is shared), so every speed is printed beside a baseline measured
in the same run, with the load average and the thread settings:
1. Encoders, on the configured corpus's chunks, in interleaved rounds: plain `SentenceTransformer.encode`
   (the baseline), the torch encoder, and the onnx encoder as configured, with the other run size
   (one text, or 32 length-sorted) and with the other thread count (1, or 2 when configured with 1).
2. A full build of that corpus with each encoder (read, chunk, embed, write).
3. Serving, each corpus in a fresh process (so its memory is its own): the corpus itself with each
   encoder, then synthetic corpora of 10k and 100k chunks (1M with `--large`; seeded text, and vectors
   clustered around the corpus's real chunk vectors, `app/evaluation/synthetic.py`): index load time
   beside a raw FAISS + bm25s load of the same files, retrieval and answer p50/p95 for the real
   questions, RSS, index bytes per chunk, and the dense index's recall@10 against exact search for the
   questions' vectors (past `exact_search_limit` chunks the index is approximate).
A log-log plot of latency and memory against corpus size is saved beside the Markdown report.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.evaluation.bench_serving import load_span, load_text, serving_section
from app.evaluation.metrics import percentile
from app.evaluation.run import load_eval_set
from app.settings import Settings

SIZES = (10_000, 100_000)
LARGE = 1_000_000
SEED = 16
REPORT_FILE = "benchmarks.md"
PLOT_FILE = "benchmarks.png"


@dataclass(frozen=True)
class EncoderRate:
    name: str
    threads: int
    per_run: int  # texts per batch (torch) or per run (onnx)
    chunks_per_s: float  # median over the rounds
    first_use_s: float  # load (and, for onnx, export when not cached) and the first batch
    cosine_mean: float  # to the baseline's vectors
    cosine_min: float


@dataclass(frozen=True)
class BuildRate:
    encoder: str
    chunks: int
    seconds: float


@dataclass(frozen=True)
class Serving:
    """Measured in a fresh process that loads one index and answers the questions."""

    ready_s: float  # Assistant.load: index (checksums verified), encoder, reader
    load_s: float  # the index alone (store.load_index, checksums verified), best of two
    unverified_load_s: float  # the same without checking checksums
    raw_load_s: float  # the same FAISS and bm25s files read by the libraries alone (their default reads), best of two
    retrieve_ms: list[float]
    reader_ms: list[float]
    extractive_first_ms: float  # the first extractive answer also makes the answerer (its sentence cache is empty)
    extractive_ms: list[float]
    rss_mb: float  # after answering
    anonymous_mb: float  # the part of it that is the process's own (RssAnon): the rest is mapped files, shared
    torch_imported: bool
    dense: str  # the dense index: "exact", or IVF with its lists and probes
    recall_at_10: float | None  # of the dense search against exact search, for the questions (None: it is exact)


@dataclass(frozen=True)
class SizeRow:
    label: str
    chunks: int
    vectors: str  # "real (onnx)", "synthetic", …
    index_bytes: int
    write_s: float | None  # writing the index from ready vectors (synthetic corpora)
    serving: Serving


@dataclass(frozen=True)
class BenchRun:
    machine: dict[str, str]
    threads: dict[str, int]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    seconds: float
    questions: int
    corpus_chunks: int
    encoders: list[EncoderRate]
    builds: list[BuildRate]
    rebuild_s: float
    sizes: list[SizeRow] = field(default_factory=list)


def bench_questions(n: int, eval_set: Path = Path("eval/questions.jsonl")) -> list[str]:
    questions = [item.question for item in load_eval_set(eval_set)] if eval_set.exists() else []
    while questions and len(questions) < n:
        questions = questions + questions
    return questions[:n]


def run_bench(
    settings: Settings,
    sizes: Sequence[int] = SIZES,
    n_questions: int = 100,
    rounds: int = 3,
    progress: Callable[[str], None] = lambda _message: None,
) -> BenchRun:
    from app.answer.reader import Reader
    from app.index.build import build_index
    from app.index.dense import search_threads
    from app.index.embedding import Embedder, torch_threads
    from app.ingest.chunking import chunk_documents
    from app.ingest.files import load_corpus

    started = time.perf_counter()
    load_before = os.getloadavg()
    documents = load_corpus(settings.corpus_dir, settings.max_file_mb).documents
    texts = [c.embedding_text() for c in chunk_documents(documents, settings.chunk_size, settings.chunk_overlap)]
    questions = bench_questions(n_questions) or [t[:120] for t in texts[:n_questions]]
    progress(f"encoders: {len(texts)} chunks, {rounds} rounds …")
    embedders = {kind: Embedder.from_settings(settings.replace(encoder=kind)) for kind in ("torch", "onnx")}
    encoders = compare_encoders(settings, texts, rounds, embedders)

    with tempfile.TemporaryDirectory(prefix="askdocs-bench-") as tmp:
        builds, rows, rebuild_s = [], [], 0.0
        for encoder in ("torch", "onnx"):
            progress(f"building {settings.corpus_dir}/ with the {encoder} encoder …")
            built = settings.replace(encoder=encoder, index_dir=Path(tmp) / f"corpus-{encoder}")
            report = build_index(built, embedder=embedders[encoder])  # loaded: the build time is the build's
            builds.append(BuildRate(encoder, report.chunks, report.seconds))
            if encoder == settings.encoder:
                rebuild_s = build_index(built, embedder=embedders[encoder]).seconds
            rows.append(_size_row(f"{settings.corpus_dir}/", built, f"real ({encoder})", None, questions))
        words = _seed_words(documents)
        centres = embedders[settings.encoder].encode(texts)  # the synthetic vectors cluster around the real ones
        for size in sizes:
            progress(f"synthetic corpus of {size:,} chunks …")
            rows.append(_synthetic_row(settings, size, words, centres, Path(tmp), questions))
    threads = {
        "encoder_threads": settings.encoder_threads,
        "torch": torch_threads(),
        "faiss (OpenMP)": search_threads(),
        "reader": Reader().threads,
    }
    return BenchRun(
        machine=machine(),
        threads=threads,
        load_before=load_before,
        load_after=os.getloadavg(),
        seconds=time.perf_counter() - started,
        questions=len(questions),
        corpus_chunks=len(texts),
        encoders=encoders,
        builds=builds,
        rebuild_s=rebuild_s,
        sizes=rows,
    )


def compare_encoders(
    settings: Settings, texts: Sequence[str], rounds: int, embedders: dict[str, Any]
) -> list[EncoderRate]:
    """chunks/s of each encoder on the same texts, rounds interleaved so load changes hit all alike.

    `embedders` holds the torch and onnx Embedders, not yet used: their first use is timed here.
    """
    from app.index.embedding import Embedder, PlainSentenceTransformer, torch_threads

    onnx = settings.replace(encoder="onnx")
    batched = onnx.replace(onnx_batch_size=32 if settings.onnx_batch_size == 1 else 1)
    one_thread = onnx.replace(encoder_threads=1 if settings.encoder_threads != 1 else 2)
    threads, torch_batch, onnx_batch = settings.encoder_threads, settings.embed_batch_size, settings.onnx_batch_size
    candidates: list[tuple[str, int, int, Callable[[], Any]]] = [
        ("plain SentenceTransformer.encode", 0, 32, lambda: PlainSentenceTransformer(settings.model)),
        ("encoder = torch", threads, torch_batch, lambda: embedders["torch"]),
        ("encoder = onnx (int8)", threads, onnx_batch, lambda: embedders["onnx"]),
        ("encoder = onnx (int8)", threads, batched.onnx_batch_size, lambda: Embedder.from_settings(batched)),
        ("encoder = onnx (int8)", one_thread.encoder_threads, onnx_batch, lambda: Embedder.from_settings(one_thread)),
    ]
    loaded, first_use, vectors = [], [], []
    for *_, make in candidates:
        started = time.perf_counter()
        encoder = make()
        vectors.append(encoder.encode(texts[: settings.embed_batch_size]))
        first_use.append(time.perf_counter() - started)
        loaded.append(encoder)
    rates: list[list[float]] = [[] for _ in candidates]
    for _round in range(rounds):
        for i, encoder in enumerate(loaded):
            started = time.perf_counter()
            out = encoder.encode(texts)
            rates[i].append(len(texts) / (time.perf_counter() - started))
            vectors[i] = out
    results = []
    for i, (name, threads, per_run, _make) in enumerate(candidates):
        cosines = np.sum(vectors[i] * vectors[0], axis=1)
        threads = threads or torch_threads()  # plain encode runs on whatever torch has now
        median = statistics.median(rates[i])
        results.append(
            EncoderRate(name, threads, per_run, median, first_use[i], float(cosines.mean()), float(cosines.min()))
        )
    return results


def _seed_words(documents: Sequence[Any]) -> list[str]:
    from app.evaluation.synthetic import seed_words

    return seed_words([d.text for d in documents])


def _synthetic_row(
    settings: Settings, size: int, words: list[str], centres: np.ndarray, tmp: Path, questions: list[str]
) -> SizeRow:
    from app.evaluation.synthetic import synthetic_corpus
    from app.index import store
    from app.index.build import write_vectors

    corpus = synthetic_corpus(size, words, settings.chunk_size, centres.shape[1], seed=SEED, centres=centres)
    # the floor is off so that every answer is read in full (with it, an off-topic question stops before the reader)
    target = settings.replace(
        index_dir=tmp / f"synthetic-{size}", corpus_dir=tmp / "no-corpus", reader_min_similarity=-1.0
    )
    target.corpus_dir.mkdir(exist_ok=True)
    with store.build_lock(target.index_dir):
        started = time.perf_counter()
        write_vectors(target, corpus.documents, corpus.chunks, corpus.vectors, model_hash="", encoder=settings.encoder)
        write_s = time.perf_counter() - started
    del corpus
    row = _size_row(f"synthetic {size:,}", target, "synthetic", write_s, questions)
    shutil.rmtree(target.index_dir, ignore_errors=True)
    return row


def _size_row(label: str, settings: Settings, vectors: str, write_s: float | None, questions: list[str]) -> SizeRow:
    from app.index import store

    build = store.current_path(settings.index_dir)
    size = sum(p.stat().st_size for p in build.rglob("*") if p.is_file())
    chunks = store.read_manifest(build).counts["chunks"]
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as fresh:
        serving = fresh.submit(serve_figures, settings, questions).result()
    return SizeRow(label, chunks, vectors, size, write_s, serving)


def serve_figures(settings: Settings, questions: list[str]) -> Serving:
    """Load the index as `askdocs serve` does and answer `questions` (run in a fresh process)."""
    from app.assistant import Assistant
    from app.index import store
    from app.index.dense import DenseIndex
    from app.index.lexical import LexicalIndex

    started = time.perf_counter()
    assistant = Assistant.load(settings)
    ready_s = time.perf_counter() - started
    retrieve_ms = _time_each(questions, assistant.retrieve)
    reader_ms = _time_each(questions, lambda q: assistant.ask(q, answerer="reader"))
    extractive_first_ms = _time_each(questions[:1], lambda q: assistant.ask(q, answerer="extractive"))[0]
    extractive_ms = _time_each(questions, lambda q: assistant.ask(q, answerer="extractive"))
    rss_mb, anonymous_mb = _memory_mb("VmRSS"), _memory_mb("RssAnon")
    torch_imported = "torch" in sys.modules
    # the loads are compared after the serving figures, so their copies do not count in its memory
    path, chunks = assistant.index.path, len(assistant.index.chunks)
    load_s = min(_seconds(lambda: store.load_index(settings.index_dir).unpin()) for _ in range(2))
    unverified_load_s = min(
        _seconds(lambda: store.load_index(settings.index_dir, verify=False).unpin()) for _ in range(2)
    )
    def raw_load() -> object:
        return DenseIndex.load(path / "dense.faiss", mmap=False), LexicalIndex.load(path / "bm25", chunks, mmap=False)

    raw_load_s = min(_seconds(raw_load) for _ in range(2))
    dense = assistant.index.dense
    recall = None if dense.exact else dense_recall(dense, [assistant.embedder.encode_query(q) for q in questions])
    kind = "exact" if dense.exact else ", ".join(f"{k} {v}" for k, v in dense.parameters.items())
    return Serving(
        ready_s,
        load_s,
        unverified_load_s,
        raw_load_s,
        retrieve_ms,
        reader_ms,
        extractive_first_ms,
        extractive_ms,
        rss_mb,
        anonymous_mb,
        torch_imported,
        kind,
        recall,
    )


def dense_recall(dense: Any, queries: list[np.ndarray], k: int = 10) -> float:
    """Recall@k of `dense.search` against exact search over the same vectors, for `queries`."""
    from app.index.dense import recall_at_10

    vectors = dense.vectors  # all of them, in row order (for an IVF index a copy, made once here)
    scores = np.stack(queries) @ vectors.T
    exact = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    found = [dense.search(query, k)[1] for query in queries]
    return recall_at_10(found, list(exact))


def machine() -> dict[str, str]:
    """nproc, the CPU model and its vector instructions, RAM and Python: what a figure was measured on."""
    cpuinfo = _read("/proc/cpuinfo").splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    memory = next((line.split()[1] for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal")), "")
    ram = f"{int(memory) / 2**20:.1f} GiB" if memory.isdigit() else "unknown"
    flags = set(next((line.split(":", 1)[1].split() for line in cpuinfo if line.startswith("flags")), []))
    # int8 matrix products run on VNNI where the CPU has it: the onnx encoder's speed depends on it
    vector = [flag for flag in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if flag in flags]
    return {
        "cores (nproc)": str(os.cpu_count()),
        "CPU": cpu,
        "vector instructions": ", ".join(vector) or "none of avx2, avx512, vnni",
        "RAM": ram,
        "Python": platform.python_version(),
    }


def format_bench(run: BenchRun) -> str:
    plain = run.encoders[0].chunks_per_s
    torch_build = next(b for b in run.builds if b.encoder == "torch")
    lines = [
        "# askdocs bench",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in run.machine.items()) + ".",
        f"{load_span(run.load_before, run.load_after)} "
        f"({run.machine['cores (nproc)']} cores; above that, other work shares them and every speed drops).",
        "Threads: " + ", ".join(f"{k} {v}" for k, v in run.threads.items()) + ".",
        f"Run: {time.strftime('%Y-%m-%d %H:%M')}, seed {SEED}, {run.questions} questions, {run.seconds / 60:.1f} min.",
        "",
        f"## Encoders ({run.corpus_chunks} chunks of the corpus, median of the rounds, interleaved)",
        "",
        "| encoder | threads | texts per run | chunks/s | × plain | cosine to plain, mean / min | first use |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {e.name} | {e.threads} | {e.per_run} | {e.chunks_per_s:.1f} | {e.chunks_per_s / plain:.2f}× "
            f"| {e.cosine_mean:.4f} / {e.cosine_min:.4f} | {e.first_use_s:.1f} s |"
            for e in run.encoders
        ),
        "",
        f"## Full build of the corpus ({torch_build.chunks} chunks: read, chunk, embed, write)",
        "",
        "| encoder | seconds | chunks/s | × torch |",
        "|---|---|---|---|",
        *(
            f"| {b.encoder} | {b.seconds:.1f} | {b.chunks / b.seconds:.1f} | {torch_build.seconds / b.seconds:.2f}× |"
            for b in run.builds
        ),
        f"| rebuild, nothing changed (every vector reused) | {run.rebuild_s:.1f} | | |",
        "",
        "## By corpus size (each in a fresh process)",
        "",
        "| corpus | chunks | vectors | index write | index size | bytes/chunk | index load: verified / unverified "
        "| raw FAISS + bm25s load | load ÷ raw: verified / unverified | ready to answer | RSS (own) | torch loaded |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
        *(
            f"| {r.label} | {r.chunks:,} | {r.vectors} | {_optional_s(r.write_s)} | {r.index_bytes / 2**20:.1f} MB "
            f"| {r.index_bytes / r.chunks:,.0f} | {r.serving.load_s:.2f} / {r.serving.unverified_load_s:.2f} s "
            f"| {r.serving.raw_load_s:.2f} s | {_ratio(r.serving.load_s, r.serving.raw_load_s)} / "
            f"{_ratio(r.serving.unverified_load_s, r.serving.raw_load_s)} "
            f"| {r.serving.ready_s:.1f} s | {r.serving.rss_mb:.0f} MB ({r.serving.anonymous_mb:.0f} MB) "
            f"| {'yes' if r.serving.torch_imported else 'no'} |"
            for r in run.sizes
        ),
        "",
        "| corpus | dense index | recall@10 against exact | retrieval p50 / p95 | reader answer p50 / p95 "
        "| extractive answer p50 / p95 (first) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r.label} | {r.serving.dense} "
            f"| {'exact' if r.serving.recall_at_10 is None else f'{r.serving.recall_at_10:.3f}'} "
            f"| {_p(r.serving.retrieve_ms)} | {_p(r.serving.reader_ms)} "
            f"| {_p(r.serving.extractive_ms)} ({r.serving.extractive_first_ms:,.0f} ms) |"
            for r in run.sizes
        ),
        "",
    ]
    synthetic = [r for r in run.sizes if r.vectors == "synthetic"]
    if synthetic:
        onnx = run.encoders[2]  # the onnx encoder as configured
        largest = synthetic[-1].chunks
        lines += [
            "Synthetic corpora: seeded text (Zipf-drawn words of the corpus and made-up ones) and unit vectors "
            "clustered around the corpus's real chunk vectors (each document near one of them, each chunk near "
            "its document), so that approximate search is measured on neighbourhoods like real ones, not on "
            "random vectors, where its recall would mean nothing. No encoder time is in their index write; "
            f"embedding {largest:,} chunks at the onnx rate measured above would take about "
            f"{largest / onnx.chunks_per_s / 3600:.1f} h. Retrieval embeds each question for real (the eval "
            "questions), and recall@10 compares the dense index's top 10 for those question vectors with an "
            "exact search; the reader reads every answer's passages (its similarity floor is off).",
            "",
        ]
    lines.append(
        "Latency in ms over the questions (nearest-rank percentiles); retrieval includes embedding the question; "
        "answers include retrieval; in brackets, the extractive answerer's first answer (it starts with an empty "
        "sentence-vector cache). Index load: documents, chunks, FAISS and BM25 read, with and without checking "
        "every file's checksum; the raw load reads only the FAISS and bm25s files, with the libraries alone and their "
        "default reads (`faiss.read_index`, `bm25s.BM25.load`), which copy the files into memory. RSS in brackets: "
        "the process's own memory (RssAnon); the rest is pages of the memory-mapped index files, shared by "
        "every process serving the build."
    )
    return "\n".join(lines)


def plot_bench(run: BenchRun, path: Path) -> None:
    """Latency and memory against corpus size, log-log."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted((r for r in run.sizes if "torch" not in r.vectors), key=lambda r: r.chunks)
    x = [r.chunks for r in rows]
    fig, (latency, memory) = plt.subplots(1, 2, figsize=(11, 4.2))
    series = {
        "retrieval p50": [statistics.median(r.serving.retrieve_ms) for r in rows],
        "retrieval p95": [percentile(r.serving.retrieve_ms, 95) for r in rows],
        "reader answer p50": [statistics.median(r.serving.reader_ms) for r in rows],
        "reader answer p95": [percentile(r.serving.reader_ms, 95) for r in rows],
        "extractive answer p50": [statistics.median(r.serving.extractive_ms) for r in rows],
        "index load (verified)": [r.serving.load_s * 1000 for r in rows],
    }
    for name, values in series.items():
        latency.loglog(x, values, marker="o", label=name)
    latency.set_xlabel("chunks")
    latency.set_ylabel("ms")
    latency.set_title("Latency")
    latency.legend(fontsize=8)
    memory.loglog(x, [r.serving.rss_mb for r in rows], marker="o", label="RSS serving")
    memory.loglog(x, [r.index_bytes / 2**20 for r in rows], marker="o", label="index on disk")
    memory.set_xlabel("chunks")
    memory.set_ylabel("MB")
    memory.set_title("Memory")
    memory.legend(fontsize=8)
    fig.suptitle(f"askdocs bench, {run.machine['cores (nproc)']} cores, load {load_text(run.load_after)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def bench_command(
    settings: Settings, sizes: Sequence[int] | None, large: bool, n_questions: int, rounds: int, out: Path
) -> str:
    """`askdocs bench`: run, write OUT/benchmarks.md and OUT/benchmarks.png, return the report."""
    sizes = (*(SIZES if sizes is None else sizes), *((LARGE,) if large else ()))
    run = run_bench(settings, sizes, n_questions, rounds, lambda m: print(m, file=sys.stderr, flush=True))
    return write_bench(run, out) + serving_section(settings, bench_questions(n_questions), out)  # bench_serving.py


def write_bench(run: BenchRun, out: Path) -> str:
    """OUT/benchmarks.md (the report, then the plot) and OUT/benchmarks.png; returns the report."""
    out.mkdir(parents=True, exist_ok=True)
    plot_bench(run, out / PLOT_FILE)
    report = format_bench(run)
    (out / REPORT_FILE).write_text(f"{report}\n\n![Latency and memory against corpus size]({PLOT_FILE})\n")
    return f"{report}\n\nwritten: {out / REPORT_FILE}, {out / PLOT_FILE}"


def _time_each(questions: list[str], call: Callable[[str], object]) -> list[float]:
    """Milliseconds per call, in order."""
    timings = []
    for question in questions:
        started = time.perf_counter()
        call(question)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def _seconds(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _memory_mb(field: str) -> float:
    """A size from /proc/self/status (VmRSS, RssAnon, …) in MB."""
    for line in _read("/proc/self/status").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _p(ms: list[float]) -> str:
    return f"{statistics.median(ms):,.1f} / {percentile(ms, 95):,.1f} ms"


def _ratio(seconds: float, baseline: float) -> str:
    return f"{seconds / baseline:.1f}×" if baseline > 0 else "–"


def _optional_s(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds:.1f} s"
