"""The CAsT figures, on a few turns in CAsT's own layout (real spaCy, real BM25 terms)."""

import gzip
import json
from pathlib import Path

import pytest

from app.evaluation.cast import CAST_FILE, cast_figures

TURNS = [
    {"source": "trec-cast-2020", "history": [], "question": "What is a heat pump?", "rewrite": "What is a heat pump?"},
    {  # a pronoun: the rewrite names what "it" was
        "source": "trec-cast-2020",
        "history": ["How do you know when your garage door opener is going bad?"],
        "question": "How much does it cost to fix it?",
        "rewrite": "How much does it cost to fix a garage door opener?",
    },
    {  # an ellipsis: the earlier question with the other place
        "source": "trec-cast-2019",
        "history": ["What tariffs did the US put on Canada in February 2025?"],
        "question": "And Mexico?",
        "rewrite": "What tariffs did the US put on Mexico in February 2025?",
    },
    {  # stands alone: the rewrite adds nothing, and nothing is added
        "source": "trec-cast-2019",
        "history": ["What tariffs did the US put on Canada in February 2025?"],
        "question": "What did the pipeline end up costing?",
        "rewrite": "What did the pipeline end up costing?",
    },
    {  # 2022: the history alternates questions and the system's responses, which are left out
        "source": "trec-cast-2022",
        "history": ["Tell me about the Southeast Gateway pipeline.", "It is run by TC Energy and the CFE."],
        "question": "Who built it?",
        "rewrite": "Who built the Southeast Gateway pipeline?",
    },
    {"source": "trec-cast-2019", "history": ["Why?"], "question": "What is it?", "rewrite": ""},  # no rewrite: skipped
]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    with gzip.open(tmp_path / CAST_FILE, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(turn) + "\n" for turn in TURNS)
    return tmp_path


def test_the_rewrite_is_measured_against_the_human_one_beside_the_question_and_the_carried_turns(data: Path) -> None:
    figures = cast_figures(data)
    assert figures.turns == 4  # with history and a human rewrite
    assert (figures.standalone_turns, figures.carried_when_standalone, figures.carried_when_needed) == (1, 0.0, 1.0)
    assert figures.rewritten == 0.75
    # the rewrites are the human ones, term for term; the question alone holds none of the terms they add
    assert (figures.rewrite.f1, figures.rewrite.added_terms_reached) == (1.0, 1.0)
    assert figures.question_only.added_terms_reached == 0.0
    assert figures.rewrite.f1 > figures.carried.f1 > figures.question_only.f1
    # what is searched carries the earlier turns in beside the rewrite: every term, and more
    assert figures.resolved.rewrite_terms == 1.0
    assert figures.resolved.query_terms > figures.rewrite.query_terms
    table = figures.to_markdown()
    assert "| rewrite | 1.000 | 1.000 | 1.000 |" in table
    assert "| 1.000 (3) | 0.000 (1) | 0.750 |" in table
