"""Sentence spans: what quotes and citations point at."""

from app.ingest.sentences import sentences_overlapping, split_sentences


def test_sentence_spans_slice_back_and_skip_bullets() -> None:
    text = (
        "# Heading\n\n- Born: 16 March 1965. He grew up in Edmonton.\n"
        "The U.S. Senate voted. “You can’t gang up on the United States.” Then more."
    )
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == [
        "Heading",
        "Born: 16 March 1965.",
        "He grew up in Edmonton.",
        "The U.S. Senate voted.",
        "“You can’t gang up on the United States.”",
        "Then more.",
    ]
    assert sentences[0].is_heading
    assert not sentences[1].is_heading
    assert all(text[s.start : s.end] == s.text for s in sentences)
    middle = text.index("grew")
    assert [s.text for s in sentences_overlapping(text, middle, middle + 3)] == ["He grew up in Edmonton."]


def test_plain_text_titles_are_headings_and_list_items_are_not() -> None:
    text = "The Trump Factor\nCarney met Sheinbaum in Mexico City.\n- Born: 16 March 1965\nA Question of Perception"
    kinds = [(s.text, s.is_heading) for s in split_sentences(text)]
    assert kinds == [
        ("The Trump Factor", True),
        ("Carney met Sheinbaum in Mexico City.", False),
        ("Born: 16 March 1965", False),
        ("A Question of Perception", True),
    ]
