"""Start the real app (uvicorn, a real socket on 127.0.0.1) in a background thread, for tests.

    with serve(assistant) as url:            # "http://127.0.0.1:<free port>"
        httpx.get(url + "/healthz")

`behind_proxy(assistant, "/askdocs")` serves the app behind a path-stripping reverse proxy, the way
nginx's `location /askdocs/ { proxy_pass http://app/; }` would: only /askdocs/... is answered, and
the app sees the path without the prefix. `static_files(folder)` serves a folder (host pages).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from app.assistant import Assistant
from app.serve.api import create_app

STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_asgi(app: ASGIApp, health_path: str = "/healthz", headers: dict[str, str] | None = None) -> Iterator[str]:
    """Serve `app` on a free port until the block ends; wait until `health_path` answers 200."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", ws="none", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:
            if not thread.is_alive():
                raise RuntimeError("the test server stopped while starting")
            try:
                if httpx.get(url + health_path, headers=headers, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the test server did not answer {health_path} within {STARTUP_TIMEOUT_S} s")
            time.sleep(0.05)
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@contextlib.contextmanager
def serve(assistant: Assistant) -> Iterator[str]:
    """The askdocs app for `assistant`, as `askdocs serve` runs it."""
    with serve_asgi(create_app(assistant)) as url:
        yield url


class StripPrefix:
    """A stand-in for a reverse proxy that publishes the app under `prefix` and strips it."""

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not path.startswith(self.prefix + "/"):
            await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not behind the proxy prefix"})
            return
        inner = dict(scope, path=path[len(self.prefix) :], raw_path=path[len(self.prefix) :].encode(), root_path="")
        await self.app(inner, receive, send)


@contextlib.contextmanager
def behind_proxy(assistant: Assistant, prefix: str = "/askdocs") -> Iterator[str]:
    """The app (with root_path=prefix) behind a path-stripping proxy; yields the proxy's URL + prefix."""
    settings = assistant.settings.replace(root_path=prefix)
    app = StripPrefix(create_app(Assistant(settings, assistant.index, assistant.embedder)), prefix)
    with serve_asgi(app, health_path=f"{prefix}/healthz") as url:
        yield url + prefix


def variant(assistant: Assistant, **changes: Any) -> Assistant:
    """The same loaded index and model with other settings (e.g. access_token, allowed_origins)."""
    return Assistant(assistant.settings.replace(**changes), assistant.index, assistant.embedder)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextlib.contextmanager
def static_files(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 (an intranet page that includes the widget)."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, name="static-files", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
