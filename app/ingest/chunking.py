"""Documents → Chunks: overlapping, sentence-aware pieces with exact character spans.

langchain's RecursiveCharacterTextSplitter cuts at the largest boundary that
fits (paragraph, line, sentence, clause, word). It returns strings, not
offsets, so each piece is found again in the document text, searching forward
from the previous piece's start: pieces come in order, and the overlap means
the next one can start before the previous one ends.
"""

from __future__ import annotations

import re

from app.ingest.files import heading_offsets
from app.types import Chunk, Document

# Sentence ends stay with their sentence (keep_separator="end").
HEADING_LINE = re.compile(r"^#{1,6}[ \t]")
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


def chunk_document(document: Document, size: int, overlap: int) -> list[Chunk]:
    """Split one document into chunks of at most `size` characters, overlapping by about `overlap`."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=size,
        chunk_overlap=overlap,
        separators=SEPARATORS,
        keep_separator="end",
        strip_whitespace=True,
    )
    headings = heading_offsets(document.text)
    chunks: list[Chunk] = []
    search_from = 0
    for piece in splitter.split_text(document.text):
        start = document.text.find(piece, search_from)
        if start < 0:  # the splitter changed the text: a bug, not bad input
            raise AssertionError(f"chunk not found in {document.id}: {piece[:60]!r}")
        search_from = start + 1
        if _only_headings(piece):  # its heading reaches the next chunk through `headings`
            continue
        end = start + len(piece)
        chunks.append(
            Chunk(
                id=f"{document.id}#{len(chunks)}",
                doc_id=document.id,
                number=len(chunks),
                start=start,
                end=end,
                text=piece,
                title=document.title,
                headings=_heading_path(headings, start, document.title),
                page=document.page_at(start),
                as_of=document.as_of,
                sources=document.sources,
            )
        )
    return chunks


def chunk_documents(documents: list[Document], size: int, overlap: int) -> list[Chunk]:
    return [chunk for document in documents for chunk in chunk_document(document, size, overlap)]


def _only_headings(piece: str) -> bool:
    return all(HEADING_LINE.match(line) for line in piece.splitlines() if line.strip())


def _heading_path(headings: list[tuple[int, int, str]], offset: int, title: str) -> tuple[str, ...]:
    """The section path at `offset`: the last heading of each level above it, outermost first."""
    path: dict[int, str] = {}
    for start, level, text in headings:
        if start > offset:
            break
        path = {lvl: t for lvl, t in path.items() if lvl < level}
        path[level] = text
    return tuple(text for _, text in sorted(path.items()) if text != title)
