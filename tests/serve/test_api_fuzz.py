"""Schemathesis against the live server's /openapi.json: generated requests for every operation,
bounded in number and seeded, must never get a 5xx (the probe ran 18,000 such cases)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.assistant import Assistant
from app.index.build import build_index
from app.index.embedding import Embedder
from tests.conftest import SMALL_CORPUS, copy_corpus, make_settings
from tests.server import serve

EXAMPLES_PER_OPERATION = 20
SEED = "20261130"


def test_no_generated_request_gets_a_server_error(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", SMALL_CORPUS)
    settings = make_settings(tmp_path, allow_uploads=True)  # uploads on: the upload route is fuzzed too
    build_index(settings, embedder=embedder)
    schemathesis = Path(sys.executable).parent / "st"
    with serve(Assistant.load(settings, embedder=embedder)) as url:
        run = subprocess.run(
            [
                str(schemathesis),
                "run",
                f"{url}/openapi.json",
                "--checks",
                "not_a_server_error",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--seed",
                SEED,
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=540,
        )
    summary = run.stdout[run.stdout.rfind("SUMMARY") :]
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "passed" in summary
