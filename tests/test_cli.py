"""The `askdocs` command as a user runs it: a real process, real files."""

import json
import os
import subprocess
import sys
from pathlib import Path

from app.settings import Settings
from tests.conftest import ROOT


def run_cli(*args: str, settings: Settings | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    if settings is not None:
        env.update(ASKDOCS_CORPUS_DIR=str(settings.corpus_dir), ASKDOCS_INDEX_DIR=str(settings.index_dir))
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


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
