"""Sentence spans: the units an answer quotes and a citation points at.

A sentence never crosses a line break (list items, headings and paragraphs are
lines in our documents), and within a line it ends at . ! ? followed by a space
and an upper-case letter, digit or opening quote. Headings (never quoted as an
answer) are "#" lines and short unpunctuated title lines. Abbreviations such as "U.S."
or "Inc." followed by a capitalized word will split wrongly now and then; the
quote is still exact text, only shorter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_BOUNDARY = re.compile(r"(?<=[.!?…])([”\"’)]*)\s+(?=[A-Z0-9“\"‘(¿¡])")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s")
TITLE_MAX_WORDS = 12
_ABBREVIATIONS = (
    "U.S.",
    "U.K.",
    "Inc.",
    "Corp.",
    "Ltd.",
    "Mr.",
    "Mrs.",
    "Ms.",
    "Dr.",
    "St.",
    "No.",
    "vs.",
    "e.g.",
    "i.e.",
)


@dataclass(frozen=True)
class Sentence:
    start: int  # offsets into the text that was split
    end: int
    text: str
    is_heading: bool = False


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """Sentences of `text[start:end]`, with offsets into `text`. Bullets are left out of the span."""
    end = len(text) if end is None else end
    sentences: list[Sentence] = []
    line_start = start
    for line in text[start:end].split("\n"):
        line_end = line_start + len(line)
        if line.strip():
            heading = bool(_HEADING.match(line)) or _is_title(line)
            offset = line_start
            bullet = _BULLET.match(line) or _HEADING.match(line)
            if bullet:
                offset += bullet.end()
            cut = offset
            for match in _BOUNDARY.finditer(text, offset, line_end):
                sentence_end = match.end(1)  # closing quotes stay with their sentence
                if _ends_with_abbreviation(text[cut:sentence_end]):
                    continue
                sentences.append(_make(text, cut, sentence_end, heading))
                cut = match.end()
            sentences.append(_make(text, cut, line_end, heading))
        line_start = line_end + 1
    return [s for s in sentences if s.text]


def sentences_overlapping(text: str, start: int, end: int) -> list[Sentence]:
    """Whole sentences of `text` that overlap `[start, end)`, even when the span cuts them."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    return [s for s in split_sentences(text, line_start, line_end) if s.end > start and s.start < end]


def _is_title(line: str) -> bool:
    """A plain-text section title ("The Trump Factor"): a short line, not a list item, that no
    punctuation ends. The article came as plain text, so its titles carry no "#"."""
    stripped = line.strip()
    return (
        len(stripped.split()) <= TITLE_MAX_WORDS
        and not _BULLET.match(line)
        and not stripped.endswith((".", "!", "?", "…", ":", ";", "”", '"', "’", ")"))
    )


def _make(text: str, start: int, end: int, heading: bool) -> Sentence:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Sentence(start, end, text[start:end], heading)


def _ends_with_abbreviation(fragment: str) -> bool:
    return fragment.rstrip().endswith(_ABBREVIATIONS)
