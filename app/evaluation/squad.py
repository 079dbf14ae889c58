"""The reader's own figures, on SQuAD articles it never saw in training (the model card's numbers).

Every pair is answered the way a question to the assistant is: the paragraph is a passage of a
document titled by its article, read by `ReaderAnswerer.candidates` (context prefix, typed and
calibrated candidates), and refused under the shipped threshold.

- Short answers: each held-out question read against its gold paragraph; exact match and token F1
  of the best candidate, with SQuAD's normalization (lower case, no punctuation or articles).
- No answer, SQuAD 2.0 style: the same questions perturbed (`app/answer/negatives.py`) and asked
  of their own paragraph, and asked of a *near miss* (another paragraph of the same article without
  the answer). AUC of the confidence between gold and each kind; at the shipped threshold the share
  refused, the share of gold paragraphs answered, and F1 over HasAns and NoAns as the official
  SQuAD 2.0 script counts it (a refusal scores 1 on NoAns, 0 on HasAns; an answer to NoAns scores 0).
- Calibration: the held-out candidates' displayed confidence in bins, against how often they are right.
- Far questions: held-out SQuAD questions asked of our corpus, which answers none of them
  (`far_questions`; `askdocs eval squad` reports the share the assistant refuses).
- `calibration_candidates`: the same reading over questions of the *training* articles that training
  never used, each candidate labelled right or wrong: what `askdocs calibrate-reader` fits on.
"""

from __future__ import annotations

import random
import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.answer.calibration import Candidate
from app.answer.negatives import perturb
from app.answer.reader_answer import Found, ReaderAnswerer
from app.answer.training import (
    TrainConfig,
    article_pools,
    article_title,
    load_squad,
    split_articles,
    usable_questions,
    without_answer_sentence,
)
from app.evaluation.metrics import CalibrationBin, Outcome, calibration
from app.search.query import ResolvedQuery
from app.types import Chunk, Document, Passage

SEED = TrainConfig.seed  # the training default, so the figures read the same questions
RIGHT_F1 = 0.5  # a candidate counts as a right answer at this token F1 with the gold answer or more
CALIBRATION_ARTICLES = 80  # training articles the calibration questions are drawn from
CANDIDATES_PER_PAIR = 5  # the reader's best candidates of each pair: those an answer could lead with


@dataclass(frozen=True)
class ReaderFigures:
    questions: int
    exact_match: float
    f1: float
    threshold: float
    gold_answered: float  # share of gold paragraphs answered at the threshold
    perturbed: int  # perturbed questions (the SQuAD 2.0-style unanswerables)
    perturbed_auc: float
    perturbed_refused: float  # no-answer accuracy on them
    near_misses: int
    near_miss_auc: float
    near_miss_refused: float
    has_answer_f1: float  # at the threshold: a refused answerable question scores 0
    squad2_f1: float  # HasAns (gold) and NoAns (perturbed) together, as the official script averages them
    calibration: tuple[CalibrationBin, ...] = ()

    def to_markdown(self) -> str:
        head = (
            "| held-out questions | exact match | F1 | threshold | gold answered | HasAns F1 | perturbed (NoAns) "
            "| no-answer AUC | perturbed refused | near misses | AUC | near misses refused | SQuAD 2.0-style F1 |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
        )
        row = (
            f"| {self.questions} | {self.exact_match:.3f} | {self.f1:.3f} | {self.threshold:g} "
            f"| {self.gold_answered:.3f} | {self.has_answer_f1:.3f} | {self.perturbed} | {self.perturbed_auc:.3f} "
            f"| {self.perturbed_refused:.3f} | {self.near_misses} | {self.near_miss_auc:.3f} "
            f"| {self.near_miss_refused:.3f} | {self.squad2_f1:.3f} |"
        )
        bins = [b for b in self.calibration if b.count]
        table = "\n\nCalibration (every candidate that leads an answer, gold, perturbed and near-miss pairs):\n\n"
        table += "| confidence | answers | mean confidence | right |\n|---|---|---|---|\n"
        table += "\n".join(
            f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {b.mean_confidence or 0:.3f} | {b.share_right or 0:.3f} |"
            for b in bins
        )
        return head + row + (table if bins else "")


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


def read_paragraph(answerer: ReaderAnswerer, question: str, title: str, paragraph: str) -> list[Found]:
    """The candidates the assistant would find for `question` in a document of this one paragraph."""
    document = Document(id=title, title=title, text=paragraph)
    chunk = Chunk(f"{title}#0", title, 0, 0, len(paragraph), paragraph, title)
    query = ResolvedQuery(question, question, "", 0.0)
    return answerer.candidates(query, [Passage(chunk, 1, 1.0)], {title: document})


@dataclass(frozen=True)
class _Read:
    """One question read against its gold paragraph, perturbed, and against a near miss."""

    answer: str  # the best candidate on the gold paragraph ("" when none)
    confidence: float  # … its confidence (0 when none)
    answers: tuple[str, ...]
    perturbed: float | None  # the best candidate's confidence for the perturbed question; None: none applied
    near_miss: float | None  # … on a near miss; None: the article has no paragraph without the answer


def reader_figures(
    answerer: ReaderAnswerer, held_out: list[dict[str, Any]], questions: int = 400, seed: int = SEED
) -> ReaderFigures:
    """Score the answering path on `questions` questions of the articles training held out."""
    rng = random.Random(seed)
    items = [
        (a, p, qa)
        for a, article in enumerate(held_out)
        for p, paragraph in enumerate(article["paragraphs"])
        for qa in paragraph["qas"]
    ]
    rng.shuffle(items)
    items = items[:questions]
    pools = article_pools(held_out, {a for a, _, _ in items}, answerer.annotator)
    reads = []
    for a, p, qa in items:
        article = held_out[a]
        title, paragraphs = article_title(article), article["paragraphs"]
        context = paragraphs[p]["context"]
        answers = tuple(x["text"] for x in qa["answers"])
        gold = _best(read_paragraph(answerer, qa["question"], title, context))
        changed = perturb(qa["question"], answerer.annotator.annotate(qa["question"]), context, pools[a], rng)
        perturbed = _confidence(read_paragraph(answerer, changed.question, title, context)) if changed else None
        others = [
            q["context"]
            for i, q in enumerate(paragraphs)
            if i != p and not any(x.lower() in q["context"].lower() for x in answers)
        ]
        near = _confidence(read_paragraph(answerer, qa["question"], title, rng.choice(others))) if others else None
        reads.append(_Read(gold.span.text if gold else "", gold.confidence if gold else 0.0, answers, perturbed, near))
    return _figures(reads, answerer.threshold)


def _figures(reads: Sequence[_Read], threshold: float) -> ReaderFigures:
    n = len(reads)
    f1 = [max(token_f1(r.answer, x) for x in r.answers) for r in reads]
    exact = [max(float(normalize_answer(r.answer) == normalize_answer(x)) for x in r.answers) for r in reads]
    gold = [r.confidence for r in reads]
    perturbed = [r.perturbed for r in reads if r.perturbed is not None]
    near = [r.near_miss for r in reads if r.near_miss is not None]
    has_answer = [score if c >= threshold else 0.0 for score, c in zip(f1, gold, strict=True)]
    no_answer = [float(c < threshold) for c in perturbed]
    outcomes = [Outcome(c, True, score >= RIGHT_F1) for score, c in zip(f1, gold, strict=True) if c >= threshold]
    outcomes += [Outcome(c, True, False) for c in perturbed + near if c >= threshold]
    return ReaderFigures(
        questions=n,
        exact_match=sum(exact) / n,
        f1=sum(f1) / n,
        threshold=threshold,
        gold_answered=sum(c >= threshold for c in gold) / n,
        perturbed=len(perturbed),
        perturbed_auc=auc(gold, perturbed),
        perturbed_refused=sum(no_answer) / max(1, len(no_answer)),
        near_misses=len(near),
        near_miss_auc=auc(gold, near),
        near_miss_refused=sum(c < threshold for c in near) / max(1, len(near)),
        has_answer_f1=sum(has_answer) / n,
        squad2_f1=(sum(has_answer) + sum(no_answer)) / (n + len(no_answer)),
        calibration=tuple(calibration(outcomes)),
    )


def _confidence(found: Sequence[Found]) -> float:
    return found[0].confidence if found else 0.0


def _best(found: Sequence[Found]) -> Found | None:
    return found[0] if found else None


def calibration_candidates(
    answerer: ReaderAnswerer, data_dir: Path, skip_questions: int, questions: int, seed: int = SEED
) -> tuple[list[Candidate], list[bool]]:
    """Candidates (with right/wrong labels) over training-article questions after the first `skip_questions`.

    Training read the questions of the seeded order up to the checkpoint's last stage; these come after,
    so the reader never learned them. Each is read against its gold paragraph, perturbed, against its
    paragraph less the answer's sentence, and against a near miss: each pair's best candidates count.
    """
    config = TrainConfig(data_dir=data_dir, output_dir=Path(), seed=seed)
    articles = split_articles(load_squad(data_dir), config.held_out_articles, seed)[0]
    # from a sample of the articles: their entities are what perturbations swap in, and spaCy reads them all
    sample = set(random.Random(seed + 4).sample(range(len(articles)), min(CALIBRATION_ARTICLES, len(articles))))
    unused = [q for q in usable_questions(articles, seed)[skip_questions:] if q[0] in sample]
    chosen = unused[:questions]
    if len(chosen) < questions:
        raise ValueError(f"only {len(chosen)} unused training questions after {skip_questions}; asked for {questions}")
    rng = random.Random(seed + 3)
    pools = article_pools(articles, {a for a, *_ in chosen}, answerer.annotator)
    features: list[Candidate] = []
    right: list[bool] = []
    for a, p, question, answer in chosen:
        article = articles[a]
        title, paragraphs = article_title(article), article["paragraphs"]
        context = paragraphs[p]["context"]
        for found in read_paragraph(answerer, question, title, context)[:CANDIDATES_PER_PAIR]:
            assert found.candidate is not None
            features.append(found.candidate)
            right.append(token_f1(found.span.text, answer["text"]) >= RIGHT_F1)
        negatives = []
        changed = perturb(question, answerer.annotator.annotate(question), context, pools[a], rng)
        if changed:
            negatives.append((changed.question, context))
        rest = without_answer_sentence(context, answer["answer_start"], answer["text"])
        if rest:
            negatives.append((question, rest))
        others = [
            q["context"]
            for i, q in enumerate(paragraphs)
            if i != p and answer["text"].lower() not in q["context"].lower()
        ]
        if others:
            negatives.append((question, rng.choice(others)))
        for asked, paragraph in negatives:
            for found in read_paragraph(answerer, asked, title, paragraph)[:CANDIDATES_PER_PAIR]:
                assert found.candidate is not None
                features.append(found.candidate)
                right.append(False)
    return features, right
