"""Near-miss questions: an answerable question changed so that its own paragraph no longer answers it.

SQuAD 2.0's unanswerable questions were written by people to look answerable from their
paragraph; SQuAD v1.1 (the data here) has none. A question paired with *another* paragraph
teaches the reader "this paragraph is about something else", which it learns early and which
does not help on our documents, where a passage is close to the question and still does not say
the answer. These perturbations keep the paragraph and change the question, the way the
SQuAD 2.0 annotators did (Rajpurkar, Jia and Liang, 2018, table 2):

- entity: a named entity of the question swapped for another of the same type from the same
  article ("When did Beyoncé leave Destiny's Child?" → "… leave the Jackson 5?");
- number: a year or figure changed (to one of the article's, or shifted) so the paragraph lacks it;
- roles: two entities of the question swapped ("Canada's exports to Mexico" → "Mexico's exports to Canada");
- negation: "not" after the question's first auxiliary verb;
- noun: a common noun the paragraph uses swapped for one it does not ("the length of" → "the cost of").

A swapped-in word never occurs in the paragraph, so the paragraph cannot hold its answer. Some
perturbations still leave an answerable question (a symmetric relation swapped); the share is
small and the published recipe has the same noise.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from app.ingest.annotate import Annotation, Mention

KINDS = ("entity", "number", "roles", "negation", "noun")
# how often each is tried first; the others are tried in turn when it does not apply
KIND_WEIGHTS = {"entity": 0.4, "number": 0.15, "roles": 0.1, "negation": 0.05, "noun": 0.3}
ROLE_LABELS = frozenset({"PERSON", "ORG", "GPE", "NORP", "LOC", "FAC"})
_AUXILIARY = re.compile(r"\b(is|are|was|were|did|does|do|can|could|has|have|had|will|would|should|might)\b", re.I)
_DIGITS = re.compile(r"\d[\d,]*")


@dataclass
class ArticlePool:
    """The entities (by type) and common nouns of one article: what a perturbation swaps in."""

    entities: dict[str, set[str]] = field(default_factory=dict)
    nouns: set[str] = field(default_factory=set)

    def add(self, annotation: Annotation) -> None:
        for mention in annotation.entities:
            self.entities.setdefault(mention.label, set()).add(mention.text)
        self.nouns.update(m.text.lower() for m in annotation.nouns if m.text.isalpha() and len(m.text) > 2)


@dataclass(frozen=True)
class Perturbed:
    question: str
    kind: str  # one of KINDS


def occurs(text: str, passage: str) -> bool:
    """Whether `text` occurs in `passage` as whole words, ignoring case."""
    return re.search(rf"(?<!\w){re.escape(text.lower())}(?!\w)", passage.lower()) is not None


def perturb(
    question: str, annotation: Annotation, paragraph: str, pool: ArticlePool, rng: random.Random
) -> Perturbed | None:
    """A near-miss version of `question` for `paragraph`, or None when no perturbation applies."""
    first = rng.choices(KINDS, weights=[KIND_WEIGHTS[k] for k in KINDS])[0]
    order = [first, *(k for k in KINDS if k != first)]
    makers: dict[str, Callable[[], str | None]] = {
        "entity": lambda: _swap_entity(question, annotation, paragraph, pool, rng),
        "number": lambda: _change_number(question, annotation, paragraph, rng),
        "roles": lambda: _swap_roles(question, annotation, paragraph),
        "negation": lambda: _negate(question),
        "noun": lambda: _swap_noun(question, annotation, paragraph, pool, rng),
    }
    for kind in order:
        changed = makers[kind]()
        if changed and changed != question:
            return Perturbed(changed, kind)
    return None


def _replace(text: str, mention: Mention, new: str) -> str:
    return text[: mention.start] + new + text[mention.end :]


def _shuffled(items: Iterable[Mention], rng: random.Random) -> list[Mention]:
    listed = list(items)
    rng.shuffle(listed)
    return listed


def _swap_entity(q: str, a: Annotation, paragraph: str, pool: ArticlePool, rng: random.Random) -> str | None:
    for mention in _shuffled(a.entities, rng):
        if not occurs(mention.text, paragraph):
            continue  # the question's entity must be one the paragraph is about
        others = sorted(t for t in pool.entities.get(mention.label, ()) if not occurs(t, paragraph))
        others = [t for t in others if t.lower() not in q.lower()]
        if others:
            return _replace(q, mention, rng.choice(others))
    return None


def _change_number(q: str, a: Annotation, paragraph: str, rng: random.Random) -> str | None:
    numbers = [m for m in a.entities if _DIGITS.search(m.text)]
    for mention in _shuffled(numbers, rng):
        digits = _DIGITS.search(mention.text)
        assert digits is not None
        value = int(digits.group().replace(",", ""))
        for _ in range(5):
            shift = rng.randint(1, 12) if 1000 <= value <= 2100 else max(1, value // rng.randint(2, 4))
            new_value = value + rng.choice((-1, 1)) * shift
            new = mention.text[: digits.start()] + str(max(new_value, 0)) + mention.text[digits.end() :]
            if new != mention.text and not occurs(new, paragraph) and not occurs(str(new_value), paragraph):
                return _replace(q, mention, new)
    return None


def _swap_roles(q: str, a: Annotation, paragraph: str) -> str | None:
    named = [m for m in a.entities if m.label in ROLE_LABELS and occurs(m.text, paragraph)]
    for i, first in enumerate(named):
        for second in named[i + 1 :]:
            if first.text.lower() != second.text.lower():
                return q[: first.start] + second.text + q[first.end : second.start] + first.text + q[second.end :]
    return None


def _negate(q: str) -> str | None:
    auxiliary = _AUXILIARY.search(q)
    if auxiliary is None or re.search(r"\b(not|never|n't)\b", q, re.I):
        return None
    return q[: auxiliary.end()] + " not" + q[auxiliary.end() :]


def _swap_noun(q: str, a: Annotation, paragraph: str, pool: ArticlePool, rng: random.Random) -> str | None:
    for noun in _shuffled(a.nouns, rng):
        if not noun.text.isalpha() or not occurs(noun.text, paragraph):
            continue
        plural = noun.text.lower().endswith("s")
        others = sorted(
            n
            for n in pool.nouns
            if n.endswith("s") == plural and not occurs(n, paragraph) and not occurs(n, q) and n != noun.text.lower()
        )
        if others:
            return _replace(q, noun, rng.choice(others))
    return None
