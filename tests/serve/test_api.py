"""The HTTP API against a real server (uvicorn on 127.0.0.1), the real model and the full shipped corpus."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from urllib.parse import quote

import httpx
import pytest

from app.assistant import Assistant
from app.serve.render import view_url
from app.types import CLOSEST_PASSAGES, Answer
from tests.server import behind_proxy, serve, variant

TOKEN = "s3cret"
INTRANET = "https://intranet.example"


@pytest.fixture(scope="module")
def url(full_assistant: Assistant) -> Iterator[str]:
    with serve(full_assistant) as base:
        yield base


@pytest.fixture(scope="module")
def locked_url(full_assistant: Assistant) -> Iterator[str]:
    """Token required, one extra allowed origin."""
    with serve(variant(full_assistant, access_token=TOKEN, allowed_origins=(INTRANET,))) as base:
        yield base


@pytest.fixture(scope="module")
def proxied_url(full_assistant: Assistant) -> Iterator[str]:
    """The app behind a path-stripping reverse proxy at /askdocs (root_path="/askdocs")."""
    with behind_proxy(full_assistant, "/askdocs") as base:
        yield base


def ask(url: str, body: object, **kwargs: object) -> httpx.Response:
    return httpx.post(f"{url}/api/ask", json=body, timeout=60, **kwargs)  # type: ignore[arg-type]


# --- health ------------------------------------------------------------------------------------


def test_healthz_answers_fast_with_index_facts(url: str, full_assistant: Assistant) -> None:
    httpx.get(f"{url}/healthz")  # warm the connection path
    started = time.perf_counter()
    response = httpx.get(f"{url}/healthz")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed < 0.5
    body = response.json()
    assert body["status"] == "ok"
    assert body["index_loaded"] is True
    assert body["documents"] == len(full_assistant.index.documents) > 0
    assert body["chunks"] == len(full_assistant.index.chunks) > 0
    assert body["model"] == full_assistant.index.manifest.model
    assert body["index_built_at"] == full_assistant.index.manifest.created_at


# --- ask ---------------------------------------------------------------------------------------


def test_ask_returns_an_answer_whose_quotes_are_in_the_documents(url: str) -> None:
    response = ask(url, {"question": "What pipeline did TC Energy finish?"})
    assert response.status_code == 200, response.text
    answer = response.json()
    assert set(answer) == {f.name for f in fields(Answer)}
    assert answer["abstained"] is False
    assert answer["citations"], answer
    assert "[1]" in answer["text"]
    for citation in answer["citations"]:
        assert f"[{citation['marker']}]" in answer["text"]
        doc = httpx.get(f"{url}/api/documents/{quote(citation['doc_id'])}")
        assert doc.status_code == 200
        assert doc.json()["text"][citation["start"] : citation["end"]] == citation["quote"]
    assert answer["passages"] == []  # compact: the citations hold the quotes
    assert answer["query"]


def test_full_answers_carry_every_passage_compact_ones_a_few_in_brief(url: str, full_assistant: Assistant) -> None:
    for question, compact_passages in (
        ("What pipeline did TC Energy finish?", 0),
        ("Who won the 2024 Stanley Cup?", CLOSEST_PASSAGES),
    ):
        compact = ask(url, {"question": question}).json()
        full = ask(url, {"question": question, "full": True}).json()
        assert len(full["passages"]) == full_assistant.settings.show_passages
        assert {"dense_score", "lexical_score"} <= set(full["passages"][0])
        assert {"headings", "sources"} <= set(full["passages"][0]["chunk"])
        assert len(compact["passages"]) == compact_passages
        for brief, whole in zip(compact["passages"], full["passages"], strict=False):
            assert set(brief) == {"chunk", "rank", "score"}
            assert brief["chunk"] == {k: whole["chunk"][k] for k in ("id", "doc_id", "title", "start", "end", "text")}
        assert {k: v for k, v in compact.items() if k not in ("passages", "timings_ms")} == {
            k: v for k, v in full.items() if k not in ("passages", "timings_ms")
        }


def test_ask_takes_history_k_and_answerer(url: str) -> None:
    body = {
        "question": "Who owns it?",
        "history": ["What pipeline did TC Energy finish in Mexico?"],
        "k": 3,
        "answerer": "extractive",
    }
    response = ask(url, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["question"] == "Who owns it?"
    assert answer["answerer"] == "extractive"
    assert "TC Energy" in answer["query"]  # the earlier question was carried into the search


def test_history_turns_carry_the_earlier_answer(url: str) -> None:
    body = {
        "question": "Who replaced him?",
        "history": [{"question": "Which former ambassador said Ottawa ignored Mexico?", "answer": "Graeme Clark"}],
    }
    response = ask(url, body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert "Graeme Clark" in answer["query"]  # the earlier answer reached the search
    assert "short_answer" in answer


def test_concurrent_questions_get_the_same_answers_as_one_at_a_time(url: str) -> None:
    questions = [
        "How much was bilateral trade between Canada and Mexico in 2024?",
        "What pipeline did TC Energy finish in Mexico?",
        "Why does Carney want closer ties with Mexico?",
    ]
    alone = [ask(url, {"question": q}).json()["text"] for q in questions]
    with ThreadPoolExecutor(max_workers=6) as pool:
        together = list(pool.map(lambda q: ask(url, {"question": q}), questions * 3))
    assert all(r.status_code == 200 for r in together)
    assert [r.json()["text"] for r in together] == alone * 3


def test_a_question_the_documents_dont_answer_abstains_with_closest_passages(url: str) -> None:
    answer = ask(url, {"question": "What is the capital of France?"}).json()
    assert answer["abstained"] is True
    assert answer["citations"] == []
    assert len(answer["passages"]) == CLOSEST_PASSAGES  # compact: the closest, in brief


LONG = "x" * 2001  # the default max_question_chars is 2000


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"question": ""}, "empty"),
        ({"question": "   \n\t "}, "empty"),
        ({"question": LONG}, "limit"),
        ({"question": 123}, "question"),
        ({"question": None}, "question"),
        ({}, "question"),
        ({"question": ["a", "list"]}, "question"),
        ({"question": "What pipeline?", "history": "not a list"}, "history"),
        ({"question": "What pipeline?", "history": [1, 2]}, "history"),
        ({"question": "What pipeline?", "history": [LONG]}, "limit"),
        ({"question": "What pipeline?", "history": [{"answer": "no question"}]}, "history"),
        ({"question": "What pipeline?", "history": [{"question": "Q?", "answer": LONG}]}, "limit"),
        ({"question": "What pipeline?", "k": 0}, "k"),
        ({"question": "What pipeline?", "k": 21}, "k"),
        ({"question": "What pipeline?", "k": "5"}, "k"),
        ({"question": "What pipeline?", "k": 2.5}, "k"),
        ({"question": "What pipeline?", "answerer": "gpt"}, "answerer"),
        ({"question": "What pipeline?", "answerer": "llm"}, "llm"),  # no LLM configured
        ({"question": "What pipeline?", "extra": 1}, "extra"),
        ({"question": "What pipeline?", "full": "yes"}, "full"),
        (["What pipeline?"], "body"),
    ],
)
def test_bad_input_is_a_422_with_a_message(url: str, body: object, fragment: str) -> None:
    response = ask(url, body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, str)
    assert fragment in detail.lower()


def test_a_body_that_is_not_json_is_a_422(url: str) -> None:
    response = httpx.post(f"{url}/api/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "json" in response.json()["detail"].lower()


# --- search and documents ------------------------------------------------------------------------


def test_search_returns_ranked_passages(url: str) -> None:
    response = httpx.get(f"{url}/api/search", params={"q": "Southeast Gateway pipeline length", "k": 3})
    assert response.status_code == 200, response.text
    passages = response.json()
    assert [p["rank"] for p in passages] == [1, 2, 3]
    assert all(p["chunk"]["text"] and p["chunk"]["doc_id"] for p in passages)


@pytest.mark.parametrize(
    "params", [{"q": ""}, {"q": "   "}, {}, {"q": "pipeline", "k": 0}, {"q": "pipeline", "k": "x"}]
)
def test_bad_search_is_a_422(url: str, params: dict[str, object]) -> None:
    response = httpx.get(f"{url}/api/search", params=params)  # type: ignore[arg-type]
    assert response.status_code == 422
    assert response.json()["detail"]


def test_document_by_id_and_unknown_documents(url: str, full_assistant: Assistant) -> None:
    doc_id = next(iter(full_assistant.index.documents))
    response = httpx.get(f"{url}/api/documents/{quote(doc_id)}")
    assert response.status_code == 200
    assert response.json()["id"] == doc_id
    assert response.json()["text"]
    for missing in ("no-such-document.md", "no/such/folder/doc.md"):
        response = httpx.get(f"{url}/api/documents/{missing}")
        assert response.status_code == 404
        assert missing in response.json()["detail"]


def test_document_view_page_highlights_the_span(url: str, full_assistant: Assistant) -> None:
    doc = full_assistant.index.documents["southeast-gateway-pipeline.md"]
    start = doc.text.index("TC Energy")
    end = start + len("TC Energy")
    response = httpx.get(f"{url}/api/documents/{doc.id}/view", params={"start": start, "end": end})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<mark id="hit">TC Energy</mark>' in response.text
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "frame-ancestors" in csp
    for params in (
        {"start": 5},
        {"start": 10, "end": 5},
        {"start": 0, "end": len(doc.text) + 1},
        {"start": -1, "end": 2},
    ):
        bad = httpx.get(f"{url}/api/documents/{doc.id}/view", params=params)
        assert bad.status_code == 422, params
    assert httpx.get(f"{url}/api/documents/nope.md/view", params={"start": 0, "end": 1}).status_code == 404


# --- access: token, CORS, framing ----------------------------------------------------------------


def test_token_is_required_except_for_healthz(locked_url: str) -> None:
    assert httpx.get(f"{locked_url}/healthz").status_code == 200
    for path in ("/api/search?q=pipeline", "/api/documents/plan-mexico.md", "/", "/widget.js", "/docs", "/embed/"):
        response = httpx.get(locked_url + path)
        assert response.status_code == 401, path
        assert "token" in response.json()["detail"]
    assert ask(locked_url, {"question": "What pipeline?"}).status_code == 401
    wrong = httpx.get(f"{locked_url}/api/search?q=pipeline", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert httpx.get(f"{locked_url}/api/search?q=pipeline&token=nope").status_code == 401


def test_token_in_the_authorization_header(locked_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{locked_url}/api/search?q=pipeline", headers=headers).status_code == 200
    assert ask(locked_url, {"question": "What pipeline did TC Energy finish?"}, headers=headers).status_code == 200
    assert httpx.get(f"{locked_url}/", headers=headers).status_code == 200


def test_token_in_the_query_sets_a_cookie_for_later_requests(locked_url: str) -> None:
    with httpx.Client(base_url=locked_url) as browser:
        page = browser.get(f"/?token={TOKEN}", headers={"Accept": "text/html"})
        # A page request is redirected to the same URL without the token, with the cookie set.
        assert page.status_code == 303
        assert page.headers["location"] == "/"
        cookie = page.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "askdocs_token=" in cookie
        assert TOKEN not in cookie
        assert browser.get("/", headers={"Accept": "text/html"}).status_code == 200
        # The UI's own follow-up requests and the API ride on the cookie.
        assert browser.get("/config").status_code == 200
        assert browser.get("/api/search", params={"q": "pipeline"}).status_code == 200
    # A non-page request with ?token= is answered directly (and sets the cookie too).
    direct = httpx.get(f"{locked_url}/api/search", params={"q": "pipeline", "token": TOKEN})
    assert direct.status_code == 200
    assert "askdocs_token=" in direct.headers["set-cookie"]
    widget = httpx.get(f"{locked_url}/widget.js", params={"token": TOKEN})
    assert widget.status_code == 200


def test_cors_allows_listed_and_local_origins_only(locked_url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for origin in (INTRANET, "http://localhost:5173", "http://127.0.0.1:8000"):
        response = httpx.get(f"{locked_url}/api/search?q=pipeline", headers={**headers, "Origin": origin})
        assert response.headers.get("access-control-allow-origin") == origin
        preflight = httpx.options(
            f"{locked_url}/api/ask",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers.get("access-control-allow-origin") == origin
    for origin in ("https://evil.example", "https://intranet.example.evil.example", "null"):
        response = httpx.get(f"{locked_url}/api/search?q=pipeline", headers={**headers, "Origin": origin})
        assert response.status_code == 200
        assert "access-control-allow-origin" not in response.headers
        preflight = httpx.options(
            f"{locked_url}/api/ask", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in preflight.headers
    # The UI mounted under "/" follows the same policy.
    ui = httpx.get(f"{locked_url}/config", headers={**headers, "Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in ui.headers


def test_every_response_says_who_may_frame_the_app(locked_url: str, url: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    responses = [
        httpx.get(f"{locked_url}/healthz"),
        httpx.get(f"{locked_url}/", headers=headers),
        httpx.get(f"{locked_url}/embed/", headers=headers),
        httpx.get(f"{locked_url}/api/search?q=pipeline"),  # a 401
        httpx.get(f"{locked_url}/api/documents/nope.md", headers=headers),  # a 404
        httpx.get(f"{locked_url}/widget.js", headers=headers),
    ]
    for response in responses:
        csp = response.headers["content-security-policy"]
        directive = next(d.strip() for d in csp.split(";") if d.strip().startswith("frame-ancestors"))
        sources = directive.split()[1:]
        assert {"'self'", "http://localhost:*", "http://127.0.0.1:*", INTRANET} <= set(sources), csp
    plain = httpx.get(f"{url}/healthz").headers["content-security-policy"]
    assert INTRANET not in plain


# --- behind a proxy under a path prefix ----------------------------------------------------------


def test_works_behind_a_proxy_under_a_path_prefix(proxied_url: str, full_assistant: Assistant) -> None:
    origin = proxied_url.removesuffix("/askdocs")
    assert httpx.get(f"{origin}/healthz").status_code == 404  # the proxy only forwards /askdocs/...
    assert httpx.get(f"{proxied_url}/healthz").json()["status"] == "ok"
    answer = ask(proxied_url, {"question": "What pipeline did TC Energy finish?"})
    assert answer.status_code == 200
    assert answer.json()["citations"]
    page = httpx.get(f"{proxied_url}/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    # Gradio's own requests go to the prefixed root, for the page and for the embed page.
    assert httpx.get(f"{proxied_url}/config").json()["root"] == proxied_url
    assert httpx.get(f"{proxied_url}/embed/config").json()["root"] == f"{proxied_url}/embed"
    assert httpx.get(f"{proxied_url}/embed").headers["location"] == "embed/"
    # Document view links (as the UI makes them, see also test_ui) work through the proxy.
    doc = full_assistant.index.documents["plan-mexico.md"]
    start = doc.text.index("Plan México, officially")  # body text (a heading's "# " is not shown)
    link = view_url("/askdocs", doc.id, start, start + 11)
    view = httpx.get(origin + link)
    assert view.status_code == 200
    assert f'<mark id="hit">{html.escape(doc.text[start : start + 11])}</mark>' in view.text
    # The API reference and the schema know the prefix; the widget script is there.
    assert httpx.get(f"{proxied_url}/openapi.json").json()["servers"] == [{"url": "/askdocs"}]
    assert 'href="openapi.json"' in httpx.get(f"{proxied_url}/docs").text
    assert httpx.get(f"{proxied_url}/widget.js").status_code == 200


# --- widget, docs -------------------------------------------------------------------------------


def test_widget_script_is_javascript(url: str) -> None:
    response = httpx.get(f"{url}/widget.js")
    assert response.status_code == 200
    assert "javascript" in response.headers["content-type"]
    assert "attachShadow" in response.text
    assert "embed/" in response.text


def test_api_reference_is_served_without_a_cdn(url: str) -> None:
    docs = httpx.get(f"{url}/docs")
    assert docs.status_code == 200
    assert "text/html" in docs.headers["content-type"]
    for path in ("/api/ask", "/api/search", "/api/documents/{doc_id}", "/healthz"):
        assert path in docs.text
    assert not re.search(r"<(script|link)\b", docs.text)  # nothing loaded from anywhere
    assert "cdn" not in docs.text.lower()
    schema = httpx.get(f"{url}/openapi.json").json()
    assert {"/api/ask", "/api/search", "/healthz"} <= set(schema["paths"])
    assert "AskRequest" in schema["components"]["schemas"]
