"""The server as `askdocs serve` runs it (`Settings.serving()`: one onnxruntime thread per model, requests
in parallel on the server's threads) answers many clients at once exactly as it answers one.

A real server on 127.0.0.1 with the real models; no speed is asserted (the machine is shared: the
throughput figures are `askdocs bench`'s, docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from app.assistant import Assistant
from app.settings import Settings
from tests.server import serve

CLIENTS = 4
# (request, what it asks): answers with citations, a follow-up read with its history, one the
# documents don't answer, and searches
REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("ask", {"question": "What pipeline did TC Energy finish in Mexico?", "full": True}),
    ("ask", {"question": "How long is the Southeast Gateway pipeline?", "full": True}),
    ("ask", {"question": "Who is Mark Carney?", "full": True}),
    ("ask", {"question": "How long is it?", "history": ["What pipeline did TC Energy finish?"], "full": True}),
    ("ask", {"question": "Who won the 2024 Stanley Cup?", "full": True}),
    ("ask", {"question": "Why did Carney visit Mexico?"}),
    ("search", {"q": "pipeline length kilometres", "k": 5}),
    ("search", {"q": "Sheinbaum", "k": 3, "mode": "bm25"}),
]


@pytest.fixture(scope="module")
def served(small_index: Settings) -> Iterator[tuple[str, Assistant]]:
    assistant = Assistant.load(small_index.serving())
    with serve(assistant) as url:
        yield url, assistant


def request(http: httpx.Client, kind: str, body: dict[str, Any]) -> Any:
    response = http.post("/api/ask", json=body) if kind == "ask" else http.get("/api/search", params=body)
    assert response.status_code == 200, response.text
    result = response.json()
    if kind == "ask":
        result.pop("timings_ms")  # the only part that differs from one asking to the next
    return result


def test_many_clients_at_once_get_exactly_the_answers_one_client_gets(served: tuple[str, Assistant]) -> None:
    url, assistant = served
    assert (assistant.embedder.threads, assistant.reader.threads) == (1, 1)  # as `askdocs serve` runs
    with httpx.Client(base_url=url, timeout=120) as http:
        alone = [request(http, kind, body) for kind, body in REQUESTS]
    assert any(a.get("citations") for a in alone)
    assert any(a.get("abstained") for a in alone)

    def client(number: int) -> list[tuple[int, Any]]:
        """Every request twice, from its own offset, so different requests overlap on the server."""
        order = [(number + i) % len(REQUESTS) for i in range(2 * len(REQUESTS))]
        with httpx.Client(base_url=url, timeout=120) as http:
            return [(i, request(http, *REQUESTS[i])) for i in order]

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        together = [pair for results in pool.map(client, range(CLIENTS)) for pair in results]
    assert len(together) == CLIENTS * 2 * len(REQUESTS)
    for i, result in together:
        assert result == alone[i], REQUESTS[i]
