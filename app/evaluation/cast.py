"""How close a follow-up's searched query gets to TREC CAsT's human rewrites.

Each CAsT turn has the raw follow-up ("Now it stopped working. Why?") and a person's rewrite that
stands alone ("Now my garage door opener stopped working. Why?"). For every turn with history we
compare the terms (stemmed, stop words dropped: what BM25 sees) of the human rewrite with four queries:
the question alone (the baseline); the question with the last `CONTEXT_TURNS` earlier turns carried in
(how follow-ups were searched before they were rewritten); the standalone rewrite `app/search/query.py`
makes; and what is searched now, the rewrite with those turns carried in (at `history_weight`, which
term counts do not show). The turns are carried only into the turns read as follow-ups, and only those
are rewritten. Per query: the share of the human rewrite's terms it holds, token F1 against it (carried
turns hold many terms it lacks, so their precision is low), and of the terms the human rewrite adds to its
question, the share the query holds: those are the hard part. A turn whose human rewrite adds no term
stands alone: reading it as a follow-up only adds noise, so how often the resolver does is reported for
both kinds.

CAsT is the tuning set for the follow-up rules. Its history is the earlier questions, with no short
answers; the 2022 turns' history also holds the system's responses (passages, where the chat has a short
answer), which are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.index.lexical import terms
from app.jsonl import read_jsonl
from app.search.query import CONTEXT_TURNS, MemoAnnotator, resolve
from app.types import Turn

CAST_FILE = "trec-cast-turns.jsonl.gz"


@dataclass(frozen=True)
class QueryFigures:
    """One kind of query against the human rewrites, averaged over the follow-up turns."""

    rewrite_terms: float  # share of the rewrite's terms in the query
    f1: float  # token F1 of the query's terms against the rewrite's
    added_terms_reached: float  # of the terms the rewrite adds to the question (all turns pooled), the share held
    query_terms: float  # mean number of terms searched (a longer query is noisier)


@dataclass(frozen=True)
class CastFigures:
    turns: int
    question_only: QueryFigures  # the question as asked
    carried: QueryFigures  # + the last CONTEXT_TURNS earlier turns, when read as a follow-up
    rewrite: QueryFigures  # the question, or a follow-up's standalone rewrite
    resolved: QueryFigures  # what is searched: the rewrite + the last CONTEXT_TURNS earlier turns
    standalone_turns: int  # turns whose rewrite adds no term to the question
    carried_when_needed: float  # share of the other turns read as follow-ups
    carried_when_standalone: float  # share of the standalone turns read as follow-ups anyway
    rewritten: float  # share of all turns searched as a standalone rewrite

    def to_markdown(self) -> str:
        rows = [
            ("question alone", self.question_only),
            (f"question + last {CONTEXT_TURNS} turns", self.carried),
            ("rewrite", self.rewrite),
            (f"rewrite + last {CONTEXT_TURNS} turns (searched)", self.resolved),
        ]
        table = "\n".join(
            f"| {name} | {q.rewrite_terms:.3f} | {q.f1:.3f} | {q.added_terms_reached:.3f} | {q.query_terms:.1f} |"
            for name, q in rows
        )
        return (
            f"{self.turns} follow-up turns of TREC CAsT, against their human rewrites\n\n"
            "| searched | rewrite terms held | token F1 | added terms held | terms searched |\n"
            "|---|---|---|---|---|\n"
            f"{table}\n\n"
            "(question + turns: how follow-ups were searched before they were rewritten. Turns are carried in only "
            "where the question is read as a follow-up; in the search they weigh `history_weight`, here as much "
            "as the question.)\n\n"
            "| read as a follow-up: rewrite adds terms | … rewrite adds none | rewritten |\n"
            "|---|---|---|\n"
            f"| {self.carried_when_needed:.3f} ({self.turns - self.standalone_turns}) "
            f"| {self.carried_when_standalone:.3f} ({self.standalone_turns}) | {self.rewritten:.3f} |"
        )


class _Scores:
    """Running sums for one kind of query."""

    def __init__(self) -> None:
        self.held: list[float] = []
        self.f1: list[float] = []
        self.sizes: list[int] = []
        self.added = 0

    def add(self, query: set[str], wanted: set[str], added: set[str]) -> None:
        common = len(query & wanted)
        self.held.append(common / len(wanted))
        self.f1.append(2 * common / (len(query) + len(wanted)))
        self.sizes.append(len(query))
        self.added += len(added & query)

    def figures(self, added_total: int) -> QueryFigures:
        n = max(1, len(self.held))
        return QueryFigures(sum(self.held) / n, sum(self.f1) / n, self.added / max(1, added_total), sum(self.sizes) / n)


def cast_figures(data_dir: Path, history_weight: float = 0.5) -> CastFigures:
    rows = [row for _, row in read_jsonl(data_dir / CAST_FILE)]
    annotator = MemoAnnotator()  # one spaCy for the run; each text annotated once
    scores = {kind: _Scores() for kind in ("question", "carried", "rewrite", "resolved")}
    read_as_follow_up: dict[bool, list[bool]] = {True: [], False: []}  # rewrite adds terms → read as a follow-up
    rewritten, added_total = 0, 0
    for row in rows:
        if not row["history"] or not row.get("rewrite"):  # some turns have no human rewrite
            continue
        wanted = set(terms(row["rewrite"]))
        if not wanted:
            continue
        asked = set(terms(row["question"]))
        history = _turns(row)
        query = resolve(row["question"], history, history_weight, annotator)
        follow_up = bool(query.carried)
        added = wanted - asked
        added_total += len(added)
        scores["question"].add(asked, wanted, added)
        scores["carried"].add(set(terms(f"{row['question']} {query.context}")), wanted, added)
        scores["rewrite"].add(set(terms(query.search)), wanted, added)
        scores["resolved"].add(set(terms(f"{query.search} {query.context}")), wanted, added)
        read_as_follow_up[bool(added)].append(follow_up)
        rewritten += bool(query.rewritten)
    needed, standalone = read_as_follow_up[True], read_as_follow_up[False]
    turns = len(needed) + len(standalone)
    return CastFigures(
        turns=turns,
        question_only=scores["question"].figures(added_total),
        carried=scores["carried"].figures(added_total),
        rewrite=scores["rewrite"].figures(added_total),
        resolved=scores["resolved"].figures(added_total),
        standalone_turns=len(standalone),
        carried_when_needed=_share(needed),
        carried_when_standalone=_share(standalone),
        rewritten=rewritten / turns,
    )


def _turns(row: dict[str, Any]) -> list[Turn]:
    """A CAsT turn's history as chat turns: its questions (2022's alternate with the system's responses)."""
    questions = row["history"][::2] if row["source"] == "trec-cast-2022" else row["history"]
    return [Turn(question) for question in questions]


def _share(flags: Iterable[bool]) -> float:
    values = list(flags)
    return sum(values) / max(1, len(values))
