"""Metrics on hand-computed examples, including the edge cases."""

import math

import pytest

from app.evaluation.metrics import (
    CalibrationBin,
    CoveragePoint,
    Outcome,
    calibration,
    contains_term,
    coverage_curve,
    hit_at,
    mrr_at,
    ndcg_at,
    normalize,
    percentile,
    recall_at,
    short_answer_holds,
    supports,
    term_recall,
)
from app.evaluation.run import EvalItem, ItemResult, format_summary, score, summarize
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


def _answer(
    text: str,
    quotes: list[str],
    passages: list[str],
    abstained: bool = False,
    short_answer: str = "",
    confidence: float = 0.0,
) -> Answer:
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
        confidence=confidence,
        short_answer=short_answer,
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


def test_short_answer_holds_one_key_term() -> None:
    assert short_answer_holds("C$56 billion", ["56 billion"])
    assert short_answer_holds("the 440-mile pipeline", ["440", "mile"])
    # a list question: the short answer is one span, so one of the listed items is enough
    assert short_answer_holds("Doug Ford", ["Doug Ford", "Danielle Smith"])
    assert not short_answer_holds("C$560 billion", ["56 billion"])  # whole words, as for accuracy
    assert not short_answer_holds("36-inch", ["440", "mile"])
    assert not short_answer_holds("", ["56 billion"])  # no short answer fails
    assert not short_answer_holds("  ", [])
    assert short_answer_holds("anything", [])  # nothing to look for, as term_recall counts 1.0


def test_score_of_the_short_answer() -> None:
    quote = "with just C$9 billion flowing the other way."
    right = _answer("**C$9 billion** [1]", [quote], [quote], short_answer="C$9 billion")
    assert score(ITEM, right)[0]["short_answer_accuracy"] == 1.0
    # the quote holds the fact (accuracy passes) but the short answer names the wrong figure
    wrong = _answer("**C$47 billion** with just C$9 billion [1]", [quote], [quote], short_answer="C$47 billion")
    s, passed, _ = score(ITEM, wrong)
    assert (s["accuracy"], s["short_answer_accuracy"], passed) == (1.0, 0.0, True)
    assert score(ITEM, _answer("C$9 billion [1]", [quote], [quote]))[0]["short_answer_accuracy"] == 0.0
    abstained = _answer("I couldn't find that", [], [quote], abstained=True, short_answer="C$9 billion")
    assert score(ITEM, abstained)[0]["short_answer_accuracy"] == 0.0


OUTCOMES = [
    Outcome(confidence=0.95, answered=True, right=True),
    Outcome(confidence=0.85, answered=True, right=True),
    Outcome(confidence=0.55, answered=True, right=False),
    Outcome(confidence=0.35, answered=True, right=True),
    Outcome(confidence=0.97, answered=False, right=False),  # abstained for another reason: never answered
]


def test_coverage_curve_by_hand() -> None:
    assert coverage_curve(OUTCOMES, [0.0, 0.5, 0.9, 0.99]) == [
        CoveragePoint(threshold=0.0, answered=4, coverage=0.8, accuracy=0.75),
        CoveragePoint(threshold=0.5, answered=3, coverage=0.6, accuracy=2 / 3),
        CoveragePoint(threshold=0.9, answered=1, coverage=0.2, accuracy=1.0),
        CoveragePoint(threshold=0.99, answered=0, coverage=0.0, accuracy=None),
    ]
    assert coverage_curve(OUTCOMES, [0.85])[0].answered == 2  # confidence equal to the threshold answers
    assert coverage_curve([], [0.0]) == [CoveragePoint(0.0, 0, 0.0, None)]


def test_calibration_bins_by_hand() -> None:
    outcomes = [
        Outcome(0.1, True, True),
        Outcome(0.3, True, False),
        Outcome(0.5, True, True),  # on an edge: the upper bin
        Outcome(0.75, True, True),
        Outcome(1.0, True, False),  # 1.0 belongs to the last bin
        Outcome(0.2, False, False),  # abstained: not in the table
    ]
    assert calibration(outcomes, bins=4) == [
        CalibrationBin(0.0, 0.25, 1, 0.1, 1.0),
        CalibrationBin(0.25, 0.5, 1, 0.3, 0.0),
        CalibrationBin(0.5, 0.75, 1, 0.5, 1.0),
        CalibrationBin(0.75, 1.0, 2, 0.875, 0.5),
    ]
    ten = calibration([Outcome(0.3, True, True), Outcome(0.7, True, False)])
    assert [b.count for b in ten] == [0, 0, 0, 1, 0, 0, 0, 1, 0, 0]  # 0.3 is not read as 0.2999…
    assert ten[0] == CalibrationBin(0.0, 0.1, 0, None, None)


def test_summary_has_short_answer_accuracy_coverage_and_calibration() -> None:
    quote = "with just C$9 billion flowing the other way."
    unanswerable = EvalItem(id="u", question="q", answers=(), evidence=(), answerable=False, kind="none")
    item = EvalItem(id="x", question="q", answers=("9 billion",), evidence=(quote,), kind="number")
    cases = [
        (item, _answer("**C$9 billion** [1]", [quote], [quote], short_answer="C$9 billion", confidence=0.9)),
        (item, _answer("**C$47 billion** [1]", [quote], [quote], short_answer="C$47 billion", confidence=0.6)),
        (unanswerable, _answer("**Nine** [1]", [quote], [quote], short_answer="Nine", confidence=0.95)),
        (unanswerable, _answer("I couldn't find that", [], [quote], abstained=True)),
    ]
    results = [ItemResult(i, a, *score(i, a)) for i, a in cases]
    summary = summarize(results)
    assert summary["overall"]["short_answer_accuracy"] == 0.5  # over the two answerable items
    assert summary["by_kind"]["number"]["short_answer_accuracy"] == 0.5
    assert "short_answer_accuracy" not in summary["by_kind"]["none"]
    at = {p["threshold"]: p for p in summary["coverage"]}
    assert at[0.0] == {"threshold": 0.0, "answered": 3, "coverage": 0.75, "accuracy": 0.3333}
    assert at[0.9] == {"threshold": 0.9, "answered": 2, "coverage": 0.5, "accuracy": 0.5}
    assert at[0.99]["accuracy"] is None
    filled = {b["low"]: (b["count"], b["share_right"]) for b in summary["calibration"] if b["count"]}
    assert filled == {0.6: (1, 0.0), 0.9: (2, 0.5)}
    markdown = format_summary(summary)
    assert "| confidence ≥ | 0 | 0.1 |" in markdown
    assert "| coverage | 0.750 |" in markdown
    assert "| confidence | 0.6–0.7 | 0.9–1 |" in markdown
    assert "| share right | 0.000 | 0.500 |" in markdown
