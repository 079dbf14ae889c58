"""The HTTP server: JSON API (and, later, the chat UI) around one loaded Assistant."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from app.assistant import Assistant
from app.errors import DocumentNotFoundError


def create_app(assistant: Assistant) -> FastAPI:
    settings = assistant.settings
    app = FastAPI(title="askdocs", root_path=settings.root_path)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def home() -> str:
        return "<!doctype html><title>askdocs</title><h1>askdocs</h1><p>The chat UI is coming; try /api/search?q=…</p>"

    @app.get("/healthz")
    def healthz() -> dict[str, Any]:
        manifest = assistant.index.manifest
        return {"status": "ok", "model": manifest.model, **manifest.counts, "index": manifest.created_at}

    @app.get("/api/search")
    def search(
        q: str = Query(min_length=1, max_length=settings.max_question_chars), k: int = 5
    ) -> list[dict[str, Any]]:
        return [p.to_dict() for p in assistant.retrieve(q, k=k)]

    @app.get("/api/documents/{doc_id:path}")
    def document(doc_id: str) -> dict[str, Any]:
        try:
            return assistant.document(doc_id).to_dict()
        except DocumentNotFoundError as exc:
            raise HTTPException(status_code=404, detail=str(exc)) from None

    return app
