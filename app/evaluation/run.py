"""Batch evaluation: run every item of an eval set through `Assistant.ask` and score it.

The set's format is ../shared/EVAL_FORMAT.md: unknown fields are ignored and
nothing is assumed about ids, kinds or splits. Per item we score retrieval
(is an evidence string in the k-th passage?), the answer (are all key terms
in it? does its short answer hold one?), its citations (does each quote or its
passage hold evidence?) and abstention; the summary averages them overall and
per kind, and shows how accuracy trades against coverage as the confidence
threshold rises, and whether confidence is calibrated.
"""

from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import AskdocsError
from app.evaluation.metrics import (
    Outcome,
    calibration,
    coverage_curve,
    hit_at,
    mrr_at,
    ndcg_at,
    percentile,
    short_answer_holds,
    supports,
    term_recall,
)
from app.jsonl import read_jsonl
from app.types import Answer

if TYPE_CHECKING:
    from app.assistant import Assistant


class EvalSetError(AskdocsError, ValueError):
    """The evaluation set file is missing or malformed."""


@dataclass(frozen=True)
class EvalItem:
    id: str
    question: str
    answers: tuple[str, ...]
    evidence: tuple[str, ...]
    answerable: bool = True
    history: tuple[str, ...] = ()
    kind: str = ""
    split: str = ""


@dataclass(frozen=True)
class ItemResult:
    item: EvalItem
    answer: Answer
    scores: dict[str, float]
    passed: bool
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.item.id,
            "question": self.item.question,
            "kind": self.item.kind,
            "split": self.item.split,
            "answerable": self.item.answerable,
            "answer": self.answer.to_dict(),
            "scores": self.scores,
            "passed": self.passed,
            "reasons": list(self.reasons),
        }


@dataclass(frozen=True)
class EvalRun:
    label: str
    settings: dict[str, Any]
    results: list[ItemResult]
    summary: dict[str, Any] = field(default_factory=dict)


def load_eval_set(path: Path, split: str | None = None) -> list[EvalItem]:
    """Read a JSONL eval set; `split` keeps only items of that split ("all" or None keeps every item)."""
    try:
        rows = list(read_jsonl(path))
    except OSError as exc:
        raise EvalSetError(f"cannot read evaluation set {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise EvalSetError(str(exc)) from None
    items, ids = [], set()
    for number, row in rows:
        try:
            item = _item(row)
        except (ValueError, TypeError, KeyError) as exc:
            raise EvalSetError(f"{path}:{number}: {exc}") from None
        if item.id in ids:
            raise EvalSetError(f"{path}:{number}: duplicate id {item.id!r}")
        ids.add(item.id)
        items.append(item)
    if split and split != "all":
        items = [i for i in items if i.split == split]
    if not items:
        raise EvalSetError(f"no items in {path}" + (f" with split {split!r}" if split else ""))
    return items


def _item(row: Any) -> EvalItem:
    if not isinstance(row, dict):
        raise ValueError("each line must be a JSON object")
    for name in ("id", "question", "answers", "evidence"):
        if name not in row:
            raise KeyError(f"missing field {name!r}")

    def strings(name: str) -> tuple[str, ...]:
        value = row.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"field {name!r} must be a list of strings")
        return tuple(value)

    if not isinstance(row["question"], str) or not row["question"].strip():
        raise TypeError("field 'question' must be a non-empty string")
    return EvalItem(
        id=str(row["id"]),
        question=row["question"],
        answers=strings("answers"),
        evidence=strings("evidence"),
        answerable=bool(row.get("answerable", True)),
        history=strings("history"),
        kind=str(row.get("kind") or ""),
        split=str(row.get("split") or ""),
    )


def score(item: EvalItem, answer: Answer) -> tuple[dict[str, float], bool, tuple[str, ...]]:
    """Metrics for one item, whether it passed, and why not."""
    s: dict[str, float] = {}
    reasons: list[str] = []
    if item.answerable:
        relevance = [supports(p.chunk.text, item.evidence) for p in answer.passages]
        for k in (1, 3, 5, 10):
            s[f"hit@{k}"] = hit_at(relevance, k)
        s["mrr@10"] = mrr_at(relevance, 10)
        s["ndcg@10"] = ndcg_at(relevance, 10)
        s["false_abstention"] = float(answer.abstained)
        text = "" if answer.abstained else answer.text
        s["term_recall"] = term_recall(text, item.answers)
        s["accuracy"] = float(s["term_recall"] == 1.0 and not answer.abstained)
        short = "" if answer.abstained else answer.short_answer
        s["short_answer_accuracy"] = float(short_answer_holds(short, item.answers))
        chunks = {p.chunk.id: p.chunk.text for p in answer.passages}
        supported = [
            supports(c.quote, item.evidence) or supports(chunks.get(c.chunk_id, ""), item.evidence)
            for c in answer.citations
        ]
        if supported:
            s["citation_precision"] = sum(supported) / len(supported)
        s["citation_recall"] = float(any(supported))
        if answer.abstained:
            reasons.append("abstained on an answerable question")
        elif s["accuracy"] < 1:
            missing = [t for t in item.answers if term_recall(answer.text, [t]) < 1]
            reasons.append(f"answer lacks {missing}")
        if not answer.abstained and not any(supported):
            reasons.append("no citation holds the evidence")
        if s["hit@10"] == 0:
            reasons.append("no retrieved passage holds the evidence")
    else:
        s["abstention"] = float(answer.abstained)
        s["accuracy"] = s["abstention"]
        if not answer.abstained:
            reasons.append("answered a question the documents cannot answer")
    for stage, ms in answer.timings_ms.items():
        s[f"ms_{stage}"] = ms
    passed = s["accuracy"] == 1.0 and (not item.answerable or s["citation_recall"] == 1.0)
    return s, passed, tuple(reasons)


def ask_as_chat(
    assistant: Assistant, answerer: str | None = None, k: int | None = None
) -> Callable[[EvalItem], Answer]:
    """Each item asked as a chat would: its history questions first, so a follow-up knows their answers."""

    def ask(item: EvalItem) -> Answer:
        turns = assistant.replay(item.history, answerer, k)
        return assistant.ask(item.question, history=turns, answerer=answerer, k=k)

    return ask


def run_eval(
    ask: Callable[[EvalItem], Answer],
    items: Sequence[EvalItem],
    label: str,
    settings: dict[str, Any],
    progress: bool = False,
) -> EvalRun:
    from tqdm import tqdm

    results = []
    for item in tqdm(items, desc="evaluating", unit="q", disable=not progress):
        answer = ask(item)
        scores, passed, reasons = score(item, answer)
        results.append(ItemResult(item, answer, scores, passed, reasons))
    return EvalRun(label, settings, results, summarize(results))


METRICS = (
    "accuracy",
    "short_answer_accuracy",  # answerable items only, where accuracy also counts right abstentions
    "term_recall",
    "hit@1",
    "hit@3",
    "hit@5",
    "hit@10",
    "mrr@10",
    "ndcg@10",
    "citation_precision",
    "citation_recall",
    "abstention",
    "false_abstention",
)


# Confidence thresholds of the coverage–accuracy curve. The reader's confidence piles up near 1
# (a logistic of a logit margin), so 0.99 is there to show what the very top of it is worth.
COVERAGE_THRESHOLDS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)


def outcome(result: ItemResult) -> Outcome:
    """What the coverage curve and calibration need of a result: an answered item is right when the
    question is answerable and the answer passes accuracy (every key term present)."""
    answer = result.answer
    right = result.item.answerable and result.scores["accuracy"] == 1.0
    return Outcome(confidence=answer.confidence, answered=not answer.abstained, right=right)


def _rounded(row: Any) -> dict[str, Any]:
    """A metrics dataclass as a JSON row, floats to 4 places like the other summary figures."""
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(row).items()}


def summarize(results: Sequence[ItemResult]) -> dict[str, Any]:
    """Mean of each metric over the items that have it, overall and per kind; latency percentiles;
    the coverage–accuracy curve and the calibration table over all items."""

    def means(group: Iterable[ItemResult]) -> dict[str, Any]:
        group = list(group)
        out: dict[str, Any] = {"items": len(group), "passed": sum(r.passed for r in group)}
        for metric in METRICS:
            values = [r.scores[metric] for r in group if metric in r.scores]
            if values:
                out[metric] = round(statistics.fmean(values), 4)
        return out

    by_kind: dict[str, list[ItemResult]] = defaultdict(list)
    for r in results:
        by_kind[r.item.kind or "(none)"].append(r)
    stages = sorted({k for r in results for k in r.scores if k.startswith("ms_")})
    latency = {
        stage[3:]: {"median": round(statistics.median(v), 1), "p95": round(percentile(v, 95), 1)}
        for stage in stages
        if (v := [r.scores[stage] for r in results if stage in r.scores])
    }
    # how long the answers people read are: words of answered items, markers left out
    words = [len(re.sub(r"\[\d+\]", " ", r.answer.text).split()) for r in results if not r.answer.abstained]
    length = {"median": statistics.median(words), "p95": round(percentile(words, 95), 1)} if words else {}
    outcomes = [outcome(r) for r in results]
    return {
        "overall": means(results),
        "by_kind": {k: means(v) for k, v in sorted(by_kind.items())},
        "latency_ms": latency,
        "answer_words": length,
        "coverage": [_rounded(p) for p in coverage_curve(outcomes, COVERAGE_THRESHOLDS)],
        "calibration": [_rounded(b) for b in calibration(outcomes)],
    }


def format_summary(summary: dict[str, Any], title: str = "") -> str:
    """The summary as Markdown tables (printed at the end of a run and saved as summary.md)."""
    columns = ["items", "passed", *[m for m in METRICS if m in summary["overall"]]]
    rows = [("overall", summary["overall"]), *summary["by_kind"].items()]
    lines = [
        f"## {title}" if title else "",
        "",
        "| group | " + " | ".join(columns) + " |",
        "|---" * (len(columns) + 1) + "|",
    ]
    for name, values in rows:
        cells = [_cell(values.get(c)) for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "| stage | median ms | p95 ms |", "|---|---|---|"]
    lines += [f"| {stage} | {v['median']} | {v['p95']} |" for stage, v in summary["latency_ms"].items()]
    if length := summary.get("answer_words"):
        lines += ["", "| answer words (answered items) | median | p95 |", "|---|---|---|"]
        lines.append(f"| words | {length['median']} | {length['p95']} |")
    # one column per threshold or bin, so each table stays a few lines long in a terminal
    if curve := summary.get("coverage"):
        lines += ["", "Answering only at confidence ≥ c (all items; an answered unanswerable item is wrong):", ""]
        lines += _transposed(
            "confidence ≥",
            [f"{p['threshold']:g}" for p in curve],
            {"coverage": [p["coverage"] for p in curve], "accuracy": [p["accuracy"] for p in curve]},
        )
    if bins := [b for b in summary.get("calibration", []) if b["count"]]:
        lines += ["", "Calibration (answered items by confidence; does 0.8 mean about 80% right?):", ""]
        lines += _transposed(
            "confidence",
            [f"{b['low']:g}–{b['high']:g}" for b in bins],
            {
                "answered": [b["count"] for b in bins],
                "mean confidence": [b["mean_confidence"] for b in bins],
                "share right": [b["share_right"] for b in bins],
            },
        )
    return "\n".join(lines).strip() + "\n"


def _transposed(corner: str, headers: Sequence[str], rows: dict[str, Sequence[Any]]) -> list[str]:
    """A Markdown table with one column per header and one row per entry of `rows`."""
    lines = [f"| {corner} | " + " | ".join(headers) + " |", "|---" * (len(headers) + 1) + "|"]
    return lines + [f"| {name} | " + " | ".join(_cell(v) for v in values) + " |" for name, values in rows.items()]


def _cell(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def load_thresholds(path: Path) -> dict[str, float]:
    """The `[overall]` table of a thresholds TOML file: metric → minimum (`max_<metric>` → maximum)."""
    import tomllib

    try:
        table = tomllib.loads(path.read_text(encoding="utf-8"))["overall"]
        return {str(k): float(v) for k, v in table.items()}
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise EvalSetError(f"gate file {path} is unreadable or has no [overall] table of numbers ({exc})") from None


def check_thresholds(summary: dict[str, Any], thresholds: dict[str, Any]) -> list[str]:
    """Failures (metric below its minimum, or above its maximum for `max_*` keys) of the overall summary."""
    failures = []
    overall = summary["overall"]
    for key, limit in thresholds.items():
        metric = key.removeprefix("max_")
        if metric not in overall:
            failures.append(f"{metric}: not measured")
        elif key.startswith("max_") and overall[metric] > limit:
            failures.append(f"{metric} = {overall[metric]:.3f} is above the maximum {limit}")
        elif not key.startswith("max_") and overall[metric] < limit:
            failures.append(f"{metric} = {overall[metric]:.3f} is below the minimum {limit}")
    return failures
