"""The JSON API from the other side: the command line's fast path when `askdocs serve` is running.

`AskdocsServer.find(settings)` probes GET /healthz at the settings' host, port and root path with a
short timeout; when an askdocs server answers, `ask` and `search` go to POST /api/ask and
GET /api/search and come back as the same `Answer` and `Passage` objects a local assistant returns,
so the CLI prints them the same way. The settings' `access_token` is sent as a Bearer token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import httpx

from app.errors import AskdocsError
from app.settings import Settings
from app.types import Answer, Passage, Turn

PROBE_TIMEOUT_S = 1.0  # /healthz answers at once when a server is up; nobody listening fails faster
ANSWER_TIMEOUT_S = 120.0  # an LLM answerer may take its own timeout and then fall back to the reader
T = TypeVar("T")
_ANY_INTERFACE = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # where `serve --host` listens → where to call


class ServerError(AskdocsError):
    """The server was found but did not answer this request (refused, failed or replied unreadably)."""


class AskdocsServer:
    def __init__(self, base_url: str, access_token: str = "") -> None:
        self.base_url = base_url
        headers = {"Authorization": f"Bearer {access_token}"} if access_token else {}
        self._client = httpx.Client(base_url=base_url, headers=headers, timeout=ANSWER_TIMEOUT_S)

    @classmethod
    def find(cls, settings: Settings) -> AskdocsServer | None:
        """The askdocs server at the settings' address, when one answers its health check; else None."""
        host = _ANY_INTERFACE.get(settings.host, settings.host)
        host = f"[{host}]" if ":" in host else host
        server = cls(f"http://{host}:{settings.port}{settings.root_path.rstrip('/')}", settings.access_token)
        try:
            health = server._client.get("/healthz", timeout=PROBE_TIMEOUT_S)
            if health.status_code == 200 and health.json().get("status") == "ok":
                return server
        except (httpx.HTTPError, ValueError, AttributeError):  # nobody there, or not an askdocs server
            pass
        server.close()
        return None

    def ask(
        self, question: str, history: Sequence[Turn] = (), answerer: str | None = None, k: int | None = None
    ) -> Answer:
        body = {
            "question": question,
            "history": [{"question": t.question, "answer": t.answer} for t in history],
            "answerer": answerer,
            "k": k,
            "full": True,  # everything, so the Answer is whole whichever form is printed
        }
        return _read(self._call("POST", "/api/ask", json=body), Answer.from_dict)

    def replay(self, questions: Sequence[str], answerer: str | None = None, k: int | None = None) -> list[Turn]:
        """As `Assistant.replay`: the earlier questions asked in order, so a follow-up knows their answers."""
        turns: list[Turn] = []
        for earlier in questions:
            turns.append(Turn(earlier, self.ask(earlier, turns, answerer, k).short_answer))
        return turns

    def search(self, question: str, k: int | None = None, mode: str | None = None) -> list[Passage]:
        params = {name: value for name, value in (("q", question), ("k", k), ("mode", mode)) if value is not None}
        return _read(self._call("GET", "/api/search", params=params), lambda rows: [Passage.from_dict(r) for r in rows])

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> AskdocsServer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **request: Any) -> Any:
        try:
            response = self._client.request(method, path, **request)
        except httpx.HTTPError as exc:
            raise ServerError(f"{type(exc).__name__}: {exc}") from None
        if response.status_code != 200:
            raise ServerError(f"HTTP {response.status_code}: {_detail(response)}")
        try:
            return response.json()
        except ValueError:
            raise ServerError("the reply is not JSON") from None


def _read(data: Any, build: Callable[[Any], T]) -> T:
    """`build(data)`, or ServerError when the reply is not the shape this version reads."""
    try:
        return build(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ServerError(f"unexpected reply ({type(exc).__name__}: {exc})") from None


def _detail(response: httpx.Response) -> str:
    try:
        return str(response.json()["detail"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200]
