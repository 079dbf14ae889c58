"""Evaluation reports on disk, and comparing two of them.

eval/reports/<timestamp>-<label>/
  results.jsonl   one line per item: id, question, the full Answer, scores, pass/fail reasons
  summary.json    overall and per-kind metrics, latency per stage, coverage–accuracy curve, calibration
  summary.md      the same as Markdown tables (what the run prints)
  report.html     tables and charts (accuracy per kind, latency distribution, coverage–accuracy and
                  calibration), no outside assets
"""

from __future__ import annotations

import base64
import html
import io
import json
import time
from pathlib import Path
from typing import Any

from app.errors import AskdocsError
from app.evaluation.run import METRICS, EvalRun, format_summary
from app.jsonl import read_jsonl, write_jsonl


def write_report(run: EvalRun, reports_dir: Path) -> Path:
    folder = reports_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{run.label}"
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "results.jsonl", (result.to_dict() for result in run.results))
    summary = {"label": run.label, "settings": run.settings, **run.summary}
    (folder / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False, default=str))
    markdown = format_summary(run.summary, f"{run.label}: {len(run.results)} items")
    (folder / "summary.md").write_text(markdown)
    (folder / "report.html").write_text(_html(run, markdown))
    return folder


def _html(run: EvalRun, markdown: str) -> str:
    charts = "".join(
        f'<figure><img alt="{html.escape(alt)}" src="data:image/png;base64,{png}"></figure>'
        for alt, png in _charts(run)
    )
    rows = "".join(
        f"<tr class={'pass' if r.passed else 'fail'}><td>{html.escape(r.item.id)}</td><td>{html.escape(r.item.kind)}"
        f"</td><td>{html.escape(r.item.question)}</td><td>{html.escape(r.answer.text)}</td>"
        f"<td>{'pass' if r.passed else html.escape('; '.join(r.reasons))}</td></tr>"
        for r in run.results
    )
    return f"""<!doctype html><html lang="en"><meta charset="utf-8"><title>Evaluation: {html.escape(run.label)}</title>
<style>body{{font:14px system-ui,sans-serif;margin:2rem;max-width:1200px}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 6px;vertical-align:top}}tr.fail td:last-child{{color:#a00}}
img{{max-width:100%}}pre{{background:#f6f6f6;padding:1rem;overflow:auto}}</style>
<h1>Evaluation: {html.escape(run.label)}</h1><pre>{html.escape(markdown)}</pre>{charts}
<h2>Items</h2><table><tr><th>id</th><th>kind</th><th>question</th><th>answer</th><th>result</th></tr>{rows}</table>
</html>"""


def _charts(run: EvalRun) -> list[tuple[str, str]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = run.summary["by_kind"]
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.bar(list(kinds), [v.get("accuracy", 0.0) for v in kinds.values()], color="#3b6ea5")
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title("Accuracy per kind")
    ax.tick_params(axis="x", rotation=30)
    accuracy = _png(fig)

    fig, ax = plt.subplots(figsize=(8, 3.5))
    totals = [r.answer.timings_ms.get("total", 0.0) for r in run.results]
    ax.hist(totals, bins=30, color="#6a9f58")
    ax.set_xlabel("ms per question (total)")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    latency = _png(fig)

    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3.5))
    curve = [p for p in run.summary["coverage"] if p["accuracy"] is not None]
    left.plot([p["coverage"] for p in curve], [p["accuracy"] for p in curve], marker="o", color="#3b6ea5")
    # thresholds that answer the same items land on one point: label it once, with their range
    same_point: dict[tuple[float, float], list[float]] = {}
    for p in curve:
        same_point.setdefault((p["coverage"], p["accuracy"]), []).append(p["threshold"])
    for xy, ts in same_point.items():
        label = f"{ts[0]:g}" if len(ts) == 1 else f"{ts[0]:g}–{ts[-1]:g}"
        left.annotate(label, xy, fontsize=7, xytext=(3, 3), textcoords="offset points")
    for axes in (left, right):  # both are shares, 0 to 1
        axes.set(xlim=(-0.02, 1.05), ylim=(-0.02, 1.05))
    left.set(
        xlabel="coverage (share of items answered)",
        ylabel="accuracy of those answered",
        title="Coverage–accuracy (labels: confidence ≥)",
    )
    bins = [b for b in run.summary["calibration"] if b["count"]]
    right.plot([0, 1], [0, 1], linestyle="--", color="#999")  # perfect calibration
    right.scatter(
        [b["mean_confidence"] for b in bins],
        [b["share_right"] for b in bins],
        s=[20 + 4 * b["count"] for b in bins],  # a dot's area grows with its bin's items
        color="#6a9f58",
    )
    right.set(
        xlabel="mean confidence (answered items, per bin)",
        ylabel="share right",
        title="Calibration",
    )
    coverage = _png(fig)
    plt.close("all")
    return [
        ("Accuracy per kind", accuracy),
        ("Latency distribution", latency),
        ("Coverage–accuracy curve and calibration", coverage),
    ]


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def compare_reports(a: Path, b: Path) -> str:
    """Metric deltas (B − A) overall and per kind, and the items whose pass/fail flipped."""
    sa, sb = _load_summary(a), _load_summary(b)
    lines = [f"A: {a}", f"B: {b}", "", "| group | metric | A | B | B − A |", "|---|---|---|---|---|"]
    groups = [("overall", sa["overall"], sb["overall"])]
    groups += [(k, sa["by_kind"].get(k, {}), sb["by_kind"].get(k, {})) for k in sorted(sb["by_kind"])]
    for name, ga, gb in groups:
        for metric in METRICS:
            if metric in ga or metric in gb:
                va, vb = ga.get(metric), gb.get(metric)
                delta = f"{vb - va:+.3f}" if va is not None and vb is not None else "–"
                lines.append(f"| {name} | {metric} | {_fmt(va)} | {_fmt(vb)} | {delta} |")
    ra, rb = _load_results(a), _load_results(b)
    flipped = [(i, ra[i], rb[i]) for i in rb if i in ra and ra[i]["passed"] != rb[i]["passed"]]
    lines += ["", f"{len(flipped)} items flipped:"]
    lines += [f"  {'fixed ' if new['passed'] else 'broken'} {i}: {new['question']}" for i, _, new in flipped]
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def _load_summary(folder: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AskdocsError(f"{folder} is not an evaluation report ({exc})") from None
    return data


def _load_results(folder: Path) -> dict[str, dict[str, Any]]:
    return {row["id"]: row for _, row in read_jsonl(folder / "results.jsonl") if row}
