"""Property: whatever text a file holds, every chunk and every quotable sentence slices back to its text.

Citations are only as good as their spans: `document.text[start:end]` must be exactly the quoted
words. Hypothesis generates the texts: any unicode (including astral characters and combining
marks), CRLF and lone CR line ends, control characters other than NUL (refused as binary), and
lines far longer than a chunk.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import DocumentError
from app.ingest.chunking import chunk_documents
from app.ingest.files import read_document
from app.ingest.sentences import sentences_overlapping

CHUNK_SIZE, OVERLAP = 200, 30
characters = st.characters(exclude_categories=["Cs"], exclude_characters="\x00")  # no surrogates, no NUL
lines = st.one_of(
    st.text(characters, max_size=80),
    st.text(characters, min_size=500, max_size=3000),  # a line several chunks long
    st.sampled_from(["# A heading", "- a bullet point.", "Short sentence. Another one! A third?", ""]),
)
texts = st.lists(lines, min_size=1, max_size=30).flatmap(
    lambda parts: st.sampled_from(["\n", "\r\n", "\r"]).map(lambda end: end.join(parts))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts, suffix=st.sampled_from([".txt", ".md"]))
def test_chunks_and_sentences_slice_back_to_their_text(tmp_path: Path, text: str, suffix: str) -> None:
    path = tmp_path / f"doc{suffix}"
    path.write_bytes(text.encode("utf-8"))
    try:
        document = read_document(path, path.name, max_file_mb=20)
    except DocumentError:
        return  # empty or whitespace-only: refused with a reason, nothing to cite
    assert "\r" not in document.text
    for chunk in chunk_documents([document], CHUNK_SIZE, OVERLAP):
        assert document.text[chunk.start : chunk.end] == chunk.text
        for sentence in sentences_overlapping(document.text, chunk.start, chunk.end):
            assert document.text[sentence.start : sentence.end] == sentence.text
            assert sentence.text.strip() == sentence.text
            assert "\n" not in sentence.text  # a quote never crosses a line
