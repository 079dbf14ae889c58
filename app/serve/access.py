"""Access control and response headers, as plain ASGI middleware (so streamed Gradio responses
pass through untouched).

`add_access_middleware` wraps the app, in this order for a request: `RootPath` accepts paths
with or without the proxy's prefix, `SecurityHeaders` adds CSP frame-ancestors and safe defaults
to every response, `BodyLimit` refuses oversized bodies, `GradioFileGuard` closes Gradio's
file-fetching and upload routes, CORS, then `TokenGate` asks for the access token (a Bearer
header, `?token=` once, or the cookie that sets). `allowed_origins` becomes both the CORS list and the
frame-ancestors directive.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, RedirectResponse
from starlette._utils import get_route_path
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.settings import Settings

TOKEN_COOKIE = "askdocs_token"
MAX_BODY_BYTES = 1_000_000  # any request but an upload
UPLOAD_OVERHEAD_BYTES = 64_000  # multipart framing around an uploaded file
OPEN_PATHS = frozenset({"/healthz"})  # never need the token
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1)(:\d+)?"
_ORIGIN = re.compile(r"^(\*|[a-zA-Z][a-zA-Z0-9+.-]*://[^\s;,'\"]+)$")


def valid_origins(origins: tuple[str, ...]) -> list[str]:
    """The well-formed configured origins, without a trailing "/". The rest are dropped: a space,
    ";", "," or quote in one would break out of the CSP header it is written into."""
    return [o.rstrip("/") for o in origins if _ORIGIN.match(o)]


def frame_ancestors_directive(origins: tuple[str, ...]) -> str:
    """Who may frame us: ourselves, localhost on any port, and the valid configured origins."""
    return " ".join(["frame-ancestors 'self' http://localhost:* http://127.0.0.1:*", *valid_origins(origins)])


def add_access_middleware(app: FastAPI, settings: Settings) -> None:
    """Wrap `app` (routes and the mounted UI alike) in the middleware below, as `settings` ask."""
    root = settings.root_path.rstrip("/")
    # Middleware: the last added runs first. Order of a request: root path → security headers → body limit →
    # Gradio file guard → CORS (answers preflights, labels every response, 401s included) → token → routes.
    if settings.access_token:
        app.add_middleware(TokenGate, token=settings.access_token, cookie_path=root or "/")
    app.add_middleware(
        CORSMiddleware,  # Gradio sees this and leaves CORS of the mounted UI to it
        allow_origins=valid_origins(settings.allowed_origins),
        allow_origin_regex=LOCAL_ORIGINS,
        allow_methods=["GET", "POST", "DELETE", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        allow_credentials=True,
        max_age=600,
    )
    app.add_middleware(GradioFileGuard)
    app.add_middleware(BodyLimit, upload_bytes=int(settings.max_file_mb * 1_000_000))
    app.add_middleware(SecurityHeaders, frame_ancestors=frame_ancestors_directive(settings.allowed_origins))
    if root:
        app.add_middleware(RootPath, root_path=root)


class RootPath:
    """Accept paths with or without the `root_path` prefix, as proxies send either.

    A proxy that strips "/askdocs" sends "/embed/config"; one that keeps it sends "/askdocs/embed/config".
    Starlette's mounts need the second form (ASGI: `path` includes `root_path`), so add the prefix when
    it is missing. Links the app generates always carry the prefix.
    """

    def __init__(self, app: ASGIApp, root_path: str) -> None:
        self.app = app
        self.root = root_path.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path: str = scope["path"]
            if path == self.root and scope["type"] == "http":
                query = scope.get("query_string", b"").decode("latin-1")
                await RedirectResponse(self.root + "/" + (f"?{query}" if query else ""), 307)(scope, receive, send)
                return
            scope = dict(scope, root_path=self.root)
            if not path.startswith(self.root + "/"):
                scope["path"] = self.root + path
                if scope.get("raw_path"):
                    scope["raw_path"] = self.root.encode() + scope["raw_path"]
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse a request body over its limit with a JSON 413, whether it declares its length or streams it.

    Uploads (`POST …/api/documents`) may carry one file of up to `max_file_mb`; every other request at
    most `MAX_BODY_BYTES` (a question, its history and a few options fit in far less).
    """

    def __init__(self, app: ASGIApp, upload_bytes: int) -> None:
        self.app = app
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        is_upload = scope["method"] == "POST" and get_route_path(scope).rstrip("/").endswith("/api/documents")
        limit = self.upload_bytes + UPLOAD_OVERHEAD_BYTES if is_upload else MAX_BODY_BYTES
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(limit)(scope, receive, send)
            return
        if declared is not None:
            await self.app(scope, receive, send)  # the server holds the client to its Content-Length
            return
        # A streamed body: read it up to the limit before the app sees any of it.
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            more = bool(message.get("more_body"))
            if size > limit:
                await self._too_large(limit)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    def _too_large(limit: int) -> JSONResponse:
        detail = f"the request body is over {limit:,} bytes" + (
            " (uploads: setting max_file_mb, one file per request)" if limit > MAX_BODY_BYTES else ""
        )
        return JSONResponse({"detail": detail}, status_code=413)


class GradioFileGuard:
    """Close the two Gradio routes the chat doesn't use and a probe abused.

    `…/gradio_api/file=<URL>` makes Gradio fetch that URL from the server (an open proxy into the
    intranet); `…/gradio_api/upload` stores any file in a temporary folder that outlives the server.
    The chat has no file inputs and shows no remote files, so both answer 404.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _CLOSED_GRADIO_ROUTE.search(get_route_path(scope)):
            detail = "not available on this server (the chat takes no files and fetches no addresses)"
            await JSONResponse({"detail": detail}, status_code=404)(scope, receive, send)
            return
        await self.app(scope, receive, send)


# a URL after "file=" (a scheme, or "//" for protocol-relative), and the upload route
_CLOSED_GRADIO_ROUTE = re.compile(r"/gradio_api/(file=(?i:[a-z][a-z0-9+.-]*:|//)|upload\b)")


class SecurityHeaders:
    """CSP frame-ancestors (who may frame us) and a few safe defaults, on every response."""

    def __init__(self, app: ASGIApp, frame_ancestors: str) -> None:
        self.app = app
        self.frame_ancestors = frame_ancestors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", []))
                headers = MutableHeaders(scope=message)
                csp = headers.get("content-security-policy")
                if not csp:
                    headers["Content-Security-Policy"] = self.frame_ancestors
                elif "frame-ancestors" not in csp:
                    headers["Content-Security-Policy"] = f"{csp}; {self.frame_ancestors}"
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)


class TokenGate:
    """Every route but /healthz needs the token: a Bearer header, `?token=`, or the cookie `?token=` set."""

    def __init__(self, app: ASGIApp, token: str, cookie_path: str = "/") -> None:
        self.app = app
        self.token = token.encode()
        # The cookie holds a value derived from the token, not the token itself.
        self.cookie_value = hmac.new(self.token, b"askdocs-session-cookie", hashlib.sha256).hexdigest()
        self.cookie_path = cookie_path

    def _matches(self, given: str | None, expected: bytes) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), expected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or get_route_path(scope) in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and self._matches(bearer.strip(), self.token):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(headers.get("cookie", ""))
        if self._matches(cookies.get(TOKEN_COOKIE), self.cookie_value.encode()):
            await self.app(scope, receive, send)
            return
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        given = next((v for k, v in query if k == "token"), None)
        if not self._matches(given, self.token):
            await self._refuse(scope, receive, send)
            return
        cookie = self._cookie(scope, headers)
        if scope["type"] == "http" and scope["method"] == "GET" and _is_page_request(headers):
            # Drop the token from the address bar (and from history and Referer); the cookie carries on.
            rest = urlencode([(k, v) for k, v in query if k != "token"])
            location = quote(scope.get("root_path", "") + get_route_path(scope)) + (f"?{rest}" if rest else "")
            response = RedirectResponse(location or "/", status_code=303)
            response.headers.append("Set-Cookie", cookie)
            await response(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)

    def _cookie(self, scope: Scope, headers: Headers) -> str:
        secure = scope.get("scheme") in ("https", "wss") or headers.get("x-forwarded-proto") == "https"
        # Over HTTPS the cookie also works inside a cross-site iframe (the widget); plain HTTP
        # browsers only allow it on the same site (any port).
        same_site = "SameSite=None; Secure; Partitioned" if secure else "SameSite=Lax"
        return f"{TOKEN_COOKIE}={self.cookie_value}; Path={self.cookie_path}; HttpOnly; {same_site}"

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        response = JSONResponse(
            {
                "detail": "this server needs an access token: send 'Authorization: Bearer <token>', "
                "or open the page once with ?token=<token>"
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="askdocs"'},
        )
        await response(scope, receive, send)


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";"):
        name, sep, value = part.strip().partition("=")
        if sep:
            out.setdefault(name, value)
    return out


def _is_page_request(headers: Headers) -> bool:
    dest = headers.get("sec-fetch-dest")
    if dest:
        return dest in ("document", "iframe", "frame")
    return "text/html" in headers.get("accept", "")
