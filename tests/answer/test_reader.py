"""The reader answerer through the public API: the committed model, a real index of the shipped corpus."""

import shutil
from pathlib import Path

import pytest

from app.answer.reader import MODEL_DIR, MODEL_FILE, Reader, Span, context_prefix
from app.answer.reader_answer import Window, place, reading_window
from app.assistant import Assistant
from app.errors import ModelError
from app.ingest.sentences import split_sentences
from app.types import Passage, Turn


def test_spans_slice_back_to_their_passage() -> None:
    passages = [
        "Trade figures highlight the imbalance: in 2024, bilateral trade hit C$56 billion.",
        "The pipeline runs 715 km under the Gulf of Mexico from Tuxpan to Coatzacoalcos.",
    ]
    spans = Reader().read("How long is the pipeline?", passages)
    assert spans, "the reader proposes spans"
    assert spans == sorted(spans, key=lambda s: -s.score)
    for span in spans:
        assert passages[span.passage][span.start : span.end] == span.text
    assert "715 km" in spans[0].text


def test_answer_leads_with_the_span_and_quotes_its_whole_sentence(full_assistant: Assistant) -> None:
    answer = full_assistant.ask("How much was bilateral trade between Canada and Mexico in 2024?")
    assert not answer.abstained
    assert answer.answerer == "reader"
    assert "56 billion" in answer.short_answer
    assert answer.text.startswith(answer.short_answer)
    first = answer.citations[0]
    document = full_assistant.document(first.doc_id)
    assert document.text[first.start : first.end] == first.quote
    assert answer.short_answer in first.quote
    sentence_starts = {s.start for s in split_sentences(document.text)}
    sentence_ends = {s.end for s in split_sentences(document.text)}
    assert first.start in sentence_starts, "the quote is whole sentences, not a fragment"
    assert first.end in sentence_ends
    assert 0.0 < answer.confidence <= 1.0


def test_a_question_far_from_the_documents_is_not_answered(full_assistant: Assistant) -> None:
    answer = full_assistant.ask("Who won the 2024 Stanley Cup?")
    assert answer.abstained
    assert answer.citations == ()
    assert any(note.startswith("not answered:") for note in answer.notes)


def test_a_name_is_answered_when_the_vectors_place_it_far(full_assistant: Assistant) -> None:
    # no retrieved passage reaches the similarity floor, but his biography holds every word of the question
    answer = full_assistant.ask("Who is Graeme Clark?")
    assert not answer.abstained, answer.notes
    assert "Clark" in " ".join(c.quote for c in answer.citations)
    assert "MacKay" not in answer.short_answer, "who he is, not who followed him"
    # a question whose words are not all in one passage is still refused by the floor
    far = full_assistant.ask("Who is Graeme Clark's favourite hockey player?")
    assert far.abstained


def test_a_near_miss_is_not_answered(full_assistant: Assistant) -> None:
    # The documents discuss Mexico City at length, but never give its population.
    answer = full_assistant.ask("What is the population of Mexico City?")
    assert answer.abstained, answer.text


def test_follow_up_reads_the_earlier_answer(full_assistant: Assistant) -> None:
    first = full_assistant.ask("Which former Canadian ambassador said that ignoring Mexico is a recurring flaw?")
    assert "Clark" in first.short_answer
    follow_up = full_assistant.ask("Who replaced him?", history=[Turn(first.question, first.short_answer)])
    assert "Clark" in follow_up.query, "the earlier answer reaches the searched query"
    assert not follow_up.abstained
    assert "MacKay" in follow_up.text


def test_a_heading_is_never_the_answer(full_assistant: Assistant) -> None:
    chunk = next(c for c in full_assistant.index.chunks if c.text.lstrip().startswith("## "))
    window = reading_window(Passage(chunk, 1, 1.0), full_assistant.document(chunk.doc_id).text)
    heading = next(s for s in window.sentences if s.is_heading)
    body = next(s for s in window.sentences if not s.is_heading)

    def span_over(start: int, end: int) -> Span:
        return Span(0, start - window.start, end - window.start, "", 5.0)

    assert place(window, span_over(heading.start, heading.end)) is None
    placed = place(window, span_over(body.start, body.end))
    assert placed is not None
    assert (placed.quote_start, placed.quote_end) == (body.start, body.end)
    assert isinstance(window, Window)


def test_a_damaged_model_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "reader"
    shutil.copytree(MODEL_DIR, copy)
    Reader(copy).read("Is it intact?", ["It is intact."])  # the copy loads
    data = bytearray((copy / MODEL_FILE).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (copy / MODEL_FILE).write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum mismatch"):
        Reader(copy).read("Is it intact?", ["It is intact."])
    (copy / "checksums.json").unlink()
    with pytest.raises(ModelError, match=r"checksums\.json"):
        Reader(copy).read("Is it intact?", ["It is intact."])


def test_the_context_prefix_reaches_the_reader_and_never_becomes_the_answer() -> None:
    # Two profiles' "Born:" lines name no one; only their headings say whose they are.
    lines = ["Born: 16 March 1965 in Fort Smith, Northwest Territories.", "Born: 24 June 1962 in Mexico City."]
    prefixes = [
        context_prefix("People in the news", ["Mark Carney — Prime Minister of Canada"]),
        context_prefix("People in the news", ["Claudia Sheinbaum — President of Mexico"]),
    ]
    assert prefixes[0] == "People in the news › Mark Carney — Prime Minister of Canada: "
    reader = Reader()
    with_prefix = reader.read("When was Claudia Sheinbaum born?", lines, prefixes=prefixes)
    without = reader.read("When was Claudia Sheinbaum born?", lines)
    assert with_prefix
    assert [(s.passage, s.start, round(s.score, 3)) for s in with_prefix] != [
        (s.passage, s.start, round(s.score, 3)) for s in without
    ], "the prefix is read"
    for span in with_prefix:
        assert span.start >= 0, "no span falls in the prefix"
        assert lines[span.passage][span.start : span.end] == span.text, "offsets are the passage's"


def test_field_lines_are_read_with_their_heading(full_assistant: Assistant) -> None:
    chunk = next(c for c in full_assistant.index.chunks if "Successor:" in c.text)
    window = reading_window(Passage(chunk, 1, 1.0), full_assistant.document(chunk.doc_id).text)
    assert "Graeme C. Clark" in window.prefix
    assert window.prefix.endswith(": ")
    answer = full_assistant.ask("Who replaced Graeme Clark as ambassador to Mexico?")
    assert answer.abstained or "MacKay" in answer.short_answer, answer.short_answer
    assert "Former Canadian" not in answer.short_answer, "a nationality is not a who"
