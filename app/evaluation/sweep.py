"""`askdocs eval sweep`: choose chunking, fusion, k and the abstention threshold on the dev split.

Coordinate-wise, not a full grid (each chunking needs its own index): first the
chunk size with the default retrieval, then fusion and dense weight on the best
chunking, then k, then the threshold. The threshold step reuses one run's
answers: an answer abstains exactly when its confidence is under the
threshold, so every candidate threshold is scored without asking again.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from app.assistant import Assistant
from app.evaluation.run import EvalItem, ItemResult, ask_as_chat, load_eval_set, run_eval
from app.index.build import build_index
from app.index.embedding import Embedder
from app.settings import Settings

CHUNKINGS = [(300, 50), (400, 60), (600, 100), (800, 120), (1000, 150)]
FUSIONS = [("zscore", 0.3), ("zscore", 0.5), ("zscore", 0.7), ("rrf", 0.5)]
KS = [3, 5, 8]
LENGTHS = [(1, 0.0), (2, 0.05), (2, 0.08), (2, 0.12), (3, 0.08), (3, 0.12)]
THRESHOLDS = [round(0.20 + 0.02 * i, 2) for i in range(21)]
# The confidence is calibrated on SQuAD candidates (app/answer/calibration.py), most of them wrong, so the
# operating points of our questions sit low on its scale: the grid is finer there.
READER_THRESHOLDS = [0.0, 0.005, 0.0075, 0.01, 0.0125, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7]
# A confident wrong answer is this product's worst outcome and a refusal its mildest failure: the threshold is the
# most accurate one (a refused unanswerable question counts as right) that refuses at most a tenth of the answerable.
MAX_FALSE_ABSTENTION = 0.10


def run_reader_sweep(settings: Settings, eval_set: Path, split: str = "dev") -> str:
    """The reader's confidence threshold: the most accurate one that refuses at most 10% of answerable items.

    One run with no threshold; each candidate is then scored on those answers (ties: the higher one).
    """
    items = load_eval_set(eval_set, split)
    assistant = Assistant.load(settings.replace(reader_threshold=0.0))
    run = run_eval(ask_as_chat(assistant, "reader"), items, "reader-sweep", {})
    table = [(t, *_abstention(run.results, t)) for t in READER_THRESHOLDS]
    allowed = [row for row in table if row[3] <= MAX_FALSE_ABSTENTION] or table[:1]
    chosen = max(allowed, key=lambda row: (round(row[1], 6), row[0]))[0]
    lines = [f"Reader threshold on the {split} split of {eval_set} ({len(items)} items).", ""]
    lines += _threshold_table(table, chosen)
    return "\n".join([*lines, "", f"Chosen: reader_threshold={chosen}"])


def _threshold_table(table: Sequence[tuple[float, float, float, float, float]], chosen: float) -> list[str]:
    """The rows of `_abstention` at each threshold as Markdown, the chosen one marked."""
    lines = [
        "| threshold | accuracy | abstention (unanswerable) | false abstention | abstain precision |",
        "|---|---|---|---|---|",
    ]
    for t, accuracy, recall, false_rate, precision in table:
        mark = " (chosen)" if t == chosen else ""
        lines.append(f"| {t}{mark} | {accuracy:.3f} | {recall:.3f} | {false_rate:.3f} | {precision:.3f} |")
    return lines


def _evaluate(assistant: Assistant, items: Sequence[EvalItem], k: int | None = None) -> dict[str, float]:
    run = run_eval(ask_as_chat(assistant, "extractive", k), items, "sweep", {})
    overall = run.summary["overall"]
    return {m: overall.get(m, 0.0) for m in ("accuracy", "ndcg@10", "hit@5", "citation_precision")}


def run_sweep(settings: Settings, eval_set: Path, split: str = "dev") -> str:
    items = load_eval_set(eval_set, split)
    answerable = [i for i in items if i.answerable]
    embedder = Embedder.from_settings(settings)
    no_abstain = settings.replace(abstain_threshold=-1.0)
    lines = [f"Sweep on the {split} split of {eval_set} ({len(items)} items; {len(answerable)} answerable).", ""]

    with tempfile.TemporaryDirectory() as tmp:
        lines += [
            "### Chunking (hybrid, defaults otherwise; answer accuracy on answerable items, no abstention)",
            "",
            "| chunk_size | overlap | chunks | nDCG@10 | hit@5 | accuracy |",
            "|---|---|---|---|---|---|",
        ]
        best: tuple[float, Settings, Assistant] | None = None
        for size, overlap in CHUNKINGS:
            s = no_abstain.replace(chunk_size=size, chunk_overlap=overlap, index_dir=Path(tmp) / f"i{size}")
            build_index(s, embedder=embedder)
            assistant = Assistant.load(s, embedder=embedder)
            m = _evaluate(assistant, answerable)
            lines.append(
                f"| {size} | {overlap} | {len(assistant.index.chunks)} | {m['ndcg@10']:.3f} | "
                f"{m['hit@5']:.3f} | {m['accuracy']:.3f} |"
            )
            key = m["accuracy"] + m["ndcg@10"]
            if best is None or key > best[0]:
                best = (key, s, assistant)
        assert best is not None
        _, chosen, assistant = best

        lines += [
            "",
            f"### Fusion (chunk_size {chosen.chunk_size})",
            "",
            "| mode | fusion | dense_weight | nDCG@10 | hit@5 | accuracy |",
            "|---|---|---|---|---|---|",
        ]
        options = [("dense", "zscore", 1.0), ("bm25", "zscore", 0.0)] + [("hybrid", f, w) for f, w in FUSIONS]
        best_fusion = (-1.0, chosen)
        for mode, fusion, weight in options:
            s = chosen.replace(retrieval_mode=mode, fusion=fusion, dense_weight=weight)
            m = _evaluate(_with(assistant, s), answerable)
            lines.append(
                f"| {mode} | {fusion} | {weight} | {m['ndcg@10']:.3f} | {m['hit@5']:.3f} | {m['accuracy']:.3f} |"
            )
            if m["accuracy"] + m["ndcg@10"] > best_fusion[0] + 0.005:  # a near-tie keeps the earlier option
                best_fusion = (m["accuracy"] + m["ndcg@10"], s)
        chosen = best_fusion[1]

        lines += [
            "",
            "### Passages the answer draws on (k)",
            "",
            "| k | accuracy | citation precision |",
            "|---|---|---|",
        ]
        best_k = (-1.0, chosen.top_k)
        for k in KS:
            m = _evaluate(_with(assistant, chosen), answerable, k=k)
            lines.append(f"| {k} | {m['accuracy']:.3f} | {m['citation_precision']:.3f} |")
            if m["accuracy"] > best_k[0]:
                best_k = (m["accuracy"], k)
        chosen = chosen.replace(top_k=best_k[1])

        lines += [
            "",
            "### Answer length (sentences quoted, and how close to the best each must be)",
            "",
            "| answer_sentences | answer_margin | accuracy | citation precision |",
            "|---|---|---|---|",
        ]
        best_length = (-1.0, chosen)
        for sentences, margin in LENGTHS:
            s = chosen.replace(answer_sentences=sentences, answer_margin=margin)
            m = _evaluate(_with(assistant, s), answerable)
            lines.append(f"| {sentences} | {margin} | {m['accuracy']:.3f} | {m['citation_precision']:.3f} |")
            # accuracy first; citation precision breaks near-ties (shorter answers cite better)
            key = m["accuracy"] + 0.5 * m["citation_precision"]
            if key > best_length[0] + 0.005:
                best_length = (key, s)
        chosen = best_length[1]

        run = run_eval(ask_as_chat(_with(assistant, chosen), "extractive"), items, "t", {})
        lines += [
            "",
            "### Abstention threshold (all items of the split; the answer-type rule is always on)",
            "",
        ]
        # Precision first: the highest threshold that abstains on at most 5% of answerable questions.
        table = [(t, *_abstention(run.results, t)) for t in THRESHOLDS]
        chosen_t = max((row for row in table if row[3] <= 0.05), key=lambda row: row[0], default=table[0])[0]
        lines += _threshold_table(table, chosen_t)
        chosen = chosen.replace(abstain_threshold=chosen_t)

    lines += [
        "",
        "Chosen: "
        + ", ".join(
            f"{f}={getattr(chosen, f)}"
            for f in (
                "chunk_size",
                "chunk_overlap",
                "retrieval_mode",
                "fusion",
                "dense_weight",
                "top_k",
                "answer_sentences",
                "answer_margin",
                "abstain_threshold",
            )
        ),
    ]
    return "\n".join(lines)


def _abstention(results: Sequence[ItemResult], threshold: float) -> tuple[float, float, float, float]:
    """Accuracy, abstention recall, false-abstention rate and abstention precision at `threshold`,
    from answers given with no threshold (they abstain only by the answer-type rule)."""
    correct = right_abstentions = false_abstentions = abstentions = 0
    for r in results:
        abstains = r.answer.abstained or r.answer.confidence < threshold
        abstentions += abstains
        if r.item.answerable:
            false_abstentions += abstains
            correct += (not abstains) and r.scores["term_recall"] == 1.0
        else:
            right_abstentions += abstains
            correct += abstains
    unanswerable = sum(not r.item.answerable for r in results) or 1
    answerable = (len(results) - unanswerable) or 1
    precision = right_abstentions / abstentions if abstentions else 1.0
    return correct / len(results), right_abstentions / unanswerable, false_abstentions / answerable, precision


def _with(assistant: Assistant, settings: Settings) -> Assistant:
    """The same loaded index, model and sentence cache under other retrieval/answer settings."""
    other = Assistant(
        settings,
        assistant.index,
        assistant.embedder,
        extractive=assistant.extractive,
        reader=assistant.reader,
        annotator=assistant.annotator,
    )
    return other
