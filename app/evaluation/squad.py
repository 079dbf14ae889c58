"""The reader's own figures, on SQuAD articles it never saw in training (the model card's numbers).

- Short answers: each held-out question read against its gold paragraph; exact match and token F1
  of the best span, with SQuAD's normalization (lower case, no punctuation or articles).
- No-answer: the same questions against a *near miss* (another paragraph of the same article that
  does not hold the answer). AUC of the answer score between the two, and at the shipped
  threshold the share of near misses refused and of gold paragraphs answered.
- Far questions: held-out SQuAD questions asked of our corpus, which answers none of them
  (`far_questions`; `askdocs eval squad` reports the share the assistant refuses).
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.answer.reader import Reader
from app.answer.training import TrainConfig, load_squad, split_articles

SEED = TrainConfig.seed  # the training default, so the figures read the same questions


@dataclass(frozen=True)
class ReaderFigures:
    questions: int
    exact_match: float
    f1: float
    near_misses: int
    no_answer_auc: float
    threshold: float
    near_miss_refused: float  # share of near-miss pairs scored under the threshold
    gold_answered: float  # share of gold paragraphs scored at or over it

    def to_markdown(self) -> str:
        return (
            "| held-out questions | exact match | F1 | near-miss pairs | no-answer AUC | threshold "
            "| near misses refused | gold paragraphs answered |\n|---|---|---|---|---|---|---|---|\n"
            f"| {self.questions} | {self.exact_match:.3f} | {self.f1:.3f} | {self.near_misses} "
            f"| {self.no_answer_auc:.3f} | {self.threshold:g} | {self.near_miss_refused:.3f} "
            f"| {self.gold_answered:.3f} |"
        )


def normalize_answer(text: str) -> str:
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def token_f1(prediction: str, gold: str) -> float:
    predicted, wanted = normalize_answer(prediction).split(), normalize_answer(gold).split()
    common = sum((Counter(predicted) & Counter(wanted)).values())
    if not predicted or not wanted or common == 0:
        return float(predicted == wanted)
    precision, recall = common / len(predicted), common / len(wanted)
    return 2 * precision * recall / (precision + recall)


def auc(positives: list[float], negatives: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def held_out_articles(data_dir: Path, config: TrainConfig | None = None) -> list[dict[str, Any]]:
    """The SQuAD articles training kept out (the same seeded split as `askdocs train-reader`)."""
    config = config or TrainConfig(data_dir=data_dir, output_dir=Path())
    return split_articles(load_squad(data_dir), config.held_out_articles, config.seed)[1]


def far_questions(held_out: list[dict[str, Any]], count: int = 200, seed: int = SEED) -> list[str]:
    """Held-out SQuAD questions (Apollo, Botany, …): questions our corpus cannot answer."""
    questions = [qa["question"] for a in held_out for p in a["paragraphs"] for qa in p["qas"]]
    random.Random(seed + 2).shuffle(questions)
    return questions[:count]


def reader_figures(
    reader: Reader, held_out: list[dict[str, Any]], threshold: float, questions: int = 400, seed: int = SEED
) -> ReaderFigures:
    """Score the reader on `questions` questions of the articles training held out."""
    rng = random.Random(seed)
    items = [
        (article, p, qa)
        for article in held_out
        for p, paragraph in enumerate(article["paragraphs"])
        for qa in paragraph["qas"]
    ]
    rng.shuffle(items)
    exact, f1, gold_scores, miss_scores = [], [], [], []
    for article, p, qa in items[:questions]:
        context = article["paragraphs"][p]["context"]
        answers = [a["text"] for a in qa["answers"]]
        spans = reader.read(qa["question"], [context], per_passage=1)
        best = spans[0].text if spans else ""
        exact.append(max(float(normalize_answer(best) == normalize_answer(a)) for a in answers))
        f1.append(max(token_f1(best, a) for a in answers))
        gold_scores.append(spans[0].score if spans else float("-inf"))
        others = [
            q["context"]
            for i, q in enumerate(article["paragraphs"])
            if i != p and not any(a.lower() in q["context"].lower() for a in answers)
        ]
        if others:
            miss = reader.read(qa["question"], [rng.choice(others)], per_passage=1)
            miss_scores.append(miss[0].score if miss else float("-inf"))
    n = len(exact)
    return ReaderFigures(
        questions=n,
        exact_match=sum(exact) / n,
        f1=sum(f1) / n,
        near_misses=len(miss_scores),
        no_answer_auc=auc(gold_scores, miss_scores),
        threshold=threshold,
        near_miss_refused=sum(s < threshold for s in miss_scores) / max(1, len(miss_scores)),
        gold_answered=sum(s >= threshold for s in gold_scores) / n,
    )
