"""A scripted OpenAI-compatible chat server on 127.0.0.1, for testing the LLM answerer over real HTTP.

The request's "model" names the scenario: one registered in `ScriptedLLM.scenarios`, a built-in one
("malformed", "http500", "slow", "slow-stream", "no-done"), or "fixed:<url-encoded text>". Both plain
JSON replies and SSE streams (`"stream": true`) are served. Every request is recorded in `requests`.
"""

from __future__ import annotations

import contextlib
import json
import threading
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Scenario:
    text: str = ""  # the completion
    status: int = 200
    raw_body: bytes | None = None  # sent as-is instead of a chat completion (e.g. invalid JSON)
    delay_s: float = 0.0  # before the response starts
    chunk_delay_s: float = 0.0  # between streamed chunks
    chunks: int = 4  # how many deltas a streamed reply is cut into
    send_done: bool = True  # end the stream with "data: [DONE]"


@dataclass(frozen=True)
class Recorded:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, str]]:
        return list(self.body["messages"])


BUILTIN = {
    "malformed": Scenario(raw_body=b'{"choices": [{"message": {"content": "cut off'),
    "http500": Scenario(status=500, raw_body=b'{"error": {"message": "scripted internal error"}}'),
    "slow": Scenario(text="Too late [1].", delay_s=10.0),  # longer than any test's client timeout
    "slow-stream": Scenario(text="Slow but steady wins the race [1].", chunk_delay_s=0.05, chunks=6),
    "no-done": Scenario(text="The stream stops [1].", send_done=False),
}


@dataclass
class ScriptedLLM:
    scenarios: dict[str, Scenario] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def scenario(self, model: str) -> Scenario | None:
        if model.startswith("fixed:"):
            return Scenario(text=urllib.parse.unquote(model.removeprefix("fixed:")))
        return self.scenarios.get(model) or BUILTIN.get(model)

    def start(self) -> ScriptedLLM:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        server.block_on_close = False  # a "slow" handler must not hold up the test's teardown
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes sleeping "slow" handlers
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def sleep(self, seconds: float) -> None:
        self._stop.wait(seconds)


def _handler(script: ScriptedLLM) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (ScriptedHandler,), {"script": script})


class ScriptedHandler(BaseHTTPRequestHandler):
    script: ScriptedLLM  # set on the subclass `_handler` makes for each server

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(length) or b"{}")
        self.script.requests.append(Recorded(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        scenario = self.script.scenario(str(body.get("model", "")))
        if self.path != "/v1/chat/completions" or scenario is None:
            self._send(404, json.dumps({"error": {"message": f"unknown path or model {body.get('model')!r}"}}))
            return
        self.script.sleep(scenario.delay_s)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
            self._reply(scenario, bool(body.get("stream")))

    def _reply(self, scenario: Scenario, streaming: bool) -> None:
        if scenario.raw_body is not None or scenario.status != 200:
            self._send(scenario.status, scenario.raw_body or b"")
        elif streaming:
            self._stream(scenario)
        else:
            message = {"role": "assistant", "content": scenario.text}
            reply = {"object": "chat.completion", "choices": [{"index": 0, "message": message}]}
            self._send(200, json.dumps(reply))

    def _send(self, status: int, body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, scenario: Scenario) -> None:
        # HTTP/1.0 without Content-Length: the body ends when the connection closes, as SSE allows.
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        events: list[dict[str, Any]] = [{"delta": {"role": "assistant"}}]
        events += [{"delta": {"content": piece}} for piece in _pieces(scenario.text, scenario.chunks)]
        events.append({"delta": {}, "finish_reason": "stop"} if scenario.send_done else {"delta": {}})
        for event in events:
            chunk = {"object": "chat.completion.chunk", "choices": [{"index": 0, **event}]}
            self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
            self.wfile.flush()
            self.script.sleep(scenario.chunk_delay_s)
        if scenario.send_done:
            self.wfile.write(b"data: [DONE]\n\n")


def _pieces(text: str, n: int) -> list[str]:
    """`text` cut into about n pieces at spaces (the spaces stay, so the pieces join back exactly)."""
    words = text.split(" ")
    size = max(1, -(-len(words) // max(1, n)))
    groups = [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    return [g + (" " if i < len(groups) - 1 else "") for i, g in enumerate(groups)]


@pytest.fixture
def llm_server() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()
