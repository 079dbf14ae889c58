"""The HTTP server: one process serves the chat UI, the JSON API and the embeddable widget.

Routes (all under `settings.root_path` when served behind a proxy with a path prefix):

    GET  /                                  chat UI (Gradio; its API endpoint is "/ask")
    GET  /embed/                            the same chat without page chrome, for iframes
    GET  /widget.js                         one <script> tag adds a floating "Ask" button to any page
    POST /api/ask                           question → Answer JSON
    GET  /api/search?q=&k=                  question → ranked passages
    GET  /api/documents                     every corpus file: indexed, skipped (and why) or waiting; build progress
    POST /api/documents                     upload files (multipart "files"; only with allow_uploads)
    DELETE /api/documents/{id}              delete a corpus file (only with allow_uploads)
    GET  /api/documents/{id}                a document's text and metadata
    GET  /api/documents/{id}/view?start=&end=   the document as a page, [start, end) highlighted
    GET  /documents                         the documents page: list, upload, delete, progress
    GET  /examples/host-page                an intranet page with the widget on it (try the widget)
    GET  /healthz                           liveness, the build served and whether the corpus changed since

A new index build (from this server's uploads, or `askdocs index` in a terminal) is picked up
between questions without a restart (app.serve.library).
    GET  /docs, /openapi.json               API reference (self-contained HTML; nothing from a CDN)

Bad input is always a 4xx with JSON `{"detail": "<message>"}`: 422 for a request that is
malformed or fails validation (including `QuestionError`: empty, whitespace-only or over-long
questions, bad history, and a refused upload), 404 for an unknown document, 401 for a missing or
wrong token, 403 for an upload or delete when uploads are off.

Access: `allowed_origins` lists the sites that may frame the app (CSP frame-ancestors, on every
response) and call the API from a browser (CORS); localhost and 127.0.0.1 on any port always may.
When `access_token` is set, every route except /healthz needs `Authorization: Bearer <token>`,
or `?token=<token>` once (which sets an HttpOnly cookie for the page's own later requests).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Annotated, Any

from fastapi import FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from app.assistant import Assistant
from app.errors import AskdocsError, DocumentNotFoundError, QuestionError
from app.index import store
from app.serve.access import add_access_middleware, frame_ancestors_directive
from app.serve.library import Library, UploadError, UploadsOffError
from app.serve.pages import DOCS_CSP, docs_page, document_page, documents_page
from app.serve.ui import STATIC, mount_ui
from app.settings import AnswererName, RetrievalMode
from app.types import CLOSEST_PASSAGES, Answer, Document, Passage, Turn

MAX_API_K = 20

API_DESCRIPTION = """\
Answers questions about a folder of documents with quoted, checkable citations.

* Every error is JSON `{"detail": "<message>"}` (validation errors add `"errors"`, one per field):
  **422** malformed request or invalid input (empty, whitespace-only or over-long question, history not
  a list of strings, `k` out of range, unknown field), **404** unknown document, **401** missing or wrong
  access token (when one is configured).
* Authentication (only when the server has an `access_token`): `Authorization: Bearer <token>`, or
  `?token=<token>` on any URL, which also sets an HttpOnly cookie.
* `POST /api/ask` answers in compact form unless the request says `"full": true`: `passages` is empty
  when the answer has citations, and a "not found" answer keeps its closest few passages in brief.
* The chat UI is at `/`; its Gradio API endpoint is `/ask` (see `gradio_client`).
"""


class HistoryTurn(BaseModel):
    """An earlier turn: the question and the short answer it got (`short_answer` of that reply)."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(strict=True)
    answer: str = Field(default="", strict=True)


class AskRequest(BaseModel):
    """A question, optionally with the earlier turns of the same conversation."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"question": "What pipeline did TC Energy finish in Mexico?"}]},
    )

    question: str = Field(strict=True, description="The question (not empty; at most max_question_chars).")
    history: list[Annotated[str, Field(strict=True)] | HistoryTurn] = Field(
        default_factory=list,
        description=(
            "Earlier turns of this conversation, oldest first: each a question, or {question, answer} with the "
            "short answer it got, so a follow-up can refer to it ('Who replaced him?')."
        ),
    )
    k: int | None = Field(
        default=None, ge=1, le=MAX_API_K, strict=True, description="Passages the answer may draw on (default: top_k)."
    )
    answerer: AnswererName | None = Field(
        default=None, description="'llm' only when the server has an LLM configured (default: the answerer setting)."
    )
    full: bool = Field(
        default=False,
        strict=True,
        description=(
            "Every field of the answer, with all retrieved passages and their scores. By default the answer is "
            "compact: `passages` is empty when there are citations (they hold the quotes), and a 'not found' "
            f"answer keeps its {CLOSEST_PASSAGES} closest passages, each with its rank, score and chunk id, title, "
            "span and text."
        ),
    )


class ErrorBody(BaseModel):
    detail: str
    errors: list[dict[str, Any]] | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "Missing or wrong access token"},
    422: {"model": ErrorBody, "description": "Invalid input"},
}


def create_app(assistant: Assistant, library: Library | None = None) -> FastAPI:
    """The app; it switches to new index builds while it runs (the library's watcher, started with it)."""
    settings = assistant.settings
    library = library or Library(assistant)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        library.start_watching()
        yield
        library.stop()

    app = FastAPI(
        title="askdocs",
        version=_version(),
        description=API_DESCRIPTION,
        docs_url=None,  # the Swagger UI loads from a CDN; /docs (_add_pages) is self-contained
        redoc_url=None,
        lifespan=lifespan,
    )
    frame_ancestors = frame_ancestors_directive(settings.allowed_origins)
    # Registration order is route order (and the order of /openapi.json): keep it.
    _add_health(app, assistant, library)
    _add_api_routes(app, assistant)
    _add_library_routes(app, library)
    _add_document_routes(app, assistant, frame_ancestors)
    _add_pages(app, frame_ancestors, library)
    _add_error_handlers(app)
    add_access_middleware(app, settings)  # root path, security headers, CORS, token: see app.access
    mount_ui(app, assistant)  # "/embed" and "/" go last: "/" matches everything not routed above
    return app


def _add_health(app: FastAPI, assistant: Assistant, library: Library) -> None:
    settings = assistant.settings

    @app.get("/healthz", tags=["service"], summary="Liveness, the index build served, and whether the corpus changed")
    def healthz() -> dict[str, Any]:
        index = assistant.index  # read once: a reload may swap it meanwhile
        manifest = index.manifest
        return {
            "status": "ok",
            "index_loaded": True,
            "index_build": index.path.name,
            "documents": manifest.counts.get("documents", len(index.documents)),
            "chunks": manifest.counts.get("chunks", len(index.chunks)),
            "model": manifest.model,
            "index_built_at": manifest.created_at,
            "index_build_seconds": manifest.build.get("seconds"),
            "loaded_in_seconds": round(assistant.load_report.seconds, 3),
            "corpus_changed_since_build": bool(store.corpus_changes(manifest, assistant.corpus_hashes())),
            "indexing": library.status().state == "indexing",
            "llm_configured": settings.llm_configured,
        }


def _add_api_routes(app: FastAPI, assistant: Assistant) -> None:
    """/api/ask and /api/search."""
    settings = assistant.settings

    @app.post(
        "/api/ask",
        tags=["answers"],
        summary="Answer a question with quoted citations",
        response_model=None,
        responses={200: {"model": Answer, "description": "The answer (Answer.to_dict(full))"}, **ERRORS},
    )
    def ask(body: AskRequest) -> dict[str, Any]:
        """The answer's text carries markers [1], [2] … that point at `citations`; each citation's
        `quote` is exactly `document.text[start:end]`. `abstained: true` means the documents don't
        answer it; `passages` then holds the closest passages (all of them, in full, with `full: true`)."""
        turns = [h if isinstance(h, str) else Turn(h.question, h.answer) for h in body.history]
        question, history = assistant.check_question(body.question, turns)
        if body.answerer == "llm" and not settings.llm_configured:
            raise HTTPException(422, "answerer 'llm' is not available: this server has no LLM configured")
        answer = assistant.ask(question, history=history, answerer=body.answerer, k=body.k)
        return answer.to_dict(full=body.full)

    @app.get(
        "/api/search",
        tags=["answers"],
        summary="Retrieve the passages closest to a question",
        response_model=None,
        responses={200: {"model": list[Passage], "description": "Passages, best first"}, **ERRORS},
    )
    def search(
        q: Annotated[str, Query(description="The question or search words")],
        k: Annotated[int | None, Query(ge=1, le=MAX_API_K, description="How many passages (default: top_k)")] = None,
        mode: Annotated[RetrievalMode | None, Query(description="Retriever")] = None,
    ) -> list[dict[str, Any]]:
        question, _ = assistant.check_question(q)
        passages = assistant.retrieve(question, k=k or settings.top_k, mode=mode)
        return [p.to_dict() for p in passages]


def _add_library_routes(app: FastAPI, library: Library) -> None:
    """The documents list (with build progress), upload and delete."""

    @app.get("/api/documents", tags=["documents"], summary="Every corpus file with its status, and build progress")
    def list_documents() -> dict[str, Any]:
        """`status` of each: `indexed`, `skipped` (with `reason`), or `waiting` (new, changed or removed
        since the build being served). `build` tells whether a build runs, how far it has got, and which
        build answers questions."""
        return {"documents": [d.to_dict() for d in library.documents()], "build": library.status().to_dict()}

    @app.post(
        "/api/documents",
        tags=["documents"],
        summary="Add documents (only when the server allows uploads)",
        status_code=202,
        responses={403: {"model": ErrorBody, "description": "Uploads are off"}, **ERRORS},
    )
    async def upload(files: Annotated[list[UploadFile], File(description="txt, md, html, pdf, docx or pptx")]) -> Any:
        """Each file is read as the index would read it before it joins the corpus; one that can't be
        (type, size, name, no text) is refused with its reason and nothing changes. Accepted files are
        indexed in the background: poll `GET /api/documents` for progress."""
        limit = int(library.settings.max_file_mb * 1_000_000)
        added = []
        for upload in files:
            data = await upload.read(limit + 1)  # one byte over the limit is enough to refuse it
            added.append(library.add(upload.filename or "", data).to_dict())
        return {"added": added, "build": library.status().to_dict()}

    @app.delete(
        "/api/documents/{doc_id:path}",
        tags=["documents"],
        summary="Delete a document from the corpus (only when the server allows uploads)",
        status_code=202,
        responses={403: {"model": ErrorBody, "description": "Uploads are off"}, **ERRORS},
    )
    def delete_document(doc_id: str) -> dict[str, Any]:
        """Deletes the file from the corpus folder; the index drops it in the background rebuild."""
        library.remove(doc_id)
        return {"deleted": doc_id, "build": library.status().to_dict()}


def _add_document_routes(app: FastAPI, assistant: Assistant, frame_ancestors: str) -> None:
    """/api/documents/{id}/view and /api/documents/{id}, in that order: a ":path" id would swallow "/view"."""

    def _document(doc_id: str) -> Document:
        return assistant.document(doc_id)  # DocumentNotFoundError → 404 (see _add_error_handlers)

    @app.get(
        "/api/documents/{doc_id:path}/view",
        tags=["documents"],
        summary="A document as a web page, with a span highlighted",
        response_class=HTMLResponse,
        responses={404: {"model": ErrorBody, "description": "Unknown document"}, **ERRORS},
    )
    def view_document(
        doc_id: str,
        start: Annotated[int | None, Query(ge=0, description="Start of the highlighted span")] = None,
        end: Annotated[int | None, Query(ge=0, description="End of the highlighted span (exclusive)")] = None,
    ) -> Response:
        """The full text, HTML-escaped, with `[start, end)` in `<mark id="hit">`, scrolled into view."""
        if doc_id not in assistant.index.documents and f"{doc_id}/view" in assistant.index.documents:
            return JSONResponse(_document(f"{doc_id}/view").to_dict())
        doc = _document(doc_id)
        if (start is None) != (end is None):
            raise HTTPException(422, "give both start and end, or neither")
        if start is not None and end is not None and not start <= end <= len(doc.text):
            raise HTTPException(422, f"need 0 <= start <= end <= {len(doc.text)} (the document's length)")
        page, csp = document_page(doc, start, end)
        return HTMLResponse(page, headers={"Content-Security-Policy": f"{csp}; {frame_ancestors}"})

    @app.get(
        "/api/documents/{doc_id:path}",
        tags=["documents"],
        summary="A document's text and metadata",
        response_model=None,
        responses={
            200: {"model": Document, "description": "The document (Document.to_dict())"},
            404: {"model": ErrorBody, "description": "Unknown document"},
            401: ERRORS[401],
        },
    )
    def document(doc_id: str) -> dict[str, Any]:
        """Ids are paths relative to the corpus folder and may contain "/" (e.g. `reports/2024.pdf`)."""
        return _document(doc_id).to_dict()


def _add_pages(app: FastAPI, frame_ancestors: str, library: Library) -> None:
    """The widget script, the documents page, the widget's example page, the /embed redirect and /docs."""
    widget_js = (STATIC / "widget.js").read_bytes()
    documents_js = (STATIC / "documents.js").read_bytes()
    script_headers = {"Cache-Control": "no-cache"}
    host_page = (STATIC / "host-page.html").read_bytes()
    root = library.settings.root_path.rstrip("/")

    @app.get("/documents", include_in_schema=False)
    def documents() -> HTMLResponse:
        page, csp = documents_page(root, library.settings.allow_uploads, library.settings.max_file_mb)
        return HTMLResponse(page, headers={"Content-Security-Policy": f"{csp}; {frame_ancestors}"})

    @app.get("/documents.js", include_in_schema=False)
    def documents_script() -> Response:
        return Response(documents_js, media_type="text/javascript; charset=utf-8", headers=script_headers)

    @app.get("/examples/host-page", include_in_schema=False)
    def example_host_page() -> HTMLResponse:
        """An intranet-like page with the widget on it; its script tag loads ../widget.js from this server."""
        return HTMLResponse(host_page)

    @app.get("/widget.js", tags=["embedding"], summary="The embeddable chat widget script")
    def widget() -> Response:
        """Include it with `<script src="http://host:port/widget.js" data-title="Ask the documents"></script>`."""
        return Response(widget_js, media_type="text/javascript; charset=utf-8", headers=script_headers)

    @app.get("/embed", include_in_schema=False)
    def embed_slash() -> RedirectResponse:
        return RedirectResponse("embed/", status_code=308)  # relative: right under any path prefix

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        headers = {"Content-Security-Policy": f"{DOCS_CSP}; {frame_ancestors}"}
        return HTMLResponse(docs_page(app.openapi()), headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    """Every error is JSON {"detail": ...}: 422 invalid input, 404 unknown document, 500 other failures."""

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _field(err.get("loc", ())), "message": str(err.get("msg", "invalid")), "type": err.get("type")}
            for err in exc.errors()
        ]
        message = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
        return JSONResponse({"detail": message or "invalid request", "errors": errors}, status_code=422)

    # the most specific class first: an error is answered by the first entry it is an instance of
    statuses: dict[type[AskdocsError], int] = {
        QuestionError: 422,
        UploadError: 422,
        UploadsOffError: 403,
        DocumentNotFoundError: 404,
        AskdocsError: 500,
    }

    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        status = next(code for kind, code in statuses.items() if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=status)

    for kind in statuses:
        app.add_exception_handler(kind, domain_error)


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    if (not parts or (len(parts) == 1 and parts[0].isdigit())) and tuple(loc)[:1] == ("body",):
        return "body"  # the body as a whole: not JSON, or not an object
    return ".".join(parts)


def _version() -> str:
    try:
        return metadata.version("askdocs")
    except metadata.PackageNotFoundError:
        return "0"
