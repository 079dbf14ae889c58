"""A bounded load test: 8 clients asking for 30 s while the index is rebuilt and swapped twice under them.

Zero errors is the assertion; throughput and p95 latency are printed (figures, not assertions: the
machine is shared). The swaps are real builds, made the way `askdocs index` makes them, and the
server switches to each between questions.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import httpx
import pytest

from app.assistant import Assistant
from app.evaluation.metrics import percentile
from app.index.build import build_index
from app.index.embedding import Embedder
from tests.conftest import SMALL_CORPUS, copy_corpus, make_settings
from tests.server import serve

CLIENTS = 8
SECONDS = 30.0
QUESTIONS = (
    "What pipeline did TC Energy finish in Mexico?",
    "Who is Mark Carney?",
    "How long is the Southeast Gateway pipeline?",
    "Who won the 2024 Stanley Cup?",
)


def test_eight_clients_get_no_errors_across_two_live_index_swaps(
    tmp_path: Path, embedder: Embedder, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = copy_corpus(tmp_path / "corpus", SMALL_CORPUS)
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    latencies: list[float] = []
    errors: list[str] = []
    stop = threading.Event()

    with serve(Assistant.load(settings.serving())) as url:  # as `askdocs serve` runs: one onnxruntime thread each

        def client(number: int) -> None:
            with httpx.Client(base_url=url, timeout=60) as http:
                n = number
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        response = http.post("/api/ask", json={"question": QUESTIONS[n % len(QUESTIONS)]})
                        if response.status_code != 200 or "text" not in response.json():
                            errors.append(f"{response.status_code}: {response.text[:200]}")
                    except httpx.HTTPError as exc:
                        errors.append(repr(exc))
                    latencies.append(time.perf_counter() - started)
                    n += 1

        builds = {httpx.get(f"{url}/healthz").json()["index_build"]}
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for swap in range(2):
            time.sleep(SECONDS / 3)
            (corpus / f"bulletin-{swap}.md").write_text(f"# Bulletin {swap}\n\nThe harbour has {swap + 4} tugboats.\n")
            build_index(settings, embedder=embedder)
            deadline = time.monotonic() + 60
            while httpx.get(f"{url}/healthz").json()["index_build"] in builds and time.monotonic() < deadline:
                time.sleep(0.2)
            builds.add(httpx.get(f"{url}/healthz").json()["index_build"])
        time.sleep(max(0.0, SECONDS - (time.perf_counter() - started)))
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started

    assert errors == []
    assert len(builds) == 3  # the first build and two swaps, each served in turn
    with capsys.disabled():
        print(
            f"\nload test: {CLIENTS} clients, {elapsed:.0f} s, {len(latencies)} answers, "
            f"{len(latencies) / elapsed:.1f} answers/s, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 95) * 1000:.0f} ms, 0 errors, 2 index swaps; "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
        )
