"""Documents and chunks stored as columns, so that loading an index is reading, not parsing.

    texts.utf8       every document's text, UTF-8, one after another
    documents.json   one list per Document field (ids, titles, …), and where each text starts in texts.utf8
    chunks.npy       int64 (chunks, 8): document row, number, start, end (characters), where the text
                     starts and ends in texts.utf8 (bytes), heading path, page (0: none)
    headings.json    the distinct heading paths; chunks point at them by position

A chunk is a span of its document (`text == document.text[start:end]`, with the document's title,
date and sources), so its text is stored once, in its document's. The two large files are opened
with numpy's memmap: a million chunks load in milliseconds, pages are read when a chunk is, and
processes serving the same build share them. `ChunkTable` and `DocumentTable` make the frozen
`Chunk` and `Document` of a row when it is asked for.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np

from app.types import Chunk, Document

TEXTS = "texts.utf8"
DOCUMENTS = "documents.json"
CHUNKS = "chunks.npy"
HEADINGS = "headings.json"
FILES = (TEXTS, DOCUMENTS, CHUNKS, HEADINGS)
COLUMNS = ("document", "number", "start", "end", "text_start", "text_end", "headings", "page")
_DOC, _NUMBER, _START, _END, _TEXT_START, _TEXT_END, _HEADINGS, _PAGE = range(len(COLUMNS))
ITERATION_BLOCK = 4096  # rows read from the chunk table at once while iterating


def write_tables(folder: Path, documents: Sequence[Document], chunks: Sequence[Chunk]) -> None:
    """Write the four files; a chunk that is not a span of its document (or disagrees with it) is refused."""
    row_of = {d.id: row for row, d in enumerate(documents)}
    if len(row_of) != len(documents):
        raise ValueError("document ids must be unique")
    text_offsets = [0]
    byte_positions: list[np.ndarray | None] = []
    with open(folder / TEXTS, "wb") as texts:
        for document in documents:
            encoded = document.text.encode("utf-8")
            texts.write(encoded)
            text_offsets.append(text_offsets[-1] + len(encoded))
            byte_positions.append(None if document.text.isascii() else _byte_positions(document.text))
    heading_ids: dict[tuple[str, ...], int] = {}
    rows = np.zeros((len(chunks), len(COLUMNS)), dtype=np.int64)
    for i, chunk in enumerate(chunks):
        row = row_of.get(chunk.doc_id)
        if row is None:
            raise ValueError(f"chunk {chunk.id} belongs to no document")
        document = documents[row]
        if (
            chunk.text != document.text[chunk.start : chunk.end]
            or chunk.id != f"{chunk.doc_id}#{chunk.number}"
            or (chunk.title, chunk.as_of, chunk.sources) != (document.title, document.as_of, document.sources)
        ):
            raise ValueError(f"chunk {chunk.id} is not a span of its document with the document's title and dates")
        positions = byte_positions[row]
        start, end = (chunk.start, chunk.end) if positions is None else (positions[chunk.start], positions[chunk.end])
        base = text_offsets[row]
        headings = heading_ids.setdefault(chunk.headings, len(heading_ids))
        rows[i] = (row, chunk.number, chunk.start, chunk.end, base + start, base + end, headings, chunk.page or 0)
    np.save(folder / CHUNKS, rows, allow_pickle=False)
    table = {
        "ids": [d.id for d in documents],
        "titles": [d.title for d in documents],
        "kinds": [d.kind for d in documents],
        "as_of": [d.as_of for d in documents],
        "sources": [list(d.sources) for d in documents],
        "page_starts": [list(d.page_starts) for d in documents],
        "content_hashes": [d.content_hash for d in documents],
        "text_offsets": text_offsets,
    }
    (folder / DOCUMENTS).write_text(json.dumps(table, ensure_ascii=False), encoding="utf-8")
    (folder / HEADINGS).write_text(json.dumps([list(h) for h in heading_ids], ensure_ascii=False), encoding="utf-8")


def read_tables(folder: Path) -> tuple[DocumentTable, ChunkTable]:
    """Open a build's documents and chunks (raises OSError, ValueError, KeyError or TypeError when malformed)."""
    texts = _memmap_bytes(folder / TEXTS)
    documents = DocumentTable(json.loads((folder / DOCUMENTS).read_text(encoding="utf-8")), texts)
    headings = [tuple(h) for h in json.loads((folder / HEADINGS).read_text(encoding="utf-8"))]
    rows = np.load(folder / CHUNKS, mmap_mode="r", allow_pickle=False)
    if rows.ndim != 2 or rows.shape[1] != len(COLUMNS) or rows.dtype != np.int64:
        raise ValueError(f"{CHUNKS} has shape {rows.shape} and type {rows.dtype}, not (chunks, {len(COLUMNS)}) int64")
    return documents, ChunkTable(rows, documents, headings)


class DocumentTable(Mapping[str, Document]):
    """Document id → Document, read-only; each Document (with its text) is made when it is looked up."""

    def __init__(self, table: dict[str, Any], texts: np.ndarray) -> None:
        self._ids: list[str] = table["ids"]
        self._titles: list[str] = table["titles"]
        self._kinds: list[str] = table["kinds"]
        self._as_of: list[str] = table["as_of"]
        self._sources = [tuple(s) for s in table["sources"]]
        self._page_starts = [tuple(p) for p in table["page_starts"]]
        self._content_hashes: list[str] = table["content_hashes"]
        self._text_offsets: list[int] = table["text_offsets"]
        self._texts = texts.data  # a memoryview, decoded from in place: `str(view[a:b], "utf-8")` copies nothing first
        self._row_of = {doc_id: row for row, doc_id in enumerate(self._ids)}
        columns = (self._titles, self._kinds, self._as_of, self._sources, self._page_starts, self._content_hashes)
        if any(len(column) != len(self._ids) for column in columns) or len(self._text_offsets) != len(self._ids) + 1:
            raise ValueError(f"{DOCUMENTS} has columns of different lengths")
        if self._text_offsets[-1] != len(texts):
            raise ValueError(f"{DOCUMENTS} and {TEXTS} disagree on the texts' length")

    def __getitem__(self, doc_id: str) -> Document:
        return self.at(self._row_of[doc_id])

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._row_of

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    def at(self, row: int) -> Document:
        first, last = self._text_offsets[row], self._text_offsets[row + 1]
        return Document(
            id=self._ids[row],
            title=self._titles[row],
            text=str(self._texts[first:last], "utf-8"),
            kind=self._kinds[row],
            as_of=self._as_of[row],
            sources=self._sources[row],
            page_starts=self._page_starts[row],
            content_hash=self._content_hashes[row],
        )

    def chunk(self, row: Sequence[int], headings: tuple[str, ...]) -> Chunk:
        """The Chunk of one row of the chunk table (its text read from this table's texts)."""
        doc = row[_DOC]
        doc_id = self._ids[doc]
        return Chunk(
            id=f"{doc_id}#{row[_NUMBER]}",
            doc_id=doc_id,
            number=row[_NUMBER],
            start=row[_START],
            end=row[_END],
            text=str(self._texts[row[_TEXT_START] : row[_TEXT_END]], "utf-8"),
            title=self._titles[doc],
            headings=headings,
            page=row[_PAGE] or None,
            as_of=self._as_of[doc],
            sources=self._sources[doc],
        )


class ChunkTable(Sequence[Chunk]):
    """The chunks of a build, row i ↔ vector i, read-only; the Chunk of a row is made when it is read."""

    def __init__(self, rows: np.ndarray, documents: DocumentTable, headings: list[tuple[str, ...]]) -> None:
        self._rows = rows
        self._documents = documents
        self._headings = headings

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, i: int) -> Chunk: ...

    @overload
    def __getitem__(self, i: slice) -> list[Chunk]: ...

    def __getitem__(self, i: int | slice) -> Chunk | list[Chunk]:
        if isinstance(i, slice):
            return [self._chunk(row) for row in self._rows[i].tolist()]
        return self._chunk(self._rows[i].tolist())

    def __iter__(self) -> Iterator[Chunk]:
        for first in range(0, len(self._rows), ITERATION_BLOCK):
            yield from self[first : first + ITERATION_BLOCK]

    def per_document(self) -> Counter[str]:
        """How many chunks each document has (counted from the table's column, no Chunk made)."""
        counts = np.bincount(self._rows[:, _DOC], minlength=len(self._documents))
        return Counter({doc_id: int(n) for doc_id, n in zip(self._documents, counts.tolist(), strict=True) if n})

    def _chunk(self, row: list[int]) -> Chunk:
        return self._documents.chunk(row, self._headings[row[_HEADINGS]])


def _byte_positions(text: str) -> np.ndarray:
    """Where each character of `text` starts in its UTF-8 encoding, and its length at the end."""
    code_points = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    widths = 1 + (code_points >= 0x80) + (code_points >= 0x800) + (code_points >= 0x10000)
    return np.concatenate(([0], np.cumsum(widths))).astype(np.int64)


def _memmap_bytes(path: Path) -> np.ndarray:
    """The file's bytes, memory-mapped (numpy cannot map an empty file: that one is read)."""
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=np.uint8)
    return np.memmap(path, dtype=np.uint8, mode="r")
