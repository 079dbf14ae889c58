"""Document text as HTML that shows its Markdown structure, not its syntax, with one span highlighted.

The chat's passages (app.serve.render) and the whole-document page (app.serve.pages) both show
document text this way, so a document reads the same in both. Only line structure is read: "#"
headings, "-", "*" and "•" bullets, and **bold** within a line; everything else is text. The
syntax characters ("## ", "- ", "**") are left out, and every character shown is escaped: the
tags are ours, never a document's.

The text is cut into runs that keep their offsets into the document, with our tags between
them, so a highlighted span [start, end) marks exactly the characters it covers even when it
crosses a heading, a list item or a bold run: the <mark> is cut at each tag (on the document
page the first piece has id="hit"). A span that covers no shown character (empty, or only
syntax) becomes an empty <mark> at its place, still something to scroll to.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from itertools import pairwise
from typing import Literal

_HEADING = re.compile(r"[ \t]*(#{1,6})[ \t]+")
_BULLET = re.compile(r"([ \t]*)[-*•][ \t]+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
MAX_LIST_DEPTH = 3  # deeper indented bullets are shown at this depth


@dataclass(frozen=True)
class _Run:
    """Document text [start, end), shown escaped."""

    start: int
    end: int


@dataclass(frozen=True)
class _Tag:
    """Markup of ours, placed at document offset `at` (so anchors can be put before or after it)."""

    at: int
    html: str
    anchors_before: bool = True  # False where an anchor would be misplaced (between a list's items)


_Token = _Run | _Tag


@dataclass(frozen=True)
class _Line:
    start: int
    body: int  # where the shown text begins: after a heading's "#"s or a bullet's "-"
    end: int  # before the "\n"
    kind: Literal["heading", "bullet", "text"]
    level: int  # a heading's level (1–6), a bullet's depth (0 = not indented)


def passage_html(text: str, lo: int, hi: int, start: int, end: int) -> str:
    """`text[lo:hi]` as one inline flow for a chat message: headings in bold, bullets as "•", line
    breaks as <br> (blank lines shrink to one), [start, end) in <mark>. No raw newline is
    written, so the result can sit inside a Markdown HTML block."""
    tokens: list[_Token] = []
    for line in _lines(text, lo, hi):
        runs = _inline(text, line, lo, hi)
        if not _shows_text(text, runs):
            continue
        if tokens:
            tokens.append(_Tag(line.start, "<br>"))
        if line.kind == "heading":
            tokens += [_Tag(line.start, '<strong class="ad-h">'), *runs, _Tag(line.end, "</strong>")]
        elif line.kind == "bullet" and lo <= line.body:
            tokens += [_Tag(line.start, "• "), *runs]
        else:
            tokens += runs
    return _emit(text, tokens, start, end, hit_id=False, anchors={})


def document_html(text: str, start: int | None, end: int | None, anchors: Mapping[int, str]) -> str:
    """The whole `text` as blocks for a page: headings as <h2>–<h6> (the page's <h1> is the title),
    runs of bullets as lists, other lines as paragraphs (a line break kept as <br>), [start, end) in
    <mark> with id="hit" on its first piece. `anchors` maps offsets to markup put there (page breaks)."""
    tokens: list[_Token] = []
    block = ""  # the open block element: "p", "ul" or ""
    last_end = 0
    for line in _lines(text, 0, len(text)):
        runs = _inline(text, line, 0, len(text))
        shown = _shows_text(text, runs)
        wanted = "" if not shown or line.kind == "heading" else "ul" if line.kind == "bullet" else "p"
        if block and block != wanted:
            tokens.append(_Tag(last_end, f"</{block}>"))
            block = ""
        if not shown:
            continue
        if wanted and not block:
            tokens.append(_Tag(line.start, f"<{wanted}>"))
            block = wanted
        elif block == "p":
            tokens.append(_Tag(line.start, "<br>"))
        if line.kind == "heading":
            level = min(line.level + 1, 6)
            tokens += [_Tag(line.start, f"<h{level}>"), *runs, _Tag(line.end, f"</h{level}>")]
        elif line.kind == "bullet":
            item = _Tag(line.start, f'<li class="d{line.level}">', anchors_before=False)
            tokens += [item, *runs, _Tag(line.end, "</li>")]
        else:
            tokens += runs
        last_end = line.end
    if block:
        tokens.append(_Tag(last_end, f"</{block}>"))
    span = (start, end) if start is not None and end is not None else (-1, -1)
    return _emit(text, tokens, *span, hit_id=True, anchors=anchors)


def _lines(text: str, lo: int, hi: int) -> Iterator[_Line]:
    """The lines of `text` that overlap [lo, hi), read whole (a heading stays a heading when the
    window starts inside it)."""
    start = text.rfind("\n", 0, lo) + 1
    while start < hi:
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        heading, bullet = _HEADING.match(text, start, end), _BULLET.match(text, start, end)
        if heading:
            yield _Line(start, heading.end(), end, "heading", len(heading.group(1)))
        elif bullet:
            depth = min(len(bullet.group(1).expandtabs(4)) // 2, MAX_LIST_DEPTH)
            yield _Line(start, bullet.end(), end, "bullet", depth)
        else:
            yield _Line(start, start, end, "text", 0)
        if end >= len(text):
            return
        start = end + 1


def _inline(text: str, line: _Line, lo: int, hi: int) -> list[_Token]:
    """The part of a line's body inside [lo, hi): text runs, with **bold** as <strong> (its "**" left out)."""
    tokens: list[_Token] = []
    at = line.body
    for bold in _BOLD.finditer(text, line.body, line.end):
        tokens += _clipped(at, bold.start(), lo, hi)
        inner = _clipped(bold.start(1), bold.end(1), lo, hi)
        if inner:
            tokens += [_Tag(bold.start(), "<strong>"), *inner, _Tag(bold.end(), "</strong>")]
        at = bold.end()
    tokens += _clipped(at, line.end, lo, hi)
    return tokens


def _clipped(start: int, end: int, lo: int, hi: int) -> list[_Token]:
    start, end = max(start, lo), min(end, hi)
    return [_Run(start, end)] if start < end else []


def _shows_text(text: str, tokens: list[_Token]) -> bool:
    return any(isinstance(t, _Run) and text[t.start : t.end].strip() for t in tokens)


def _emit(text: str, tokens: list[_Token], start: int, end: int, hit_id: bool, anchors: Mapping[int, str]) -> str:
    """The HTML of `tokens`: runs escaped, the parts of runs inside [start, end) in <mark>, and each
    anchor put before the first token at or after its offset that allows one (a run is cut there)."""
    runs = [t for t in tokens if isinstance(t, _Run)]
    marked = any(max(r.start, start) < min(r.end, end) for r in runs)
    pending = dict(anchors)
    if start >= 0 and not marked:  # nothing shown to mark: an empty mark to scroll to
        empty = '<mark id="hit"></mark>' if hit_id else "<mark></mark>"
        pending[start] = pending.get(start, "") + empty
    places = sorted(pending)
    out: list[str] = []
    first_mark = True

    def flush(before: int) -> None:
        while places and places[0] <= before:
            out.append(pending[places.pop(0)])

    for token in tokens:
        if isinstance(token, _Tag):
            if token.anchors_before:
                flush(token.at)
            out.append(token.html)
            continue
        inside = (p for p in (*places, start, end) if token.start < p < token.end)
        for lo, hi in pairwise(sorted({token.start, token.end, *inside})):
            flush(lo)
            piece = html.escape(text[lo:hi])
            if start <= lo and hi <= end:
                opening = '<mark id="hit">' if hit_id and first_mark else "<mark>"
                out.append(f"{opening}{piece}</mark>")
                first_mark = False
            else:
                out.append(piece)
    flush(len(text))
    return "".join(out)
