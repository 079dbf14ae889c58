"""The chat UI (Gradio 6): a full page at "/" and a chrome-less one at "/embed" for iframes.

Both stream the answer as `Assistant.ask_stream` produces it, then replace it with the
final answer: the text with its [n] markers (each a link to its quote), and under it each
cited source (title, page, the quoted sentence highlighted inside its passage, a link that
opens the whole document at that span). A "not found" answer shows the closest passages
instead. The HTML of every message, and why it is safe to hand to Gradio's Markdown
renderer, is in app.serve.render. static/chat.js keeps the final answer's start in view and
makes each answer's "Copy answer" button copy its text.

The conversation (messages and the earlier turns a follow-up needs) is kept in the browser's
localStorage, one key per page, so a reload restores it; "New chat" and the chatbot's clear
button empty it.

Nothing is fetched from the internet: analytics are off (the environment variable is set
before gradio is imported) and the theme uses system fonts only.
"""

from __future__ import annotations

import hashlib
import html
import os

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # read by gradio at call time; set before it loads

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from app.assistant import Assistant
from app.errors import AskdocsError, QuestionError
from app.serve.render import Renderer
from app.settings import ANSWERERS
from app.types import Answer, Turn

STATIC = Path(__file__).resolve().parent / "static"
EXAMPLES = (
    "How much was bilateral trade between Canada and Mexico in 2024?",
    "What pipeline did TC Energy finish in Mexico?",
    "Why does Carney want closer ties with Mexico?",
)
ANSWERER_LABELS = {
    "reader": "Reader: the short answer and the sentence that says it",
    "extractive": "Extractive: the closest one or two sentences",
    "llm": "LLM: written by a language model, checked against its sources",
}
NO_LLM = "An LLM option appears when a language model is configured."
MAX_K = 10  # the UI's slider; the JSON API allows up to 20
MAX_STORED_MESSAGES = 100  # a conversation kept in the browser: its last 50 questions and answers
# In the head of both pages: scrolling to each final answer's start, the "Copy answer" buttons (see chat.js).
CHAT_HEAD = f"<script>{(STATIC / 'chat.js').read_text(encoding='utf-8')}</script>"

# The embed page sits in a small iframe: no outer padding, the input always in view.
EMBED_CSS = ".gradio-container .main.app{padding:6px 8px !important} .gradio-container{padding:0 !important}"


def theme() -> gr.themes.Base:
    """The default look with system fonts: no web font is requested."""
    return gr.themes.Default(
        primary_hue="blue",
        font=[gr.themes.Font("system-ui"), gr.themes.Font("Segoe UI"), gr.themes.Font("Roboto"), "sans-serif"],
        font_mono=[gr.themes.Font("ui-monospace"), gr.themes.Font("Consolas"), "monospace"],
    )


class Chat:
    """The chat function behind both pages (and the Gradio API endpoint "/ask")."""

    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.render = Renderer(assistant, assistant.settings.root_path)
        configured = assistant.settings.llm_configured
        self.answerers = [name for name in ANSWERERS if name != "llm" or configured]

    def default_k(self) -> int:
        return max(1, min(MAX_K, self.assistant.settings.top_k))

    def default_answerer(self) -> str:
        wanted = self.assistant.settings.answerer
        return wanted if wanted in self.answerers else "extractive"

    def respond(
        self, question: Any, chat: list[Any] | None, k: Any, answerer: Any, asked: list[Any] | None
    ) -> Iterator[tuple[list[Any], list[dict[str, str]], str]]:
        """Stream one answer: yields (messages, earlier turns, new textbox value).

        The earlier turns are kept as {"question", "answer"} (the short answer each got), so a
        follow-up can refer to what the chat said ("Who replaced him?").
        """
        chat = list(chat or [])
        asked = _turns(asked)
        if not isinstance(question, str) or not question.strip():
            # Enter on an empty box: nothing to ask, and nothing to complain about either
            yield chat, asked, ""
            return
        try:
            question, history = self.assistant.check_question(question, [Turn(**t) for t in asked])
        except QuestionError as exc:
            raise gr.Error(str(exc)) from None
        k, answerer = self._check_options(k, answerer)
        chat.append({"role": "user", "content": self.render.question(question)})
        chat.append({"role": "assistant", "content": self.render.pending("")})
        yield chat, asked, ""
        text = ""
        try:
            for item in self.assistant.ask_stream(question, history=history, answerer=answerer, k=k):
                if isinstance(item, Answer):
                    chat[-1] = {"role": "assistant", "content": self.render.answer(item)}
                    yield chat, [*asked, {"question": question, "answer": item.short_answer}], ""
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


def _turns(state: list[Any] | None) -> list[dict[str, str]]:
    """The chat's earlier turns from its state (plain question strings, from older pages, still count)."""
    turns = []
    for entry in state or []:
        if isinstance(entry, str):
            turns.append({"question": entry, "answer": ""})
        elif isinstance(entry, dict) and isinstance(entry.get("question"), str):
            turns.append({"question": entry["question"], "answer": str(entry.get("answer") or "")})
    return turns


def stored_conversation(chat: list[Any] | None, asked: list[Any] | None) -> dict[str, list[Any]]:
    """What the browser keeps of a conversation: its last messages (as HTML) and earlier turns."""
    return {
        "messages": _messages(chat)[-MAX_STORED_MESSAGES:],
        "turns": _turns(asked)[-MAX_STORED_MESSAGES // 2 :],
    }


def restored_conversation(stored: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The chat and its earlier turns from what the browser kept (anything malformed is dropped)."""
    if not isinstance(stored, dict):
        return [], []
    return _messages(stored.get("messages")), _turns(stored.get("turns"))


def _empty_conversation() -> dict[str, list[Any]]:
    return {"messages": [], "turns": []}


def _messages(chat: Any) -> list[dict[str, str]]:
    """User and assistant messages as {"role", "content"}, the content one string.

    Gradio hands the chatbot's value back with each content as a list of parts ({"type": "text",
    "text": ...}); what the browser kept may be anything, so only user and assistant text is kept.
    """
    messages = []
    for message in chat if isinstance(chat, list) else []:
        if isinstance(message, dict) and message.get("role") in ("user", "assistant"):
            content = message.get("content")
            parts = content if isinstance(content, list) else [content]
            text = "".join(
                p if isinstance(p, str) else str(p.get("text") or "") for p in parts if isinstance(p, str | dict)
            )
            if text:
                messages.append({"role": str(message["role"]), "content": text})
    return messages


def _browser_storage(assistant: Assistant, page: str) -> gr.BrowserState:
    """The conversation of `page` ("/" or "/embed") in the browser's localStorage.

    One key per page (and per path prefix, for two servers on one host). Gradio encrypts the stored
    value with `secret`, which it hands to the page: derived from the index build, it stays the same
    across server restarts, and a rebuilt index (whose spans the stored links may no longer match)
    starts conversations afresh. With an access token it also depends on the token, so it is no
    easier to learn than the page itself.
    """
    settings = assistant.settings
    build = assistant.index.manifest.created_at
    secret = hashlib.sha256(f"askdocs-conversation\0{build}\0{settings.access_token or ''}".encode()).hexdigest()
    return gr.BrowserState(
        _empty_conversation(),
        storage_key=f"askdocs-conversation:{settings.root_path.rstrip('/')}{page}",
        secret=secret,
    )


def _header(assistant: Assistant) -> str:
    counts = assistant.index.manifest.counts  # of the build served when the page loads
    documents = f"{assistant.settings.root_path.rstrip('/')}/documents"
    return (
        '<div class="ad-header"><h1>Ask the documents</h1>'
        f'<p><a href="{html.escape(documents)}">{counts.get("documents", 0)} documents</a> · every answer quotes '
        "its sources — check them with the links under it.</p></div>"
    )


def build_ui(assistant: Assistant) -> gr.Blocks:
    """The full chat page: conversation, examples, new chat, collapsed settings."""
    chat_fn = Chat(assistant)
    demo = gr.Blocks(title="askdocs — ask the documents", analytics_enabled=False)
    with demo:  # not `as demo`: Blocks.__enter__ (which returns self) is untyped, so that would be Any
        gr.HTML(lambda: _header(assistant), elem_id="ad-header")  # a function: read at every page load
        # no visible "Conversation" label: it sat over the first lines of the chat
        chatbot = _chatbot(height="min(62vh, 640px)", examples=True, show_label=False)
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
                [(ANSWERER_LABELS[name], name) for name in chat_fn.answerers],
                value=chat_fn.default_answerer(),
                label="How answers are made",
                info=None if assistant.settings.llm_configured else NO_LLM,
                interactive=len(chat_fn.answerers) > 1,
            )
        asked = gr.State([])
        stored = _browser_storage(assistant, "/")
        _wire(demo, chat_fn, chatbot, question, send, new_chat, k, answerer, asked, stored)
    return demo


def build_embed_ui(assistant: Assistant) -> gr.Blocks:
    """The chrome-less chat for iframes (the widget): conversation, input, new chat."""
    chat_fn = Chat(assistant)
    demo = gr.Blocks(title="askdocs", analytics_enabled=False, fill_width=True)
    with demo:
        # The chatbot's own "Clear" button (top right) starts a new chat; no other chrome.
        chatbot = _chatbot(height="calc(100vh - 78px)", examples=True, show_label=False)
        question, send = _input_row(autofocus=False)
        k = gr.State(chat_fn.default_k())
        answerer = gr.State(chat_fn.default_answerer())
        asked = gr.State([])
        stored = _browser_storage(assistant, "/embed")
        _wire(demo, chat_fn, chatbot, question, send, None, k, answerer, asked, stored)
    return demo


def _chatbot(height: str | None, examples: bool, scale: int | None = None, show_label: bool = True) -> gr.Chatbot:
    return gr.Chatbot(
        label="Conversation",
        show_label=show_label,
        elem_id="ad-chat",
        height=height,
        scale=scale,
        layout="panel",
        autoscroll=False,  # chat.js scrolls instead: to the final answer's start, not to its last source
        buttons=[],  # no share, no copy-all; Gradio's per-message "copy" copies the HTML: render.py has our own
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
    demo: gr.Blocks,
    chat_fn: Chat,
    chatbot: gr.Chatbot,
    question: gr.Textbox,
    send: gr.Button,
    new_chat: gr.Button | None,
    k: gr.Slider | gr.State,
    answerer: gr.Radio | gr.State,
    asked: gr.State,
    stored: gr.BrowserState,
) -> None:
    inputs: list[Any] = [question, chatbot, k, answerer, asked]
    outputs: list[Any] = [chatbot, asked, question]
    private: dict[str, Any] = {"api_visibility": "private", "queue": False}
    # The browser keeps the conversation after each answer; the "/ask" endpoint itself stays as it was.
    save: dict[str, Any] = {"fn": stored_conversation, "inputs": [chatbot, asked], "outputs": stored, **private}
    gr.on(
        triggers=[question.submit, send.click],
        fn=chat_fn.respond,
        inputs=inputs,
        outputs=outputs,
        api_name="ask",
        api_description="Ask a question; streams the chat messages (HTML) with cited sources.",
        concurrency_limit=4,
        show_progress="hidden",
    ).then(**save)

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return str(value.get("text", "")) if isinstance(value, dict) else str(value or "")

    chatbot.example_select(pick_example, None, question, **private).then(
        chat_fn.respond, inputs, outputs, api_visibility="private", concurrency_limit=4, show_progress="hidden"
    ).then(**save)

    def clear() -> tuple[list[Any], list[str], str, dict[str, list[Any]]]:
        return [], [], "", _empty_conversation()

    if new_chat is not None:
        new_chat.click(clear, None, [*outputs, stored], **private)
    chatbot.clear(clear, None, [*outputs, stored], **private)
    demo.load(restored_conversation, stored, [chatbot, asked], **private)


def mount_ui(app: FastAPI, assistant: Assistant) -> None:
    """Mount the embed page at /embed and the full page at / (in that order: "/" takes the rest)."""
    css_paths = [STATIC / "ui.css"]
    common: dict[str, Any] = {
        "theme": theme(),
        "css_paths": css_paths,
        "head": CHAT_HEAD,
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
