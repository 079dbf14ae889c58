"""Metrics on hand-computed examples, including the edge cases."""

import math

import pytest

from app.evaluation.metrics import (
    contains_term,
    hit_at,
    mrr_at,
    ndcg_at,
    normalize,
    percentile,
    recall_at,
    supports,
    term_recall,
)
from app.evaluation.run import EvalItem, score
from app.types import Answer, Chunk, Citation, Passage


def test_normalization_matches_the_eval_format() -> None:
    assert contains_term("Trade hit C$56 billion.", "56 billion")
    assert contains_term("the 440-mile pipeline", "440 mile")
    assert contains_term("Calderón spoke", "Calderon")
    assert not contains_term("C$560 billion", "56 billion")  # whole words only
    assert normalize("  U.S.–Mexico ") == "u s mexico"
    assert term_recall("C$47 billion and C$9 billion", ["47 billion", "9 billion", "56 billion"]) == pytest.approx(
        2 / 3
    )
    assert term_recall("anything", []) == 1.0


def test_evidence_support_ignores_case_and_whitespace() -> None:
    assert supports("In 2024,\n  BILATERAL trade hit C$56 billion", ["bilateral trade hit c$56 billion"])
    assert not supports("bilateral trade", ["bilateral trade hit"])
    assert not supports("anything", [])  # empty evidence supports nothing


def test_rank_metrics_by_hand() -> None:
    rel = [False, True, False, True]
    assert hit_at(rel, 1) == 0.0
    assert hit_at(rel, 2) == 1.0
    assert mrr_at(rel, 10) == 0.5
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 / math.log2(2) + 1 / math.log2(3)
    assert ndcg_at(rel, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at(rel, 10, total_relevant=3) == pytest.approx(dcg / (idcg + 1 / math.log2(4)))
    assert recall_at(rel, 2, total_relevant=2) == 0.5
    assert ndcg_at([False, False], 10) == 0.0
    assert mrr_at([], 10) == 0.0


def test_percentile_nearest_rank() -> None:
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0
    assert percentile(list(map(float, range(1, 101))), 95) == 95.0
    assert percentile([], 95) == 0.0


def _chunk(text: str, n: int = 0) -> Chunk:
    return Chunk(id=f"d.md#{n}", doc_id="d.md", number=n, start=0, end=len(text), text=text, title="D")


def _answer(text: str, quotes: list[str], passages: list[str], abstained: bool = False) -> Answer:
    chunks = [_chunk(t, i) for i, t in enumerate(passages)]
    citations = tuple(
        Citation(
            marker=i + 1,
            doc_id="d.md",
            title="D",
            chunk_id=chunks[0].id,
            quote=q,
            start=0,
            end=len(q),
            page=None,
            support=0.5,
        )
        for i, q in enumerate(quotes)
    )
    return Answer(
        question="q",
        text=text,
        citations=citations,
        abstained=abstained,
        passages=tuple(Passage(c, i + 1, 1.0) for i, c in enumerate(chunks)),
        query="q",
        answerer="extractive",
    )


ITEM = EvalItem(id="x", question="q", answers=("9 billion",), evidence=("C$9 billion flowing the other way",))


def test_score_of_a_correct_cited_answer() -> None:
    answer = _answer(
        "C$9 billion [1]",
        ["with just C$9 billion flowing the other way."],
        ["unrelated", "with just C$9 billion flowing the other way."],
    )
    s, passed, reasons = score(ITEM, answer)
    assert s["accuracy"] == 1.0
    assert s["hit@1"] == 0.0
    assert s["hit@3"] == 1.0
    assert s["mrr@10"] == 0.5
    assert s["citation_precision"] == 1.0
    assert s["citation_recall"] == 1.0
    assert passed
    assert reasons == ()


def test_score_with_no_citations() -> None:
    s, passed, reasons = score(ITEM, _answer("C$9 billion", [], ["nothing here"]))
    assert s["accuracy"] == 1.0
    assert "citation_precision" not in s
    assert s["citation_recall"] == 0.0
    assert not passed
    assert "no citation holds the evidence" in reasons


def test_score_of_an_abstained_answerable_item() -> None:
    s, passed, reasons = score(ITEM, _answer("I couldn't find that", [], ["x"], abstained=True))
    assert s["false_abstention"] == 1.0
    assert s["accuracy"] == 0.0
    assert not passed
    assert "abstained on an answerable question" in reasons


def test_score_of_unanswerable_items_with_empty_evidence() -> None:
    item = EvalItem(id="u", question="q", answers=(), evidence=(), answerable=False)
    s, passed, _ = score(item, _answer("I couldn't find that", [], ["x"], abstained=True))
    assert s == {"abstention": 1.0, "accuracy": 1.0}
    assert passed
    s, passed, reasons = score(item, _answer("Something [1]", ["Something"], ["Something"]))
    assert s["abstention"] == 0.0
    assert not passed
    assert "answered a question" in reasons[0]
