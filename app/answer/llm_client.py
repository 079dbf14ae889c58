"""HTTP client for an OpenAI-compatible chat-completions endpoint: the whole reply, or its text deltas.

It knows messages and settings, nothing about passages or citations. Every failure (no LLM configured,
an unreachable server, a timeout, an HTTP error status, a malformed reply or event, a stream cut before
[DONE]) becomes one LLMError with a one-line message, so callers need to catch only that. The timeout
applies to each network operation (httpx semantics), not the total.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager

import httpx

from app.errors import AskdocsError
from app.settings import Settings


class LLMError(AskdocsError, RuntimeError):
    """The LLM could not be reached or gave no usable reply (always a one-line message)."""


def complete(messages: Sequence[Mapping[str, str]], settings: Settings) -> str:
    """The model's whole reply (non-streaming). Raises LLMError on any failure."""
    url, body, headers = _request(messages, settings, streaming=False)
    with _http_errors(url, settings), httpx.Client(timeout=settings.llm_timeout_s) as client:
        response = client.post(url, json=body, headers=headers)
        _check_status(response)
    try:
        content = response.json()["choices"][0]["message"]["content"]
        if not isinstance(content, str):
            raise TypeError
    except (ValueError, KeyError, IndexError, TypeError):
        raise LLMError(f"{url} sent no valid chat completion: {_one_line(response.text)}") from None
    return content


def stream(messages: Sequence[Mapping[str, str]], settings: Settings) -> Iterator[str]:
    """The reply as text deltas from server-sent events. Raises LLMError on any failure, even mid-stream."""
    url, body, headers = _request(messages, settings, streaming=True)
    finished = False
    with (
        _http_errors(url, settings),
        httpx.Client(timeout=settings.llm_timeout_s) as client,
        client.stream("POST", url, json=body, headers=headers) as response,
    ):
        if response.status_code >= 400:
            response.read()  # the error body says why; worth quoting
            _check_status(response)
        for line in response.iter_lines():
            if not line.startswith("data:"):  # blank separators, ": keep-alive" comments, event:/id: fields
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                finished = True
                break
            delta, done = _parse_event(data, url)
            finished = finished or done
            if delta:
                yield delta
    if not finished:  # a dropped connection can look like a clean end of the body
        raise LLMError(f"the stream from {url} ended before [DONE]")


def _request(
    messages: Sequence[Mapping[str, str]], settings: Settings, streaming: bool
) -> tuple[str, dict[str, object], dict[str, str]]:
    """URL, JSON body and headers of one chat-completions call."""
    if not settings.llm_configured:
        raise LLMError("no LLM configured (set llm_base_url and llm_model)")
    url = settings.llm_base_url.rstrip("/") + "/chat/completions"
    body = {"model": settings.llm_model, "messages": [dict(m) for m in messages], "temperature": 0}
    body |= {"max_tokens": settings.llm_max_tokens, "stream": streaming}
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    return url, body, headers


@contextmanager
def _http_errors(url: str, settings: Settings) -> Iterator[None]:
    """httpx's exceptions → one LLMError each, so callers need to catch only that."""
    try:
        yield
    except httpx.TimeoutException:
        raise LLMError(f"no reply from {url} within {settings.llm_timeout_s:g} s") from None
    except httpx.HTTPError as exc:
        raise LLMError(f"cannot talk to {url}: {_one_line(str(exc) or type(exc).__name__)}") from None


def _check_status(response: httpx.Response) -> None:
    if response.status_code >= 400:
        detail = _one_line(response.text)
        raise LLMError(f"{response.url} answered HTTP {response.status_code}" + (f": {detail}" if detail else ""))


def _parse_event(data: str, url: str) -> tuple[str, bool]:
    """(text delta, whether the choice finished) from one event's data; servers may also send an error object."""
    try:
        choices = json.loads(data)["choices"]
        if not choices:  # e.g. a final usage-only chunk
            return "", False
        content = choices[0]["delta"].get("content") or ""
        if not isinstance(content, str):
            raise TypeError
        return content, bool(choices[0].get("finish_reason"))
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise LLMError(f"{url} streamed a malformed event: {_one_line(data)}") from None


def _one_line(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
