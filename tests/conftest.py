"""Shared fixtures: a small real corpus, the real embedding model, a real index.

The model loads once per test session (about 5 s); indexes are built into
temporary folders, never into the project's own index/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.assistant import Assistant
from app.index.build import build_index
from app.index.embedding import Embedder
from app.settings import Settings, load_settings

pytest_plugins = ["tests.llm_server"]  # the scripted OpenAI-compatible server fixture

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "corpus"
SMALL_CORPUS = ["carney-mexico-visit.md", "southeast-gateway-pipeline.md", "people-in-the-news.html"]


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's askdocs.toml or ASKDOCS_* variables."""
    import os

    for key in list(os.environ):
        if key.startswith("ASKDOCS_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder.from_settings(Settings())


def make_settings(root: Path, **changes: object) -> Settings:
    return load_settings(env={}).replace(corpus_dir=root / "corpus", index_dir=root / "index", **changes)


def copy_corpus(target: Path, names: list[str] | None = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in names or sorted(p.name for p in CORPUS.iterdir() if p.is_file()):
        shutil.copy(CORPUS / name, target / name)
    return target


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page (empty string → a page with no text)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text in pages:
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {len(objects)} 0 R "
            "/Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>".encode()
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def minimal_docx(paragraphs: list[str]) -> bytes:
    """A valid Word file with one plain paragraph per string (the three parts Word needs, nothing more)."""
    import io
    import zipfile
    from xml.sax.saxutils import escape

    package = "http://schemas.openxmlformats.org/package/2006"
    main = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    document_type = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{package}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/word/document.xml" ContentType="{document_type}"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{package}/relationships"><Relationship Id="rId1" '
        'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
        'Target="word/document.xml"/></Relationships>',
        "word/document.xml": f'<w:document xmlns:w="{main}"><w:body>'
        + "".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>" for p in paragraphs)
        + "</w:body></w:document>",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, xml in parts.items():
            archive.writestr(name, '<?xml version="1.0" encoding="UTF-8"?>' + xml)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def small_index(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """Three real documents (article, pipeline background, HTML people page) indexed for real."""
    root = tmp_path_factory.mktemp("small")
    copy_corpus(root / "corpus", SMALL_CORPUS)
    settings = make_settings(root)
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture
def own_index(tmp_path: Path, embedder: Embedder) -> Settings:
    """Three shipped documents indexed into this test's own folders: for tests that change the corpus or index."""
    copy_corpus(tmp_path / "corpus", SMALL_CORPUS)
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    return settings


@pytest.fixture(scope="session")
def full_assistant(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Assistant:
    """The whole shipped corpus, indexed with the shipped settings."""
    root = tmp_path_factory.mktemp("full")
    copy_corpus(root / "corpus")
    settings = make_settings(root)
    return Assistant.load(settings, build_if_missing=True, embedder=embedder)
