"""`askdocs bench`: how long an index build takes and how fast retrieval answers.

Builds the configured corpus from scratch into a temporary folder (so the
embedding cache does not flatter it), then times `retrieve` over questions
from the evaluation set (or, without one, over sentences from the corpus).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

from app.metrics import percentile
from app.settings import Settings


def bench_questions(n: int, eval_set: Path = Path("eval/questions.jsonl")) -> list[str]:
    questions: list[str] = []
    if eval_set.exists():
        with open(eval_set, encoding="utf-8") as handle:
            questions = [json.loads(line)["question"] for line in handle if line.strip()]
    while questions and len(questions) < n:
        questions = questions + questions
    return questions[:n]


def run_core_bench(settings: Settings, n_questions: int = 100) -> str:
    from app.assistant import Assistant
    from app.embedding import Embedder
    from app.indexer import build_index

    embedder = Embedder(settings.model, settings.embed_batch_size)
    started = time.perf_counter()
    embedder.encode(["load the model"])
    model_load = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        fresh = settings.replace(index_dir=Path(tmp) / "index")
        report = build_index(fresh, embedder=embedder)
        again = build_index(fresh, embedder=embedder)
        assistant = Assistant.load(fresh, embedder=embedder)
        questions = bench_questions(n_questions) or [c.text[:120] for c in assistant.index.chunks[:n_questions]]
        timings: list[float] = []
        for question in questions:
            t = time.perf_counter()
            assistant.retrieve(question)
            timings.append((time.perf_counter() - t) * 1000)
    lines = [
        "| measure | value |",
        "|---|---|",
        f"| model load | {model_load:.2f} s |",
        f"| full build ({report.documents} documents, {report.chunks} chunks) | {report.seconds:.2f} s "
        f"({report.chunks / report.seconds:.0f} chunks/s) |",
        f"| rebuild, nothing changed ({again.reused} reused, {again.embedded} embedded) | {again.seconds:.2f} s |",
        f"| retrieval ({settings.retrieval_mode}, k={settings.top_k}), {len(timings)} questions: median "
        f"| {statistics.median(timings):.1f} ms |",
        f"| retrieval p95 | {percentile(timings, 95):.1f} ms |",
    ]
    return "\n".join(lines)
