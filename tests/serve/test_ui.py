"""The chat UI's Gradio API, driven with the official gradio_client against a running server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError, AuthenticationError

from app.assistant import Assistant
from tests.server import behind_proxy, serve, variant

QUESTION = "What pipeline did TC Energy finish in Mexico?"


@pytest.fixture(scope="module")
def url(full_assistant: Assistant) -> Iterator[str]:
    with serve(full_assistant) as base:
        yield base


def last_reply(result: Any) -> str:
    """The text of the last assistant message in the chat the endpoint returns."""
    chat, _textbox = result
    message = chat[-1]
    assert message["role"] == "assistant"
    content = message["content"]
    parts = content if isinstance(content, list) else [content]
    return "".join(p["text"] if isinstance(p, dict) else str(p) for p in parts)


def test_the_chat_endpoint_answers_with_citations(url: str) -> None:
    client = Client(f"{url}/", verbose=False)
    reply = last_reply(client.predict(question=QUESTION, api_name="/ask"))
    assert "[1]" in reply
    assert "<mark>" in reply  # the quote, highlighted in its passage
    links = re.findall(r'href="(/api/documents/[^"]+)"', reply)
    assert links
    view = httpx.get(url + links[0].replace("&amp;", "&"))
    assert view.status_code == 200
    assert '<mark id="hit">' in view.text


def test_follow_up_questions_carry_the_conversation(url: str) -> None:
    client = Client(f"{url}/", verbose=False)
    first_chat, _ = client.predict(question=QUESTION, api_name="/ask")
    result = client.predict(question="Who owns it?", chat=first_chat, api_name="/ask")
    chat, textbox = result
    assert textbox == ""
    assert len(chat) == 4  # two questions, two answers
    assert "earlier turns" in last_reply(result)
    assert "TC Energy" in last_reply(result)


def test_settings_and_bad_input(url: str) -> None:
    client = Client(f"{url}/", verbose=False)
    reply = last_reply(client.predict(question=QUESTION, k=1, answerer="extractive", api_name="/ask"))
    assert "[1]" in reply
    first_chat, _ = client.predict(question=QUESTION, api_name="/ask")
    chat, textbox = client.predict(question="   ", chat=first_chat, api_name="/ask")
    assert (chat, textbox) == (first_chat, ""), "an empty question is ignored: no error, the chat stays"
    with pytest.raises(AppError, match="limit"):
        client.predict(question="x" * 2001, api_name="/ask")
    with pytest.raises(AppError):
        client.predict(question=QUESTION, k=11, api_name="/ask")


def test_not_found_shows_the_closest_passages(url: str) -> None:
    client = Client(f"{url}/", verbose=False)
    reply = last_reply(client.predict(question="What is the capital of France?", api_name="/ask"))
    assert "Not found in the documents" in reply
    assert reply.count('class="ad-src"') == 3


def test_the_embed_page_has_the_same_endpoint(url: str) -> None:
    client = Client(f"{url}/embed/", verbose=False)
    assert "[1]" in last_reply(client.predict(question=QUESTION, api_name="/ask"))


def test_client_with_the_access_token(full_assistant: Assistant) -> None:
    with serve(variant(full_assistant, access_token="s3cret")) as base:
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(f"{base}/", verbose=False)
        client = Client(f"{base}/", headers={"Authorization": "Bearer s3cret"}, verbose=False)
        assert "[1]" in last_reply(client.predict(question=QUESTION, api_name="/ask"))


def test_links_work_behind_a_proxy_prefix(full_assistant: Assistant) -> None:
    with behind_proxy(full_assistant, "/askdocs") as base:
        client = Client(f"{base}/", verbose=False)
        reply = last_reply(client.predict(question=QUESTION, api_name="/ask"))
        links = [h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', reply)]
        assert links
        assert all(link.startswith("/askdocs/api/documents/") for link in links)
        origin = base.removesuffix("/askdocs")
        view = httpx.get(origin + links[0])
        assert view.status_code == 200
        assert '<mark id="hit">' in view.text
