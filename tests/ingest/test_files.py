from pathlib import Path

import pytest

from app.ingest.files import load_corpus, read_document
from tests.conftest import CORPUS, ROOT, copy_corpus, minimal_docx, minimal_pdf


def test_shipped_corpus_loads_with_metadata() -> None:
    loaded = load_corpus(CORPUS, max_file_mb=20)
    assert loaded.problems == []
    docs = {d.id: d for d in loaded.documents}
    assert set(docs) >= {"carney-mexico-visit.md", "southeast-gateway-pipeline.md", "people-in-the-news.html"}
    pipeline = docs["southeast-gateway-pipeline.md"]
    assert pipeline.title.startswith("Southeast Gateway")
    assert pipeline.as_of == "2025-06-27"
    assert pipeline.sources
    assert pipeline.sources[0].startswith("https://")
    assert "**" not in pipeline.text  # emphasis markers are dropped, words kept
    assert len({d.content_hash for d in loaded.documents}) == len(loaded.documents)


def test_article_text_is_untouched() -> None:
    article = read_document(CORPUS / "carney-mexico-visit.md", "carney-mexico-visit.md", 20)
    original = ROOT.parent / "shared/corpus/carney-mexico-visit.txt"
    expected = original.read_text(encoding="utf-8") if original.exists() else None
    assert article.title == "Carney visits Mexico City to meet Sheinbaum"
    assert "bilateral trade hit C$56 billion" in article.text
    if expected is not None:
        assert article.text == expected.strip("\n")


def test_html_keeps_main_text_and_drops_site_chrome() -> None:
    page = read_document(CORPUS / "people-in-the-news.html", "people-in-the-news.html", 20)
    assert page.title.startswith("People in the news")
    assert "Born: 16 March 1965 in Fort Smith" in page.text
    assert "## Mark Carney — Prime Minister of Canada" in page.text  # headings survive as sections
    for chrome in ("Subscribe", "Newsletters", "About us", "The Continental Desk"):
        assert chrome not in page.text
    assert len(page.sources) > 10


def test_pdf_pages_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(minimal_pdf(["First page about tariffs.", "Second page about pipelines."]))
    doc = read_document(path, "report.pdf", 20)
    assert doc.page_at(doc.text.index("tariffs")) == 1
    assert doc.page_at(doc.text.index("pipelines")) == 2


def test_word_and_powerpoint_files_are_read_through_markitdown(tmp_path: Path) -> None:
    from pptx import Presentation  # python-pptx comes with markitdown[pptx]

    (tmp_path / "brief.docx").write_bytes(minimal_docx(["Harbour brief", "The crane fleet grew to 14 cranes."]))
    doc = read_document(tmp_path / "brief.docx", "brief.docx", 20)
    assert doc.title == "Harbour brief"
    assert "The crane fleet grew to 14 cranes." in doc.text

    deck = Presentation()
    for title, body in (("Fleet plan", "Cranes: 14 in 2025"), ("Budget", "C$3 million for dredging")):
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
        slide.placeholders[1].text = body
    deck.save(str(tmp_path / "plan.pptx"))
    doc = read_document(tmp_path / "plan.pptx", "plan.pptx", 20)
    assert "Slide number" not in doc.text
    assert doc.page_at(doc.text.index("Cranes: 14")) == 1
    assert doc.page_at(doc.text.index("C$3 million")) == 2  # each slide is a page, for citations


@pytest.mark.parametrize(
    ("name", "text", "title"),
    [
        ("harbour-notes.txt", "Harbour notes 2025\n\nThe port added cranes.", "Harbour notes 2025"),
        ("harbour_notes.txt", "The port added 14 cranes in 2025, the authority said.", "Harbour notes"),
    ],
)
def test_a_text_file_is_titled_by_its_first_line_or_its_name(tmp_path: Path, name: str, text: str, title: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_document(tmp_path / name, name, 20).title == title


def test_bad_files_are_reported_by_name_and_skipped(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "blank.md").write_text("---\ntitle: x\n---\n\n   \n")
    (corpus / "binary.txt").write_bytes(b"\x00\x01\x02PNG" * 100)
    (corpus / "latin1.txt").write_bytes("Montréal café".encode("latin-1"))
    (corpus / "scanned.pdf").write_bytes(minimal_pdf([""]))
    (corpus / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (corpus / "bad-front-matter.md").write_text("---\ntitle: [unclosed\n---\nbody\n")
    (corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (corpus / "sheet.xlsx").write_bytes(b"PK\x03\x04")
    with open(corpus / "huge.txt", "wb") as handle:  # 50 MB of real text
        handle.write(b"All work and no play makes a dull index.\n" * 1_220_000)
    loaded = load_corpus(corpus, max_file_mb=20)
    assert [d.id for d in loaded.documents] == ["carney-mexico-visit.md"]
    reasons = {p.path: p.reason for p in loaded.problems}
    assert reasons["empty.txt"] == "is empty"
    assert "has no text" in reasons["blank.md"]
    assert "binary" in reasons["binary.txt"]
    assert "not UTF-8" in reasons["latin1.txt"]
    assert "no text layer" in reasons["scanned.pdf"]
    assert "PDF" in reasons["broken.pdf"]
    assert "front matter" in reasons["bad-front-matter.md"]
    assert "cannot be read as a .docx file" in reasons["notes.docx"]
    assert "unsupported file type .xlsx" in reasons["sheet.xlsx"]
    assert "over the 20 MB limit" in reasons["huge.txt"]


def test_missing_corpus_folder_gives_no_documents(tmp_path: Path) -> None:
    loaded = load_corpus(tmp_path / "nowhere", 20)
    assert loaded.documents == []
    assert loaded.problems == []


@pytest.mark.parametrize("name", ["a.txt", "sub/b.md"])
def test_document_ids_are_relative_paths(tmp_path: Path, name: str) -> None:
    path = tmp_path / "corpus" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("Some text about trade.\n")
    assert [d.id for d in load_corpus(tmp_path / "corpus", 20).documents] == [name]
