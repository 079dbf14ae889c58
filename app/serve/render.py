"""HTML for the chat messages: a question, a streaming answer, the final answer with its sources.

The final answer is the text with its [n] markers (each a link that opens its quote in the
document), and under it each cited source (title, page, the quoted sentence highlighted inside
its passage, a link that opens the whole document at that span). A "not found" answer shows
the closest passages instead. A follow-up says what it was read as (the standalone question it
was rewritten to), or, when there was nothing to rewrite it from, which earlier questions it was
read with; and every final answer ends with what was searched and a "Copy answer" button.

Every message is HTML built here from escaped text, wrapped in one <div> with no blank
line, so Gradio's Markdown renderer passes it through untouched (a CommonMark HTML block)
and nothing in a question or a document is read as Markdown or HTML. Gradio's own
sanitizer stays on as a second fence.

It imports neither gradio nor fastapi: the HTML can be built and tested without loading the UI.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from urllib.parse import quote

from app.assistant import Assistant
from app.ingest.sentences import split_sentences
from app.search.query import read_as
from app.serve.text_html import passage_html
from app.types import Answer, Citation, Document, Passage

PASSAGE_CHARS = 520  # at most this much document text shown around a quote
SNIPPET_CHARS = 360  # closest passages of a "not found" answer are cut to this
FOLLOW_UP_CHARS = 120  # each earlier question named in the follow-up line is cut to this
_MARKER = re.compile(r"\[(\d+)\]")


def view_url(root_path: str, doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The document view page, with [start, end) highlighted and scrolled to."""
    url = f"{root_path.rstrip('/')}/api/documents/{quote(doc_id, safe='/')}/view"
    if start is not None and end is not None:
        url += f"?start={start}&end={end}#hit"
    return url


def _text(value: str) -> str:
    """Escaped text with line breaks as <br>: no raw newline, so no blank line ends the HTML block."""
    return _breaks(html.escape(value, quote=True))


def _breaks(escaped: str) -> str:
    return re.sub(r"\r\n?|\n", "<br>", escaped)


def _inline(value: str) -> str:
    """Escaped text on one line (titles, queries)."""
    return html.escape(" ".join(value.split()), quote=True)


def _clip(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + " …"


class Renderer:
    """Answers → the HTML of one chat message (all user and document text escaped)."""

    def __init__(self, assistant: Assistant, root_path: str) -> None:
        self.assistant = assistant
        self.root_path = root_path

    @property
    def documents(self) -> Mapping[str, Document]:
        return self.assistant.index.documents  # the build served now: it changes when a new one is loaded

    def question(self, question: str) -> str:
        return f'<div class="ad-q">{_text(question)}</div>'

    def pending(self, text: str) -> str:
        body = _answer_text(text) if text.strip() else '<span class="ad-muted">Searching the documents …</span>'
        return f'<div class="ad-msg ad-pending" aria-busy="true"><p class="ad-text">{body}</p></div>'

    def problem(self, message: str) -> str:
        return f'<div class="ad-msg ad-problem" role="alert"><p class="ad-text">{_text(message)}</p></div>'

    def answer(self, answer: Answer) -> str:
        parts = ['<div class="ad-msg">', _follow_up(answer)]
        if answer.abstained:
            parts.append(self._not_found(answer))
        else:
            links = {c.marker: self._marker_link(c) for c in answer.citations}
            parts.append(f'<p class="ad-text">{_answer_text(answer.text, answer.short_answer, links)}</p>')
            if answer.citations:
                items = "".join(self._citation(c) for c in answer.citations)
                parts.append(f'<div class="ad-sources-label">Sources</div><ol class="ad-sources">{items}</ol>')
        parts.extend(f'<p class="ad-note">{_text(note)}</p>' for note in answer.notes)
        parts.append(self._details(answer))
        parts.append("</div>")
        return "".join(parts)

    def _citation(self, c: Citation) -> str:
        doc = self.documents.get(c.doc_id)
        where = f" · p. {c.page}" if c.page else ""
        head = (
            f'<div class="ad-src-head"><span class="ad-cite">[{c.marker}]</span> '
            f'<span class="ad-src-title">{_inline(c.title)}</span><span class="ad-src-where">{where}</span></div>'
        )
        passage = self._passage(doc, c) if doc else f"<mark>{_text(c.quote)}</mark>"
        link = self._open_link(c.doc_id, c.title, c.start, c.end, "Open the document at this quote")
        return f'<li class="ad-src">{head}<blockquote class="ad-passage">{passage}</blockquote>{link}</li>'

    def _passage(self, doc: Document, c: Citation) -> str:
        """The document text around the quote (whole sentences, about PASSAGE_CHARS), the quote in <mark>."""
        text = doc.text
        budget = max(0, PASSAGE_CHARS - (c.end - c.start)) // 2
        lo, hi = max(0, c.start - budget), min(len(text), c.end + budget)
        if lo > 0:  # start at the first whole sentence in the window, if any (the first piece is cut)
            starts = [s.start for s in split_sentences(text, lo, c.start)[1:]]
            lo = starts[0] if starts else lo
        if hi < len(text):  # end with the last whole sentence in the window, if any (the last piece is cut)
            ends = [s.end for s in split_sentences(text, c.end, hi)[:-1]]
            hi = ends[-1] if ends else hi
        lead = "… " if lo > 0 and text[lo : c.start].strip() else ""
        tail = " …" if hi < len(text) and text[c.end : hi].strip() else ""
        return f"{lead}{passage_html(text, lo, hi, c.start, c.end)}{tail}"

    def _not_found(self, answer: Answer) -> str:
        closest = "".join(self._closest(p) for p in answer.passages[:3])
        intro = (
            '<div class="ad-notfound" role="status"><p class="ad-notfound-title">Not found in the documents</p>'
            f'<p class="ad-text">{_text(answer.text)}</p></div>'
        )
        if not closest:
            return intro
        return f'{intro}<div class="ad-sources-label">Closest passages</div><ol class="ad-sources">{closest}</ol>'

    def _closest(self, p: Passage) -> str:
        c = p.chunk
        where = f" · p. {c.page}" if c.page else ""
        head = (
            f'<div class="ad-src-head"><span class="ad-src-title">{_inline(c.title)}</span>'
            f'<span class="ad-src-where">{where}</span></div>'
        )
        # the passage's own structure (headings, bullets), cut at a word within SNIPPET_CHARS, nothing marked
        cut = len(c.text) if len(c.text) <= SNIPPET_CHARS else max(c.text.rfind(" ", 0, SNIPPET_CHARS), 1)
        snippet = passage_html(c.text, 0, cut, -1, -1) + (" …" if cut < len(c.text) else "")
        link = self._open_link(c.doc_id, c.title, c.start, c.end, "Open the document at this passage")
        return f'<li class="ad-src">{head}<blockquote class="ad-passage">{snippet}</blockquote>{link}</li>'

    def _open_link(self, doc_id: str, title: str, start: int, end: int, text: str) -> str:
        label = f"{text}: {' '.join(title.split())} (opens in a new tab)"
        return self._view_link("ad-open", doc_id, start, end, label, f"{html.escape(text)} ↗")

    def _marker_link(self, c: Citation) -> str:
        """The [n] in the answer text as a link to the quote in its document (what its source entry opens)."""
        label = f"Source {c.marker}: {' '.join(c.title.split())}, at the quote (opens in a new tab)"
        # Gradio's sanitizer drops aria-label, so the title (a tooltip, and the link's description) says it too.
        return self._view_link("ad-cite", c.doc_id, c.start, c.end, label, f"[{c.marker}]", tooltip=label)

    def _view_link(
        self, css_class: str, doc_id: str, start: int, end: int, label: str, shown: str, tooltip: str = ""
    ) -> str:
        """A link that opens the document view at [start, end) in a new tab; `shown` is HTML, the rest text."""
        href = html.escape(view_url(self.root_path, doc_id, start, end), quote=True)
        title = f' title="{html.escape(tooltip, quote=True)}"' if tooltip else ""
        return (
            f'<a class="{css_class}" href="{href}" target="_blank" rel="noopener noreferrer"{title} '
            f'aria-label="{html.escape(label, quote=True)}">{shown}</a>'
        )

    def _details(self, answer: Answer) -> str:
        total = answer.timings_ms.get("total")
        timing = f" · {total / 1000:.1f} s" if total is not None else ""
        # The copy button works through static/chat.js: Gradio's own per-message copy button would
        # copy this message's HTML source, not its text.
        return (
            f'<p class="ad-details">searched: <span class="ad-query">{_inline(answer.query)}</span>'
            f" · {_inline(answer.answerer)}{timing}"
            '<button type="button" class="ad-copy">Copy answer</button></p>'
        )


def _follow_up(answer: Answer) -> str:
    """The line saying how a follow-up was read ("" for a new topic): the standalone question it was rewritten
    to, else (nothing to rewrite it from) which earlier questions were carried into its search."""
    if not answer.follows_up:
        return ""
    rewrite = read_as(answer.question, answer.query)
    if rewrite:
        return f'<p class="ad-followup">Read as: “{_inline(rewrite)}”</p>'
    quoted = [f"“{_inline(_clip(' '.join(q.split()), FOLLOW_UP_CHARS))}”" for q in answer.follows_up]
    listed = quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"
    return f'<p class="ad-followup">Read as a follow-up to: {listed}</p>'


def _answer_text(text: str, short_answer: str = "", links: Mapping[int, str] | None = None) -> str:
    """Escaped answer text with each [n] marker as its link from `links`, or in a span when it has
    none (a streaming answer's markers, a marker no citation backs); the marker text stays "[n]".

    The short answer, when the text leads with it, is in bold: it is what was asked for.
    """
    if short_answer and text.startswith(short_answer):
        rest = _answer_text(text[len(short_answer) :], links=links)
        return f'<strong class="ad-short">{_text(short_answer)}</strong>{rest}'
    links = links or {}
    out, last = [], 0
    for m in _MARKER.finditer(text):
        out.append(_text(text[last : m.start()]))
        out.append(links.get(int(m.group(1))) or f'<span class="ad-cite">[{m.group(1)}]</span>')
        last = m.end()
    out.append(_text(text[last:]))
    return "".join(out)
