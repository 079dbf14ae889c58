"""The chat UI (Gradio 6): a full page at "/" and a chrome-less one at "/embed" for iframes.

Both stream the answer as `Assistant.ask_stream` produces it, then replace it with the
final answer: the text with its [n] markers, and under it each cited source (title, page,
the quoted sentence highlighted inside its passage, a link that opens the whole document
at that span). A "not found" answer shows the closest passages instead.

Every message is HTML built here from escaped text, wrapped in one <div> with no blank
line, so Gradio's Markdown renderer passes it through untouched (a CommonMark HTML block)
and nothing in a question or a document is read as Markdown or HTML. Gradio's own
sanitizer stays on as a second fence.

Nothing is fetched from the internet: analytics are off (the environment variable is set
before gradio is imported) and the theme uses system fonts only.
"""

from __future__ import annotations

import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by gradio at call time; set before it loads

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import gradio as gr
from fastapi import FastAPI

from app.assistant import Assistant
from app.errors import AskdocsError, QuestionError
from app.types import Answer, Chunk, Citation, Document, Passage

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = (
    "How much was bilateral trade between Canada and Mexico in 2024?",
    "What pipeline did TC Energy finish in Mexico?",
    "Why does Carney want closer ties with Mexico?",
)
MAX_K = 10  # the UI's slider; the JSON API allows up to 20
PASSAGE_CHARS = 520  # at most this much document text shown around a quote
SNIPPET_CHARS = 360  # closest passages of a "not found" answer are cut to this
_MARKER = re.compile(r"\[(\d+)\]")
_BOUNDARY = re.compile(r"[.!?…][”\"’)]*\s+|\n")  # where a sentence or a line ends

# The embed page sits in a small iframe: no outer padding, the input always in view.
EMBED_CSS = ".gradio-container .main.app{padding:6px 8px !important} .gradio-container{padding:0 !important}"


def theme() -> gr.themes.Base:
    """The default look with system fonts: no web font is requested."""
    return gr.themes.Default(
        primary_hue="blue",
        font=[gr.themes.Font("system-ui"), gr.themes.Font("Segoe UI"), gr.themes.Font("Roboto"), "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("Consolas"), "monospace"],
    )


def view_url(root_path: str, doc_id: str, start: int | None = None, end: int | None = None) -> str:
    """The document view page, with [start, end) highlighted and scrolled to."""
    url = f"{root_path.rstrip('/')}/api/documents/{quote(doc_id, safe='/')}/view"
    if start is not None and end is not None:
        url += f"?start={start}&end={end}#hit"
    return url


def _text(value: str) -> str:
    """Escaped text with line breaks as <br>: no raw newline, so no blank line ends the HTML block."""
    escaped = html.escape(value, quote=True)
    return re.sub(r"\r\n?|\n", "<br>", escaped)


def _flow(value: str) -> str:
    """Escaped passage text: blank lines shrink to one line break."""
    return _text(re.sub(r"\n[ \t]*(?:\n[ \t]*)+", "\n", value))


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
        self.documents = assistant.index.documents
        self.chunks: dict[str, Chunk] = {c.id: c for c in assistant.index.chunks}
        self.root_path = root_path

    def question(self, question: str) -> str:
        return f'<div class="ad-q">{_text(question)}</div>'

    def pending(self, text: str) -> str:
        body = _answer_text(text) if text.strip() else '<span class="ad-muted">Searching the documents …</span>'
        return f'<div class="ad-msg ad-pending" aria-busy="true"><p class="ad-text">{body}</p></div>'

    def problem(self, message: str) -> str:
        return f'<div class="ad-msg ad-problem" role="alert"><p class="ad-text">{_text(message)}</p></div>'

    def answer(self, answer: Answer) -> str:
        parts = ['<div class="ad-msg">']
        if answer.abstained:
            parts.append(self._not_found(answer))
        else:
            parts.append(f'<p class="ad-text">{_answer_text(answer.text)}</p>')
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
        if lo > 0:  # start after the first sentence or line end in the window, if any
            m = _BOUNDARY.search(text, lo, c.start)
            lo = m.end() if m else lo
        if hi < len(text):  # end at the last sentence or line end in the window, if any
            ends = [m.end() for m in _BOUNDARY.finditer(text, c.end, hi)]
            hi = ends[-1] if ends else hi
        before, quote_, after = text[lo : c.start], text[c.start : c.end], text[c.end : hi]
        lead = "… " if lo > 0 and before.strip() else ""
        tail = " …" if hi < len(text) and after.strip() else ""
        return f"{lead}{_flow(before.lstrip())}<mark>{_flow(quote_)}</mark>{_flow(after.rstrip())}{tail}"

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
        snippet = _text(_clip(" ".join(c.text.split()), SNIPPET_CHARS))
        link = self._open_link(c.doc_id, c.title, c.start, c.end, "Open the document at this passage")
        return f'<li class="ad-src">{head}<blockquote class="ad-passage">{snippet}</blockquote>{link}</li>'

    def _open_link(self, doc_id: str, title: str, start: int, end: int, text: str) -> str:
        href = html.escape(view_url(self.root_path, doc_id, start, end), quote=True)
        label = html.escape(f"{text}: {' '.join(title.split())} (opens in a new tab)", quote=True)
        return (
            f'<a class="ad-open" href="{href}" target="_blank" rel="noopener noreferrer" '
            f'aria-label="{label}">{html.escape(text)} ↗</a>'
        )

    def _details(self, answer: Answer) -> str:
        total = answer.timings_ms.get("total")
        timing = f" · {total / 1000:.1f} s" if total is not None else ""
        return (
            f'<p class="ad-details">searched: <span class="ad-query">{_inline(answer.query)}</span>'
            f" · {_inline(answer.answerer)}{timing}</p>"
        )


def _answer_text(text: str) -> str:
    """Escaped answer text with each [n] marker in a span (the marker text itself stays "[n]")."""
    out, last = [], 0
    for m in _MARKER.finditer(text):
        out.append(_text(text[last : m.start()]))
        out.append(f'<span class="ad-cite">[{m.group(1)}]</span>')
        last = m.end()
    out.append(_text(text[last:]))
    return "".join(out)


class Chat:
    """The chat function behind both pages (and the Gradio API endpoint "/ask")."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.render = Renderer(assistant, assistant.settings.root_path)
        self.answerers = ["extractive", "llm"] if assistant.settings.llm_configured else ["extractive"]

    def default_k(self) -> int:
        return max(1, min(MAX_K, self.assistant.settings.top_k))

    def default_answerer(self) -> str:
        wanted = self.assistant.settings.answerer
        return wanted if wanted in self.answerers else "extractive"

    def respond(
        self, question: Any, chat: list[Any] | None, k: Any, answerer: Any, asked: list[str] | None
    ) -> Iterator[tuple[list[Any], list[str], str]]:
        """Stream one answer: yields (messages, earlier questions, new textbox value)."""
        chat = list(chat or [])
        asked = [q for q in (asked or []) if isinstance(q, str)]
        try:
            question, _ = self.assistant.check_question(question, asked)
        except QuestionError as exc:
            raise gr.Error(str(exc)) from None
        k, answerer = self._check_options(k, answerer)
        chat.append({"role": "user", "content": self.render.question(question)})
        chat.append({"role": "assistant", "content": self.render.pending("")})
        yield chat, asked, ""
        text = ""
        try:
            for item in self.assistant.ask_stream(question, history=asked, answerer=answerer, k=k):
                if isinstance(item, Answer):
                    chat[-1] = {"role": "assistant", "content": self.render.answer(item)}
                    yield chat, [*asked, question], ""
                    return
                text += item
                chat[-1] = {"role": "assistant", "content": self.render.pending(text)}
                yield chat, asked, ""
        except AskdocsError as exc:
            chat[-1] = {"role": "assistant", "content": self.render.problem(f"Sorry, that failed: {exc}")}
            yield chat, asked, question
            return
        chat[-1] = {"role": "assistant", "content": self.render.problem("Sorry, no answer was produced.")}
        yield chat, asked, question

    def _check_options(self, k: Any, answerer: Any) -> tuple[int, str]:
        if k is None or k == "":
            k = self.default_k()
        try:
            k_int = int(k)
        except (TypeError, ValueError):
            raise gr.Error(f"k must be a whole number from 1 to {MAX_K}") from None
        if k_int != k or not 1 <= k_int <= MAX_K:
            raise gr.Error(f"k must be a whole number from 1 to {MAX_K}")
        answerer = answerer or self.default_answerer()
        if answerer not in self.answerers:
            raise gr.Error(
                f"answerer must be one of: {', '.join(self.answerers)}"
                + ("" if "llm" in self.answerers else " (no LLM is configured)")
            )
        return k_int, str(answerer)


def _header(assistant: Assistant) -> str:
    counts = assistant.index.manifest.counts
    return (
        '<div class="ad-header"><h1>Ask the documents</h1>'
        f"<p>{counts.get('documents', 0)} documents · every answer quotes its sources — "
        "check them with the links under it.</p></div>"
    )


def build_ui(assistant: Assistant) -> gr.Blocks:
    """The full chat page: conversation, examples, new chat, collapsed settings."""
    chat_fn = Chat(assistant)
    with gr.Blocks(title="askdocs — ask the documents", analytics_enabled=False) as demo:
        gr.HTML(_header(assistant), elem_id="ad-header")
        chatbot = _chatbot(height="min(62vh, 640px)", examples=True)
        question, send = _input_row(autofocus=True)
        with gr.Row(elem_classes="ad-toolbar"):
            new_chat = gr.Button("New chat", variant="secondary", size="sm", scale=0, min_width=110)
        with gr.Accordion("Settings", open=False, elem_id="ad-settings"):
            k = gr.Slider(
                1,
                MAX_K,
                value=chat_fn.default_k(),
                step=1,
                label="Passages to draw on (k)",
                info="How many retrieved passages the answer may quote from.",
            )
            answerer = gr.Radio(
                chat_fn.answerers,
                value=chat_fn.default_answerer(),
                label="Answerer",
                info=None
                if assistant.settings.llm_configured
                else "Extractive quotes sentences from the documents. No LLM is configured.",
                interactive=len(chat_fn.answerers) > 1,
            )
        asked = gr.State([])
        _wire(chat_fn, chatbot, question, send, new_chat, k, answerer, asked)
    return demo


def build_embed_ui(assistant: Assistant) -> gr.Blocks:
    """The chrome-less chat for iframes (the widget): conversation, input, new chat."""
    chat_fn = Chat(assistant)
    with gr.Blocks(title="askdocs", analytics_enabled=False, fill_width=True) as demo:
        # The chatbot's own "Clear" button (top right) starts a new chat; no other chrome.
        chatbot = _chatbot(height="calc(100vh - 78px)", examples=True, show_label=False)
        question, send = _input_row(autofocus=False)
        k = gr.State(chat_fn.default_k())
        answerer = gr.State(chat_fn.default_answerer())
        asked = gr.State([])
        _wire(chat_fn, chatbot, question, send, None, k, answerer, asked)
    return demo


def _chatbot(height: str | None, examples: bool, scale: int | None = None, show_label: bool = True) -> gr.Chatbot:
    return gr.Chatbot(
        label="Conversation",
        show_label=show_label,
        elem_id="ad-chat",
        height=height,
        scale=scale,
        layout="panel",
        buttons=[],
        feedback_options=None,
        latex_delimiters=[],
        sanitize_html=True,
        allow_tags=False,
        render_markdown=True,
        placeholder="Ask a question about the documents. Answers quote the documents and link to them.",
        examples=[{"text": q} for q in EXAMPLES] if examples else None,
    )


def _input_row(autofocus: bool) -> tuple[gr.Textbox, gr.Button]:
    with gr.Row(elem_classes="ad-input", equal_height=True):
        question = gr.Textbox(
            label="Your question",
            show_label=False,
            placeholder="Ask about the documents …",
            lines=1,
            max_lines=5,
            scale=1,
            min_width=0,
            autofocus=autofocus,
            elem_id="ad-question",
            container=False,
        )
        send = gr.Button("Send", variant="primary", scale=0, min_width=72, elem_id="ad-send")
    return question, send


def _wire(
    chat_fn: Chat,
    chatbot: gr.Chatbot,
    question: gr.Textbox,
    send: gr.Button,
    new_chat: gr.Button | None,
    k: gr.Slider | gr.State,
    answerer: gr.Radio | gr.State,
    asked: gr.State,
) -> None:
    inputs: list[Any] = [question, chatbot, k, answerer, asked]
    outputs: list[Any] = [chatbot, asked, question]
    gr.on(
        triggers=[question.submit, send.click],
        fn=chat_fn.respond,
        inputs=inputs,
        outputs=outputs,
        api_name="ask",
        api_description="Ask a question; streams the chat messages (HTML) with cited sources.",
        concurrency_limit=4,
        show_progress="hidden",
    )

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(
        chat_fn.respond, inputs, outputs, api_visibility="private", concurrency_limit=4, show_progress="hidden"
    )

    def clear() -> tuple[list[Any], list[str], str]:
        return [], [], ""

    if new_chat is not None:
        new_chat.click(clear, None, outputs, api_visibility="private", queue=False)
    chatbot.clear(clear, None, outputs, api_visibility="private", queue=False)


def mount_ui(app: FastAPI, assistant: Assistant) -> None:
    """Mount the embed page at /embed and the full page at / (in that order: "/" takes the rest)."""
    css_paths = [STATIC / "ui.css"]
    common: dict[str, Any] = {
        "theme": theme(),
        "css_paths": css_paths,
        "footer_links": [],
        "run_history": False,
        "ssr_mode": False,
        "mcp_server": False,
        "pwa": False,
        "show_error": True,
    }
    embed = build_embed_ui(assistant)
    gr.mount_gradio_app(app, embed, path="/embed", css=EMBED_CSS, **common)
    gr.mount_gradio_app(app, build_ui(assistant), path="/", **common)
