"""How sure to be of a candidate answer: a few signals combined into a calibrated probability.

The reader's answer score (span − no-answer logits) alone ranks a near miss too high: a passage
on the question's topic gets a confident span even when it says nothing of what was asked. So
each candidate span is described by what a careful reader would check:

- `score`: the reader's answer score;
- `typed` / `mistyped`: the question fixes an answer type (`answer_type.expected_types`) and the
  span has it / does not ("4,000" jobs for "How long …?");
- `agreement`: the share of the question's own names, numbers and years that the passage (with its
  title and headings) states; "Canada's minister of agriculture" over a passage about another
  minister, "the 2022 World Cup" over passages that never say 2022;
- `coverage`: the share of the question's other content words the passage holds.

A logistic regression over these (`fit`, scikit-learn) is trained on SQuAD questions the reader
never trained on, each candidate labelled right or wrong, with the perturbed near misses of
`app/answer/negatives.py` among them; so the output reads as "the chance this span is a right
answer", and a displayed 0.8 is checked to be right about 80% of the time on held-out articles
(`askdocs eval squad`). The threshold under which the answer is "not found" is chosen on the dev split.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from app.answer.answer_type import span_types
from app.index.lexical import terms
from app.ingest.annotate import Mention

FEATURES = ("score", "typed", "mistyped", "agreement", "coverage")
CALIBRATION_FILE = "calibration.json"
QUESTION_WORDS = frozenset({"who", "whom", "whose", "what", "which", "when", "where", "why", "how"})
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")
# entity types whose words a passage must state for it to be about what the question asks
_NAMED = frozenset({"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"})


@dataclass(frozen=True)
class QuestionFacts:
    """What a supporting passage must agree with: the question's names and numbers, and its other words."""

    names: tuple[str, ...]  # entity texts ("Dominic LeBlanc", "Mexico")
    numbers: tuple[str, ...]  # "2022", "2024"
    words: frozenset[str]  # stemmed content terms, question words and names aside
    types: frozenset[str]  # the answer types the question asks for (empty: any)


def question_facts(question: str, entities: Sequence[Mention], types: frozenset[str]) -> QuestionFacts:
    names = tuple(dict.fromkeys(m.text for m in entities if m.label in _NAMED))
    numbers = tuple(dict.fromkeys(_NUMBER.findall(question)))
    named_terms = set(terms(" ".join(names)))
    words = frozenset(set(terms(question)) - QUESTION_WORDS - named_terms - set(terms(" ".join(numbers))))
    return QuestionFacts(names, numbers, words, types)


@dataclass(frozen=True)
class Candidate:
    """One span seen the way the calibration model sees it."""

    score: float
    typed: bool
    mistyped: bool
    agreement: float
    coverage: float

    def vector(self) -> list[float]:
        return [self.score, float(self.typed), float(self.mistyped), self.agreement, self.coverage]


@dataclass(frozen=True)
class Context:
    """A passage with its title and headings, as the checks read it (made once for all its spans)."""

    text: str
    lowered: str
    terms: frozenset[str]

    @classmethod
    def of(cls, text: str) -> Context:
        return cls(text, text.lower(), frozenset(terms(text)))


def describe(
    facts: QuestionFacts, score: float, span: tuple[int, int], entities: Sequence[Mention], context: Context
) -> Candidate:
    """The candidate `span` (offsets matching `entities`), read with its passage, title and headings."""
    kinds = span_types(span[0], span[1], entities)
    typed = bool(facts.types) and bool(kinds & facts.types)
    mistyped = bool(facts.types) and not typed
    stated = [_name_stated(name, context) for name in facts.names]
    stated += [re.search(rf"(?<![\d]){re.escape(n)}(?![\d])", context.text) is not None for n in facts.numbers]
    agreement = sum(stated) / len(stated) if stated else 1.0
    coverage = len(facts.words & context.terms) / len(facts.words) if facts.words else 1.0
    return Candidate(score, typed, mistyped, agreement, coverage)


def _name_stated(name: str, context: Context) -> bool:
    """A name counts as stated when it is there whole, or every word of it is ("Carney" for "Mark Carney" is not)."""
    if name.lower() in context.lowered:
        return True
    wanted = set(terms(name))
    return bool(wanted) and wanted <= context.terms


@dataclass(frozen=True)
class Calibration:
    """Logistic regression weights over FEATURES, as fitted (`fit`) and stored in CALIBRATION_FILE."""

    weights: tuple[float, ...]
    bias: float
    fitted_on: str = ""  # what it was fitted on, in words

    def confidence(self, candidate: Candidate) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, candidate.vector(), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))

    def save(self, path: Path) -> None:
        data = {"features": list(FEATURES), **asdict(self)}
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Calibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data.get("features", ())) != FEATURES:
            raise ValueError(f"{path} was fitted on features {data.get('features')}, not {list(FEATURES)}")
        return cls(tuple(float(w) for w in data["weights"]), float(data["bias"]), str(data.get("fitted_on", "")))


# Before any fit: the reader's own score alone, through a logistic (what answering did until calibration).
UNCALIBRATED = Calibration((1.0, 0.0, 0.0, 0.0, 0.0), 0.0, "none: the reader's score through a logistic")


def fit(
    candidates: Sequence[Candidate], right: Sequence[bool], fitted_on: str, features: Sequence[str] = FEATURES
) -> Calibration:
    """Logistic regression (scikit-learn, L2) of "this candidate is a right answer" on its `features`.

    With `features=("score",)` it is Platt scaling of the reader's score: the order of answers is the
    reader's own, only the confidence shown (and so the threshold's scale) is calibrated.
    """
    from sklearn.linear_model import LogisticRegression

    used = [FEATURES.index(name) for name in features]
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit([[c.vector()[i] for i in used] for c in candidates], [int(r) for r in right])
    weights = [0.0] * len(FEATURES)
    for i, w in zip(used, model.coef_[0], strict=True):
        weights[i] = float(w)
    return Calibration(tuple(weights), float(model.intercept_[0]), f"{fitted_on}; features: {', '.join(features)}")
