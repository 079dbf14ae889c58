import itertools

import pytest

from app.ingest.chunking import chunk_document
from app.ingest.files import load_corpus
from app.types import Document
from tests.conftest import CORPUS

DOCUMENTS = load_corpus(CORPUS, 20).documents


@pytest.mark.parametrize(("size", "overlap"), [(200, 0), (600, 100), (1200, 200)])
@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda d: d.id)
def test_every_chunk_span_slices_back_to_its_text(document: Document, size: int, overlap: int) -> None:
    chunks = chunk_document(document, size, overlap)
    assert chunks, "every document yields chunks"
    for number, chunk in enumerate(chunks):
        assert document.text[chunk.start : chunk.end] == chunk.text
        assert len(chunk.text) <= size
        assert chunk.number == number
        assert chunk.id == f"{document.id}#{number}"
        assert chunk.doc_id == document.id
        assert chunk.title == document.title
    starts = [c.start for c in chunks]
    assert starts == sorted(starts)


def test_chunks_cover_the_whole_text() -> None:
    document = next(d for d in DOCUMENTS if d.id == "carney-mexico-visit.md")
    chunks = chunk_document(document, 400, 50)
    covered: set[int] = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    words = [i for i, ch in enumerate(document.text) if not ch.isspace()]
    assert all(i in covered for i in words)


def test_sentences_are_not_cut_when_a_boundary_fits() -> None:
    document = next(d for d in DOCUMENTS if d.id == "carney-mexico-visit.md")
    for chunk in chunk_document(document, 600, 100):
        at_line_end = chunk.end == len(document.text) or document.text[chunk.end] == "\n"
        assert at_line_end or chunk.text[-1] in '.”"!?:;', chunk.text[-80:]


def test_markdown_sections_become_heading_paths() -> None:
    document = next(d for d in DOCUMENTS if d.id == "plan-mexico.md")
    chunks = chunk_document(document, 600, 100)
    targets = [c for c in chunks if "Targets for 2030" in c.headings]
    assert targets, [c.headings for c in chunks]
    assert all(not c.text.startswith("#") or "\n" in c.text for c in chunks)  # no heading-only chunks


def test_overlap_repeats_text_between_neighbours() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(60))
    document = Document(id="x.txt", title="x", text=text)
    chunks = chunk_document(document, 200, 60)
    assert any(a.end > b.start for a, b in itertools.pairwise(chunks))
