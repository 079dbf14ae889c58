"""The small HTML pages the server renders itself: a document with a span highlighted, the
documents page, and the API reference at /docs.

All are self-contained (no outside script, style, font or image), so they work offline and can
send a strict Content-Security-Policy: the document page allows only its own style and its one
script (scrolling to the highlight) by their hashes; the documents page its style by hash and
its script (static/documents.js) from this server only; /docs has no script at all.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from typing import Any

from app.serve.text_html import document_html
from app.types import Document

# Shared by both pages (with a dark variant).
_PAGE_STYLE = """
body{font:16px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2937;background:#fff}
header{padding:1rem 1.25rem;border-bottom:1px solid #e5e7eb;background:#f9fafb}
h1{font-size:1.3rem;margin:0 0 .3rem}.meta{margin:.1rem 0;color:#4b5563;font-size:.9rem}
main{padding:1rem 1.25rem;max-width:52rem}
.doc{overflow-wrap:anywhere}.doc p{margin:0 0 .8rem}
.doc h2,.doc h3,.doc h4,.doc h5,.doc h6{line-height:1.3;margin:1.4rem 0 .5rem}
.doc h2{font-size:1.2rem}.doc h3{font-size:1.08rem}.doc h4,.doc h5,.doc h6{font-size:1rem}
.doc ul{margin:0 0 .8rem;padding-left:1.4rem}.doc li{margin:.2rem 0}.doc li.d1{margin-left:1.4rem}
.doc li.d2{margin-left:2.8rem}.doc li.d3{margin-left:4.2rem}
mark{background:#fde68a;color:#111827;padding:0 .1em;scroll-margin:35vh 0}
.page{display:block;margin:1rem 0;color:#6b7280;font-size:.8rem;border-top:1px dashed #d1d5db}
a{color:#1d4ed8}
@media (prefers-color-scheme: dark){body{background:#111827;color:#e5e7eb}header{background:#1f2937;
border-color:#374151}.meta{color:#9ca3af}a{color:#93c5fd}}
"""
_SCROLL_SCRIPT = 'document.getElementById("hit")&&document.getElementById("hit").scrollIntoView({block:"center"});'


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def document_page(doc: Document, start: int | None, end: int | None) -> tuple[str, str]:
    """The page and its Content-Security-Policy (only our own style and scroll script may run)."""
    e = html.escape
    meta = [f"<p class=meta>{e(doc.id)}" + "".join(f" · {e(x)}" for x in (doc.kind, doc.as_of) if x) + "</p>"]
    if start is not None and end is not None:
        page = doc.page_at(start)
        where = f" (page {page})" if page else ""
        meta.append(f'<p class=meta><a href="#hit">Jump to the highlighted passage</a>{where}</p>')
    links = [s for s in doc.sources if re.match(r"https?://", s)]
    if links:
        items = ", ".join(f'<a href="{e(s)}" rel="noopener noreferrer">{e(s)}</a>' for s in links)
        meta.append(f"<p class=meta>Sources: {items}</p>")
    body = _highlighted(doc, start, end)
    page_html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(doc.title)} — askdocs</title><style>{_PAGE_STYLE}</style></head>"
        f"<body><header><h1>{e(doc.title)}</h1>{''.join(meta)}</header>"
        f'<main><div class="doc">{body}</div></main><script>{_SCROLL_SCRIPT}</script></body></html>'
    )
    csp = (
        f"default-src 'none'; style-src {_sha256_source(_PAGE_STYLE)}; script-src {_sha256_source(_SCROLL_SCRIPT)}; "
        "base-uri 'none'; form-action 'none'"
    )
    return page_html, csp


def _highlighted(doc: Document, start: int | None, end: int | None) -> str:
    """The text as blocks (app.serve.text_html) with [start, end) in <mark> and a separator at each page break."""
    separators = {
        offset: f'<span class="page" role="separator">page {number}</span>'
        for number, offset in enumerate(doc.page_starts, start=1)
        if 0 <= offset < len(doc.text)
    }
    return document_html(doc.text, start, end, separators)


_DOCUMENTS_STYLE = """
table{border-collapse:collapse;width:100%;font-size:.92rem;margin:1rem 0}
td,th{border-bottom:1px solid #e5e7eb;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{font-weight:600;color:#4b5563}.num{text-align:right;white-space:nowrap}
.status{display:inline-block;padding:0 .45rem;border-radius:999px;font-size:.8rem;background:#e5e7eb;color:#111827}
.status.indexed{background:#dcfce7;color:#14532d}.status.skipped{background:#fee2e2;color:#7f1d1d}
.status.waiting{background:#fef9c3;color:#713f12}.reason{color:#6b7280;font-size:.85rem}
#drop{border:2px dashed #9ca3af;border-radius:10px;padding:1.2rem;text-align:center;margin:.5rem 0}
#drop.over{border-color:#1d4ed8;background:#eff6ff}
button{font:inherit;padding:.35rem .9rem;border-radius:6px;border:1px solid #9ca3af;background:#fff;cursor:pointer}
button.primary{background:#1d4ed8;border-color:#1d4ed8;color:#fff}
#build{min-height:1.6rem;margin:.6rem 0}progress{width:min(24rem,100%);vertical-align:middle}
[role=alert]{color:#b91c1c}[role=alert]:empty{display:none}
@media (prefers-color-scheme: dark){td,th{border-color:#374151}button{background:#1f2937;color:#e5e7eb}
.status{background:#374151;color:#e5e7eb}}
"""


def documents_page(root_path: str, uploads_allowed: bool, max_file_mb: float) -> tuple[str, str]:
    """The documents page (list, upload, delete, build progress) and its Content-Security-Policy.

    The page is a shell; static/documents.js fills the table from GET /api/documents and does the rest.
    """
    e = html.escape
    root = root_path.rstrip("/")
    if uploads_allowed:
        upload = (
            '<section aria-labelledby="add"><h2 id="add">Add documents</h2>'
            '<form id="upload-form"><div id="drop"><label for="files">Choose files</label> '
            '<input type="file" id="files" name="files" multiple '
            'accept=".txt,.md,.markdown,.html,.htm,.pdf,.docx,.pptx"> or drop them here</div>'
            '<button type="submit" class="primary" id="upload">Upload and index</button></form>'
            f"<p class=meta>Text, Markdown, HTML, PDF, Word (.docx) or PowerPoint (.pptx), up to {max_file_mb:g} MB "
            "each. Each file is checked before it is added; the index updates in the background and the chat "
            "keeps answering meanwhile.</p></section>"
        )
    else:
        upload = (
            "<p class=meta>Adding and deleting documents from the browser is off on this server "
            "(setting <code>allow_uploads</code>). Put files in the corpus folder and run "
            "<code>askdocs index</code>: the server picks up the new index by itself.</p>"
        )
    page_html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Documents — askdocs</title><style>{_PAGE_STYLE}{_DOCUMENTS_STYLE}</style></head>"
        f'<body><header><h1>Documents</h1><p class=meta><a href="{e(root)}/">← Back to the chat</a> · '
        '<span id="summary">…</span></p></header><main>'
        f"{upload}"
        '<div id="build" role="status" aria-live="polite"><progress id="progress" max="1" value="0" hidden>'
        '</progress> <span id="build-text"></span></div><p id="error" role="alert"></p>'
        '<table id="documents"><caption class=meta>What the answers are drawn from</caption><thead><tr>'
        '<th scope="col">Document</th><th scope="col">Status</th><th scope="col" class="num">Chunks</th>'
        '<th scope="col" class="num">Pages</th><th scope="col" class="num">Size</th><th scope="col">'
        '<span hidden>Actions</span></th></tr></thead><tbody></tbody></table></main>'
        f'<script src="{e(root)}/documents.js" data-root="{e(root)}" '
        f'data-uploads="{"on" if uploads_allowed else "off"}"></script></body></html>'
    )
    csp = (
        f"default-src 'none'; style-src {_sha256_source(_PAGE_STYLE + _DOCUMENTS_STYLE)}; script-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'"
    )
    return page_html, csp


# /docs: no script, nothing fetched; only its inline <style> applies.
DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_DOCS_STYLE = """
.op{border:1px solid #e5e7eb;border-radius:8px;padding:.2rem 1rem;margin:1rem 0}
.op h2{font-size:1.05rem}.verb{display:inline-block;min-width:3.5rem;font-size:.8rem;padding:.1rem .4rem;
border-radius:4px;background:#dbeafe;color:#1e3a8a;text-align:center}.verb.post{background:#dcfce7;color:#14532d}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0;display:block;overflow-x:auto}
td,th{border:1px solid #e5e7eb;padding:.25rem .5rem;text-align:left;vertical-align:top}
pre{background:#f3f4f6;color:#111827;padding:.6rem;overflow-x:auto;font-size:.8rem}
"""


def docs_page(schema: dict[str, Any]) -> str:
    """A readable API reference built from the OpenAPI schema, with no outside script or style."""
    e = html.escape
    parts = [
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(schema['info']['title'])} API</title><style>{_PAGE_STYLE}{_DOCS_STYLE}</style></head><body>",
        f"<header><h1>{e(schema['info']['title'])} API <small>{e(schema['info'].get('version', ''))}</small></h1>",
        '<p class=meta>Machine-readable: <a href="openapi.json">openapi.json</a> · chat UI: <a href="./">/</a></p>',
        "</header><main>",
        _markdownish(schema["info"].get("description", "")),
    ]
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            parts.append(
                f'<section class=op><h2><span class="verb {e(method)}">{e(method.upper())}</span> '
                f"<code>{e(path)}</code></h2><p>{e(op.get('summary', ''))}</p>"
            )
            if op.get("description"):
                parts.append(_markdownish(op["description"]))
            params = op.get("parameters", [])
            if params:
                rows = "".join(
                    f"<tr><td><code>{e(p['name'])}</code></td><td>{e(p.get('in', ''))}</td>"
                    f"<td>{'yes' if p.get('required') else 'no'}</td><td><code>{e(_schema_text(p.get('schema', {})))}"
                    f"</code></td><td>{e(_param_description(p))}</td></tr>"
                    for p in params
                )
                parts.append(
                    "<table><tr><th>parameter</th><th>in</th><th>required</th><th>type</th>"
                    f"<th>meaning</th></tr>{rows}</table>"
                )
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
            if body:
                parts.append(f"<p><b>JSON body</b>: <code>{e(_ref_name(body))}</code> (see below)</p>")
            codes = ", ".join(
                f"<b>{e(str(code))}</b> {e(r.get('description', ''))}" for code, r in op.get("responses", {}).items()
            )
            parts.append(f"<p class=meta>Responses: {codes}</p></section>")
    components = schema.get("components", {}).get("schemas", {})
    if components:
        parts.append("<h2>Schemas</h2>")
        for name, sub in components.items():
            parts.append(
                f"<details><summary><code>{e(name)}</code></summary><pre>{e(json.dumps(sub, indent=2))}</pre></details>"
            )
    parts.append("</main></body></html>")
    return "".join(parts)


def _markdownish(text: str) -> str:
    """Paragraphs, "* " bullet lists, `code` and **bold** from a docstring; everything else escaped."""

    def inline(value: str) -> str:
        escaped = html.escape(" ".join(value.split()))
        escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
        return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", escaped)

    out = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.lstrip().startswith("* "):
            items = re.split(r"^\s*\* ", para, flags=re.MULTILINE)
            out.append("<ul>" + "".join(f"<li>{inline(item)}</li>" for item in items if item.strip()) + "</ul>")
        else:
            out.append(f"<p>{inline(para)}</p>")
    return "".join(out)


def _param_description(param: dict[str, Any]) -> str:
    return str(param.get("description") or param.get("schema", {}).get("description", ""))


def _ref_name(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref", "")
    return ref.rsplit("/", 1)[-1] if ref else _schema_text(schema)


def _schema_text(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return _ref_name(schema)
    if "anyOf" in schema:
        return " | ".join(_schema_text(s) for s in schema["anyOf"])
    kind = str(schema.get("type", "any"))
    if "enum" in schema:
        kind = " | ".join(json.dumps(v) for v in schema["enum"])
    limits = [f"{label} {schema[key]}" for key, label in (("minimum", "≥"), ("maximum", "≤")) if key in schema]
    return kind + (f" ({', '.join(limits)})" if limits else "")
