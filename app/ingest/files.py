"""Corpus → Documents: read .txt, .md, .html, .pdf, .docx and .pptx files into plain text with metadata.

A document's `text` is its readable text: Markdown keeps its headings and list
bullets but loses emphasis markers (`**bold**` → `bold`), HTML is reduced to its
main text by trafilatura (site header, menus and footer dropped), a PDF is its
pages' text joined with blank lines, Word and PowerPoint files are converted to
Markdown by markitdown (each slide a page). Every span in the system points into
this text, so quotes read cleanly and can be checked against what the user sees.

Bad files never stop a build: `load_corpus` returns them as `Problem`s with a reason.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.errors import DocumentError
from app.types import Document

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".pptx")
_SLIDE_MARK = re.compile(r"^<!-- Slide number: \d+ -->\n?", re.MULTILINE)  # markitdown's slide separator
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])\*(?=[^\s*])([^*\n]+?)(?<=\S)\*(?![\w*])")
_MD_HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
MAX_FRONT_MATTER_CHARS = 10_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Problem:
    """A corpus file that was skipped, and why."""

    path: str
    reason: str


@dataclass(frozen=True)
class CorpusLoad:
    documents: list[Document]
    problems: list[Problem]


def corpus_files(corpus_dir: Path) -> list[Path]:
    """Every non-hidden file below `corpus_dir`, sorted, whatever its type, that really is inside it.

    A symbolic link that leads out of the folder (`passwd.txt -> /etc/passwd`) is not a corpus file:
    it is never read, hashed or served (`load_corpus` reports it as skipped).
    """
    return visible_files(corpus_dir)[0]


def visible_files(corpus_dir: Path) -> tuple[list[Path], list[Path]]:
    """Every non-hidden file below `corpus_dir`, sorted: (those inside it, links that lead out of it)."""
    if not corpus_dir.is_dir():
        return [], []
    root = corpus_dir.resolve()
    visible = sorted(
        p
        for p in corpus_dir.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)
    )
    inside: list[Path] = []
    outside: list[Path] = []
    for path in visible:
        (inside if path.resolve().is_relative_to(root) else outside).append(path)
    return inside, outside


def load_corpus(corpus_dir: Path, max_file_mb: float) -> CorpusLoad:
    """Read every file below `corpus_dir`; unreadable ones become Problems, never exceptions.

    A file with the same content as one read before it is a Problem too: indexing it twice would
    make answers quote the same sentence twice.
    """
    inside, outside = visible_files(corpus_dir)
    return gather_corpus(corpus_dir, outside, [read_corpus_file(corpus_dir, p, max_file_mb) for p in inside])


def read_corpus_file(corpus_dir: Path, path: Path, max_file_mb: float) -> Document | Problem:
    """One corpus file as a Document, or the Problem that keeps it out of the index."""
    doc_id = _doc_id(corpus_dir, path)
    try:
        return read_document(path, doc_id, max_file_mb)
    except DocumentError as exc:
        return Problem(doc_id, str(exc))
    except OSError as exc:  # e.g. the file disappeared or is unreadable
        return Problem(doc_id, f"cannot be read: {exc.strerror or exc}")


def gather_corpus(corpus_dir: Path, outside: Sequence[Path], read: Sequence[Document | Problem]) -> CorpusLoad:
    """The files read (in `visible_files` order) as a CorpusLoad: the second of two equal files is a Problem."""
    problems = [Problem(_doc_id(corpus_dir, p), "links outside the corpus folder") for p in outside]
    documents: list[Document] = []
    first_with_hash: dict[str, str] = {}
    for result in read:
        if isinstance(result, Problem):
            problems.append(result)
            continue
        original = first_with_hash.setdefault(result.content_hash, result.id)
        if original != result.id:
            problems.append(Problem(result.id, f"has the same content as {original}, which is indexed"))
        else:
            documents.append(result)
    return CorpusLoad(documents, sorted(problems, key=lambda p: p.path))


def _doc_id(corpus_dir: Path, path: Path) -> str:
    return path.relative_to(corpus_dir).as_posix()


def read_document(path: Path, doc_id: str, max_file_mb: float) -> Document:
    """Read one file into a Document, or raise DocumentError saying why it can't be."""
    if _CONTROL.search(doc_id):
        raise DocumentError("has a control character (such as a line break) in its name; rename it")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentError(f"unsupported file type {suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    size = path.stat().st_size
    if size > max_file_mb * 1_000_000:
        raise DocumentError(f"is {size / 1e6:.1f} MB, over the {max_file_mb:g} MB limit (setting max_file_mb)")
    data = path.read_bytes()
    if not data.strip():
        raise DocumentError("is empty")
    content_hash = hashlib.sha256(data).hexdigest()
    if suffix == ".pdf":
        fields = _read_pdf(data)
    elif suffix in (".docx", ".pptx"):
        fields = _read_office(data, suffix)
    else:
        raw = _decode_text(data)
        if suffix in (".html", ".htm"):
            fields = _read_html(raw)
        elif suffix in (".md", ".markdown"):
            fields = _read_markdown(raw)
        else:
            fields = {"text": raw.strip("\n"), "title": _title_from_first_line(raw)}
    text = fields.pop("text")
    if not text.strip():
        raise DocumentError("has no text")
    title = fields.pop("title", "") or _title_from_text(text) or _title_from_name(path)
    return Document(id=doc_id, title=title, text=text, content_hash=content_hash, **fields)


def heading_offsets(text: str) -> list[tuple[int, int, str]]:
    """(offset, level, heading) for every Markdown-style heading line in `text`."""
    return [(m.start(), len(m.group(1)), m.group(2).strip()) for m in _MD_HEADING.finditer(text)]


def _decode_text(data: bytes) -> str:
    if b"\x00" in data:
        raise DocumentError("looks binary (NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"is not UTF-8 text (bad byte at offset {exc.start}); re-save it as UTF-8") from None
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _read_markdown(raw: str) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    body = raw
    match = _FRONT_MATTER.match(raw)
    if match:
        loaded = _front_matter(match.group(1))
        meta = loaded if isinstance(loaded, dict) else {}
        body = raw[match.end() :]
    body = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), body).strip("\n")
    return {"text": body, **_metadata_fields(meta)}


def _front_matter(source: str) -> Any:
    """YAML front matter, read safely and boundedly: no aliases (a few hundred bytes of nested aliases
    expand to gigabytes), no more than MAX_FRONT_MATTER_CHARS."""
    import yaml

    if len(source) > MAX_FRONT_MATTER_CHARS:
        raise DocumentError(f"front matter is over {MAX_FRONT_MATTER_CHARS:,} characters; metadata only, please")

    class NoAliasLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                raise DocumentError("front matter uses a YAML alias (*name); write the values out instead")
            return super().compose_node(parent, index)

    try:
        return yaml.load(source, Loader=NoAliasLoader)  # a SafeLoader, minus aliases
    except yaml.YAMLError as exc:
        raise DocumentError(f"front matter is not valid YAML: {str(exc).splitlines()[0]}") from None


def _metadata_fields(meta: dict[str, Any]) -> dict[str, Any]:
    def as_text(value: Any) -> str:
        return value.isoformat() if isinstance(value, dt.date) else str(value or "")

    sources = meta.get("sources") or ()
    if isinstance(sources, str):
        sources = sources.split()
    return {
        "title": as_text(meta.get("title")).strip(),
        "kind": as_text(meta.get("kind")),
        "as_of": as_text(meta.get("as_of") or meta.get("date")),
        "sources": tuple(str(s) for s in sources),
    }


def _read_html(raw: str) -> dict[str, Any]:
    import lxml.html
    import trafilatura

    try:
        tree = lxml.html.fromstring(raw)
    except (ValueError, lxml.etree.ParserError) as exc:
        raise DocumentError(f"cannot be parsed as HTML: {exc}") from None
    # include_formatting keeps headings as "#" lines, which become each chunk's section path.
    text = trafilatura.extract(raw, output_format="markdown", include_formatting=True, favor_recall=True)
    if not text:
        # a page trafilatura finds no article in (odd structure, a bare list): its visible text as it stands
        text = _visible_text(tree)
    if not text:
        raise DocumentError("has no visible text")
    meta = {
        "title": " ".join((tree.findtext(".//title") or "").split()),
        "sources": " ".join(_attribute_values(tree, '//meta[@name="sources"]/@content')),
        "date": " ".join(_attribute_values(tree, '//meta[@name="date"]/@content')),
    }
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), text).strip("\n")
    return {"text": text, **_metadata_fields(meta)}


def _visible_text(tree: Any) -> str:
    """The text a browser would show: scripts, styles and templates dropped, one line per block."""
    for hidden in tree.xpath("//script|//style|//template|//noscript|//head"):
        hidden.drop_tree()
    lines = (" ".join(line.split()) for line in tree.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _attribute_values(tree: Any, xpath: str) -> list[str]:
    """The string values an attribute XPath selects (lxml types its result as any XPath value)."""
    found = tree.xpath(xpath)
    return [str(value) for value in found] if isinstance(found, list) else []


def _read_pdf(data: bytes) -> dict[str, Any]:
    import pypdf
    from pypdf.errors import PdfReadError

    try:
        reader = pypdf.PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = str(reader.metadata.get("/Title") or "") if reader.metadata else ""
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DocumentError(f"cannot be read as a PDF: {exc}") from None
    if not any(p.strip() for p in pages):
        raise DocumentError("PDF has no text layer (scanned pages?); run OCR on it first")
    page_starts, parts, offset = [], [], 0
    for page_text in pages:
        page_text = page_text.strip("\n")
        page_starts.append(offset)
        parts.append(page_text)
        offset += len(page_text) + 2  # the "\n\n" that joins pages
    text = "\n\n".join(parts)
    return {"text": text, "title": title.strip() or _title_from_first_line(text), "page_starts": tuple(page_starts)}


def _read_office(data: bytes, suffix: str) -> dict[str, Any]:
    """A Word or PowerPoint file as Markdown (markitdown's converter for that type alone); slides become pages."""
    from markitdown import StreamInfo
    from markitdown.converters import DocxConverter, PptxConverter

    converter = DocxConverter() if suffix == ".docx" else PptxConverter()
    try:
        # that converter only: markitdown's own dispatch falls back to reading a broken file as plain text
        converted = converter.convert(io.BytesIO(data), StreamInfo(extension=suffix))
    except Exception as exc:  # each converter raises its parser's own errors (zipfile, lxml, KeyError, …)
        raise DocumentError(f"cannot be read as a {suffix} file: {str(exc).splitlines()[0][:200]}") from None
    markdown = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), converted.text_content or "")
    if suffix == ".docx":
        text = markdown.strip("\n")
        return {"text": text, "title": (converted.title or "").strip() or _title_from_first_line(text)}
    slides = [part.strip("\n") for part in _SLIDE_MARK.split(markdown) if part.strip()]
    page_starts, offset = [], 0
    for slide in slides:
        page_starts.append(offset)
        offset += len(slide) + 2  # the "\n\n" that joins slides
    return {"text": "\n\n".join(slides), "title": (converted.title or "").strip(), "page_starts": tuple(page_starts)}


def _title_from_first_line(raw: str) -> str:
    """A plain-text file's (or PDF's) first line, when it reads like a title: short, and not a sentence."""
    first = raw.strip().split("\n", 1)[0].strip()
    if 0 < len(first) <= 100 and len(first.split()) <= 12 and not first.endswith((".", ",", ";", ":")):
        return first
    return ""


def _title_from_name(path: Path) -> str:
    """"harbour_fleet-plan.txt" → "Harbour fleet plan"."""
    words = path.stem.replace("-", " ").replace("_", " ").split()
    name = " ".join(words)
    return name[:1].upper() + name[1:] if name else path.name


def _title_from_text(text: str) -> str:
    headings = heading_offsets(text)
    return headings[0][2] if headings and headings[0][1] == 1 else ""
