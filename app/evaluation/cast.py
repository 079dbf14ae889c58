"""How much of a follow-up's meaning reaches the searched query, against TREC CAsT's human rewrites.

Each CAsT turn has the raw follow-up ("Now it stopped working. Why?") and a person's rewrite that
stands alone ("Now my garage door opener stopped working. Why?"). For every turn with history we
take the rewrite's terms (stemmed, stop words dropped: what BM25 sees) and count the share that
appear in what is searched: the question alone, and the question resolved against the conversation
(`app/search/query.py`). The terms a rewrite adds to its question are the hard part, so they are
reported on their own too. A turn whose rewrite adds no term stands alone: carrying the conversation
into it only adds noise, so how often the resolver carries history is reported for both kinds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.index.lexical import terms
from app.jsonl import read_jsonl
from app.search.query import resolve
from app.types import Turn

CAST_FILE = "trec-cast-turns.jsonl.gz"


@dataclass(frozen=True)
class CastFigures:
    turns: int
    question_only: float  # share of the rewrite's terms in the question alone
    resolved: float  # … in the question plus what the resolver carries in
    added_terms_reached: float  # of the terms the rewrite adds to the question, the share carried in
    query_terms: float  # mean number of terms searched (a longer query is noisier)
    standalone_turns: int  # turns whose rewrite adds no term to the question
    carried_when_needed: float  # share of the other turns that carried earlier turns in
    carried_when_standalone: float  # share of the standalone turns that carried them in anyway

    def to_markdown(self) -> str:
        return (
            "| follow-up turns | rewrite terms in question | … in searched query | added terms reached "
            "| terms searched | history carried: rewrite adds terms | … rewrite adds none |\n"
            "|---|---|---|---|---|---|---|\n"
            f"| {self.turns} | {self.question_only:.3f} | {self.resolved:.3f} | {self.added_terms_reached:.3f} "
            f"| {self.query_terms:.1f} | {self.carried_when_needed:.3f} ({self.turns - self.standalone_turns}) "
            f"| {self.carried_when_standalone:.3f} ({self.standalone_turns}) |"
        )


def cast_figures(data_dir: Path, history_weight: float = 0.5) -> CastFigures:
    rows = [row for _, row in read_jsonl(data_dir / CAST_FILE)]
    question_only, resolved, reached, sizes = [], [], [], []
    carried: dict[bool, list[bool]] = {True: [], False: []}  # rewrite adds terms → did the turn carry history
    added_total = 0
    for row in rows:
        if not row["history"] or not row.get("rewrite"):  # some turns have no human rewrite
            continue
        wanted = set(terms(row["rewrite"]))
        if not wanted:
            continue
        asked = set(terms(row["question"]))
        query = resolve(row["question"], [Turn(q) for q in row["history"]], history_weight)
        searched = set(terms(f"{query.search} {query.context}"))
        question_only.append(len(wanted & asked) / len(wanted))
        resolved.append(len(wanted & searched) / len(wanted))
        added = wanted - asked
        added_total += len(added)
        reached.append(len(added & searched))
        sizes.append(len(searched))
        carried[bool(added)].append(bool(query.carried))
    n = len(resolved)
    return CastFigures(
        turns=n,
        question_only=sum(question_only) / n,
        resolved=sum(resolved) / n,
        added_terms_reached=sum(reached) / max(1, added_total),
        query_terms=sum(sizes) / n,
        standalone_turns=len(carried[False]),
        carried_when_needed=sum(carried[True]) / max(1, len(carried[True])),
        carried_when_standalone=sum(carried[False]) / max(1, len(carried[False])),
    )
