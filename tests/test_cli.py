"""The `askdocs` command as a user runs it: a real process, real files."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.assistant import Assistant
from app.index.build import build_index
from app.index.embedding import Embedder
from app.settings import Settings
from app.types import CLOSEST_PASSAGES
from tests.conftest import ROOT, SMALL_CORPUS, copy_corpus, make_settings
from tests.server import behind_proxy, free_port, serve, variant

TOKEN = "s3cret"
QUESTION = "What pipeline did TC Energy finish in Mexico?"


def run_cli(
    *args: str, settings: Settings | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_python(["-m", "app.cli", *args], settings, cwd, env)


def run_python(
    args: list[str], settings: Settings | None = None, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Python run with `args`, its ASKDOCS_* variables only those of `settings`' folders and `env`."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    # a port nobody listens on, so a developer's running `askdocs serve` never answers for the test
    environment["ASKDOCS_PORT"] = str(free_port())
    if settings is not None:
        environment.update(ASKDOCS_CORPUS_DIR=str(settings.corpus_dir), ASKDOCS_INDEX_DIR=str(settings.index_dir))
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, *args], env=environment, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def server_env(url: str, **settings: str) -> dict[str, str]:
    """ASKDOCS_* variables pointing the CLI at the server at `url` (host, port, root path)."""
    parts = urlsplit(url)
    env = {"ASKDOCS_HOST": str(parts.hostname), "ASKDOCS_PORT": str(parts.port), "ASKDOCS_ROOT_PATH": parts.path}
    return env | {f"ASKDOCS_{name.upper()}": value for name, value in settings.items()}


def test_help_is_fast_and_does_not_import_torch() -> None:
    code = (
        "import sys\nfrom app.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('torch' in sys.modules, 'gradio' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert "askdocs index" in result.stdout
    assert result.stdout.strip().endswith("False False")


def test_search_prints_the_right_passage_first(small_index: Settings) -> None:
    result = run_cli("search", "How much was bilateral trade in 2024?", settings=small_index)
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0:2]
    assert first[0].startswith("[1]")
    assert "carney-mexico-visit.md#" in first[0]
    assert "C$56 billion" in first[1]
    assert "server" not in result.stderr  # none runs on run_cli's port: the index was loaded here


def test_search_json_has_spans_and_scores(small_index: Settings) -> None:
    result = run_cli("search", "Who is the Prime Minister of Canada?", "-k", "3", "--json", settings=small_index)
    passages = json.loads(result.stdout)
    assert len(passages) == 3
    assert {"chunk", "rank", "score", "dense_score", "lexical_score"} <= set(passages[0])
    chunk = passages[0]["chunk"]
    assert chunk["end"] - chunk["start"] == len(chunk["text"])


def test_index_command_reports_counts_and_skipped_files(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "note.txt").write_text("The Southeast Gateway pipeline runs under the Gulf of Mexico.\n")
    (corpus / "empty.md").write_text("")
    settings = Settings(corpus_dir=corpus, index_dir=tmp_path / "index")
    result = run_cli("index", settings=settings)
    assert result.returncode == 0, result.stderr
    assert "indexed 1 documents, 1 chunks (1 embedded, 0 reused)" in result.stdout
    assert "skipped empty.md: is empty" in result.stderr


def test_errors_are_one_line_messages_not_tracebacks(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    result = run_cli("search", "anything", settings=settings)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == f"askdocs: error: no index in {tmp_path / 'index'}/; run `askdocs index` to build it"
    )
    bad = run_cli("search", "x", cwd=tmp_path) if (tmp_path / "askdocs.toml").write_text("nope = 1\n") else None
    assert bad is not None
    assert bad.returncode == 2
    assert "unknown setting 'nope'" in bad.stderr


def test_bench_sizes_must_be_whole_numbers_of_chunks() -> None:
    # the whole bench runs in tests/evaluation/test_bench.py; here only what the command line accepts
    for bad in ("ten", "0", ""):
        result = run_cli("bench", "--sizes", bad)
        assert result.returncode == 2
        assert "argument --sizes: invalid" in result.stderr


# --- the fast path: a running server answers ------------------------------------------------------


@pytest.fixture(scope="module")
def small_assistant(small_index: Settings, embedder: Embedder) -> Assistant:
    return Assistant.load(small_index, embedder=embedder)


@pytest.fixture(scope="module")
def server_url(small_assistant: Assistant) -> Iterator[str]:
    with serve(small_assistant) as url:
        yield url


def test_ask_and_search_go_to_a_running_server(server_url: str, tmp_path: Path) -> None:
    # tmp_path has no index: only the server can answer
    answer = run_cli("ask", QUESTION, cwd=tmp_path, env=server_env(server_url))
    assert answer.returncode == 0, answer.stderr
    assert "Southeast Gateway" in answer.stdout
    assert "[1] " in answer.stdout
    assert f"answered by the askdocs server at {server_url}" in answer.stderr
    follow_up = run_cli("ask", "How long is it?", "--history", QUESTION, cwd=tmp_path, env=server_env(server_url))
    assert "440" in follow_up.stdout
    assert "searched: How long is the pipeline?" in follow_up.stdout, "read as a standalone question"
    search = run_cli("search", "bilateral trade 2024", "-k", "3", "--json", cwd=tmp_path, env=server_env(server_url))
    assert search.returncode == 0, search.stderr
    assert [p["rank"] for p in json.loads(search.stdout)] == [1, 2, 3]
    assert "answered by the askdocs server" in search.stderr


def test_the_server_prints_what_loading_here_prints(server_url: str, small_index: Settings) -> None:
    for command in (["ask", "How long is it?", "--history", QUESTION], ["search", "bilateral trade 2024"]):
        remote = run_cli(*command, settings=small_index, env=server_env(server_url))
        local = run_cli(*command, "--local", settings=small_index, env=server_env(server_url))
        assert local.returncode == remote.returncode == 0, local.stderr + remote.stderr
        assert remote.stdout == local.stdout
        assert "answered by" in remote.stderr
        assert "server" not in local.stderr


def test_the_access_token_is_sent(small_assistant: Assistant, tmp_path: Path) -> None:
    with serve(variant(small_assistant, access_token=TOKEN)) as url:
        answered = run_cli("ask", QUESTION, cwd=tmp_path, env=server_env(url, access_token=TOKEN))
        refused = run_cli("ask", QUESTION, cwd=tmp_path, env=server_env(url, access_token="wrong"))
    assert answered.returncode == 0, answered.stderr
    assert "Southeast Gateway" in answered.stdout
    # a refused request is said on stderr, then the CLI answers here: no index here, so an error
    assert refused.returncode == 2
    assert f"the server at {url} did not answer (HTTP 401" in refused.stderr
    assert "no index in index/" in refused.stderr


def test_the_server_is_found_under_its_root_path(small_assistant: Assistant, tmp_path: Path) -> None:
    with behind_proxy(small_assistant, "/askdocs") as url:  # only /askdocs/... answers
        result = run_cli("search", "pipeline", "-k", "1", cwd=tmp_path, env=server_env(url))
    assert result.returncode == 0, result.stderr
    assert f"answered by the askdocs server at {url}" in result.stderr


def test_local_loads_the_index_here_even_with_a_server(server_url: str, tmp_path: Path) -> None:
    result = run_cli("ask", QUESTION, "--local", cwd=tmp_path, env=server_env(server_url))
    assert result.returncode == 2
    assert "no index in index/" in result.stderr
    assert "server" not in result.stderr


# --- loading only what the command needs -----------------------------------------------------------


def test_bm25_search_needs_no_embedding_model(tmp_path: Path, embedder: Embedder) -> None:
    # the index records a model folder that does not exist: anything that embeds fails
    copy_corpus(tmp_path / "corpus", SMALL_CORPUS)
    settings = make_settings(tmp_path, model=str(tmp_path / "no-such-model"))
    build_index(settings, embedder=embedder)
    env = {"ASKDOCS_MODEL": settings.model}
    bm25 = run_cli("search", "bilateral trade 2024", "--mode", "bm25", "-k", "1", settings=settings, env=env)
    assert bm25.returncode == 0, bm25.stderr
    assert "carney-mexico-visit.md#" in bm25.stdout
    hybrid = run_cli("search", "bilateral trade 2024", "-k", "1", settings=settings, env=env)
    assert hybrid.returncode == 2
    assert "model folder not found" in hybrid.stderr


def test_search_loads_neither_the_reader_nor_torch(small_index: Settings) -> None:
    code = (  # counts the onnxruntime sessions made (the library's class, wrapped)
        "import sys, onnxruntime\nmade = []\n"
        "class Counted(onnxruntime.InferenceSession):\n"
        "    def __init__(self, path, *args, **kwargs):\n"
        "        made.append(path)\n"
        "        super().__init__(path, *args, **kwargs)\n"
        "onnxruntime.InferenceSession = Counted\n"
        "from app.cli import main\n"
        "assert main(sys.argv[1:]) == 0\n"
        "print('torch:', 'torch' in sys.modules, 'onnxruntime sessions:', len(made))"
    )
    loaded = {}
    for mode in ("bm25", "hybrid"):
        result = run_python(["-c", code, "search", "pipeline", "--mode", mode], settings=small_index)
        assert result.returncode == 0, result.stderr
        loaded[mode] = result.stdout.strip().splitlines()[-1]
    # hybrid: the onnx encoder's one session (its export is cached by then), not the reader's
    assert loaded == {"bm25": "torch: False onnxruntime sessions: 0", "hybrid": "torch: False onnxruntime sessions: 1"}


# --- JSON: compact by default, --full for everything ----------------------------------------------


def test_json_is_compact_and_full_has_every_passage(server_url: str, tmp_path: Path) -> None:
    env = server_env(server_url)
    answered = json.loads(run_cli("ask", QUESTION, "--json", cwd=tmp_path, env=env).stdout)
    assert answered["citations"]
    assert answered["passages"] == []
    not_found = run_cli("ask", "Who won the 2024 Stanley Cup?", "--json", cwd=tmp_path, env=env).stdout
    full = run_cli("ask", "Who won the 2024 Stanley Cup?", "--full", cwd=tmp_path, env=env).stdout
    compact, whole = json.loads(not_found), json.loads(full)
    assert compact["abstained"] is whole["abstained"] is True
    assert [p["chunk"]["id"] for p in compact["passages"]] == [
        p["chunk"]["id"] for p in whole["passages"][:CLOSEST_PASSAGES]
    ]
    assert set(compact["passages"][0]) == {"chunk", "rank", "score"}
    assert len(whole["passages"]) == Settings().show_passages
    assert {"dense_score", "lexical_score"} <= set(whole["passages"][0])
    assert len(not_found) * 4 < len(full)
