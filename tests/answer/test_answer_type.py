"""The answer type a question asks for, and the type of a span, from spaCy's entities of real text."""

import pytest

from app.answer.answer_type import AMOUNT, EXTENT, PERSON, PLACE, TIME, WHO, expected_types, span_types
from app.answer.reader_answer import is_about_the_question, well_formed
from app.ingest.annotate import Annotator


@pytest.mark.parametrize(
    ("question", "types"),
    [
        ("How long is the pipeline TC Energy built?", EXTENT),
        ("How much did Canada export to Mexico in 2024?", AMOUNT),
        ("Who replaced Graeme Clark as ambassador to Mexico?", WHO),
        ("Which minister leads the trade mission?", PERSON),
        ("In what year did Felipe Calderón address Parliament?", TIME),
        ("When did the pipeline open?", TIME),
        ("Where was Claudia Sheinbaum born?", PLACE | {"ORG"}),
        ("What did the two leaders agree?", frozenset()),
        ("Who is Graeme Clark?", frozenset()),  # what he is, not a name
        ("Who is Canada's minister of agriculture?", WHO),
        ("Why does Canada care about Mexico?", frozenset()),
        ("How long is the Tren Maya railway in kilometres?", {"QUANTITY"}),  # a unit: a length, not "11 months"
        ("How long was the term, in years?", TIME),
        ("How much did the refinery cost to build?", {"MONEY"}),  # not "8.5 GW"
        ("What is the population of Mexico City?", {"CARDINAL", "QUANTITY"}),
        ("What was the total value of the exports?", {"MONEY"}),
        ("What is the length of the Southeast Gateway pipeline?", {"QUANTITY"}),
        ("What is the name of the plan?", frozenset()),
    ],
)
def test_the_question_fixes_the_answer_type(question: str, types: frozenset[str]) -> None:
    assert expected_types(question) == types


def test_spans_are_typed_by_the_entities_they_are_made_of() -> None:
    text = "The pipeline runs 715 km and is 36 inches wide; TC Energy expected up to 4,000 jobs."
    entities = Annotator().annotate(text).entities
    length = text.index("715 km")
    jobs = text.index("4,000")
    assert span_types(length, length + len("715 km"), entities) & EXTENT
    assert not span_types(jobs, jobs + len("4,000"), entities) & EXTENT, "a count of jobs is not a length"


def test_a_span_that_repeats_the_question_or_breaks_a_quote_is_no_answer() -> None:
    assert is_about_the_question("Graeme Clark", "Who replaced Graeme Clark as ambassador?")
    assert not is_about_the_question("Cameron MacKay", "Who replaced Graeme Clark as ambassador?")
    assert is_about_the_question("2024", "How much did Canada export in 2024?"), "the question's own year"
    assert not well_formed('“ignoring Mexico')
    assert not well_formed("(the USMCA")
    assert well_formed("C$9 billion")
