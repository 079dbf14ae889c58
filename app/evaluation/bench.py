"""`askdocs bench`: how long an index build takes and how fast retrieval answers.

Builds the configured corpus from scratch into a temporary folder (so the
embedding cache does not flatter it), then times `retrieve` and full answers
(`ask`: the extractive baseline, then the reader; and the LLM answerer when one
is configured) over questions from the evaluation set (or, without one, over text
from the corpus). Figures vary with machine load, so the reader is reported as a
ratio to the baseline measured in the same run, beside the load average.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.evaluation.metrics import percentile
from app.evaluation.run import load_eval_set
from app.settings import Settings


def bench_questions(n: int, eval_set: Path = Path("eval/questions.jsonl")) -> list[str]:
    questions = [item.question for item in load_eval_set(eval_set)] if eval_set.exists() else []
    while questions and len(questions) < n:
        questions = questions + questions
    return questions[:n]


def run_core_bench(settings: Settings, n_questions: int = 100) -> str:
    from app.assistant import Assistant
    from app.index.build import build_index
    from app.index.embedding import Embedder

    embedder = Embedder.from_settings(settings)
    started = time.perf_counter()
    embedder.encode(["load the model"])
    model_load = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        fresh = settings.replace(index_dir=Path(tmp) / "index")
        report = build_index(fresh, embedder=embedder)
        again = build_index(fresh, embedder=embedder)
        assistant = Assistant.load(fresh, embedder=embedder)
        questions = bench_questions(n_questions) or [c.text[:120] for c in assistant.index.chunks[:n_questions]]
        timings = _time_each(questions, assistant.retrieve)
        # the old answerer first, as the baseline of the same run on the same machine
        answers = {"extractive": _time_each(questions, lambda q: assistant.ask(q, answerer="extractive"))}
        answers["reader"] = _time_each(questions, lambda q: assistant.ask(q, answerer="reader"))
        if settings.llm_configured:
            answers["llm"] = _time_each(questions, lambda q: assistant.ask(q, answerer="llm"))
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
    for answerer, ms in answers.items():
        lines.append(
            f"| full answer ({answerer}), median / p95 | {statistics.median(ms):.1f} / {percentile(ms, 95):.1f} ms |"
        )
    ratio = statistics.median(answers["reader"]) / statistics.median(answers["extractive"])
    lines.append(f"| reader ÷ extractive, median full answer | {ratio:.2f}× |")
    if not settings.llm_configured:
        lines.append("| full answer (llm) | not measured: no LLM configured (llm_base_url, llm_model) |")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines.append(f"| load average (1, 5, 15 min) at the end, {os.cpu_count()} cores | {load} |")
    return "\n".join(lines)


def _time_each(questions: list[str], call: Callable[[str], object]) -> list[float]:
    """Milliseconds per call, in order."""
    timings = []
    for question in questions:
        started = time.perf_counter()
        call(question)
        timings.append((time.perf_counter() - started) * 1000)
    return timings
