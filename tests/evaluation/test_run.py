"""The evaluation runner as analysts use it: the CLI, real reports on disk."""

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from app.evaluation.metrics import normalize_space
from app.evaluation.run import EvalSetError, load_eval_set
from app.settings import Settings
from tests.conftest import CORPUS, ROOT
from tests.test_cli import run_cli

SMALL_SET = [
    {
        "id": "a",
        "question": "How much was bilateral trade between Canada and Mexico in 2024?",
        "answers": ["56 billion"],
        "evidence": ["bilateral trade hit C$56 billion"],
        "kind": "number",
        "split": "dev",
        "extra_field": "ignored",
    },
    {
        "id": "b",
        "question": "How long is it?",
        "answers": ["440"],
        "evidence": ["440-mile Southeast Gateway"],
        "history": ["What pipeline did TC Energy finish in Mexico?"],
        "kind": "followup",
        "split": "test",
    },
    {
        "id": "c",
        "question": "Who won the 2024 Stanley Cup?",
        "answers": [],
        "evidence": [],
        "answerable": False,
        "kind": "unanswerable",
        "split": "test",
    },
]


def write_set(path: Path, rows: Sequence[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_shipped_set_is_valid_and_its_evidence_is_in_the_corpus() -> None:
    from app.ingest.files import load_corpus

    items = load_eval_set(ROOT / "eval" / "questions.jsonl")
    assert len(items) >= 80
    assert sum(not i.answerable for i in items) / len(items) >= 0.15
    assert {i.split for i in items} == {"dev", "test"}
    texts = [normalize_space(d.text) for d in load_corpus(CORPUS, 20).documents]
    for item in items:
        for evidence in item.evidence:
            assert any(normalize_space(evidence) in t for t in texts), (item.id, evidence)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"id": "x", "question": "q", "answers": []}\n', "missing field 'evidence'"),
        ('{"id": "x", "question": "q", "answers": "56", "evidence": []}\n', "must be a list of strings"),
        ("not json\n", ":1:"),
        ('{"id": "x", "question": "q", "answers": [], "evidence": []}\n' * 2, "duplicate id"),
        ("", "no items"),
    ],
)
def test_malformed_sets_are_rejected_with_the_line(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "s.jsonl").write_text(content)
    with pytest.raises(EvalSetError, match=message):
        load_eval_set(tmp_path / "s.jsonl")


def test_split_filter(tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", SMALL_SET)
    assert [i.id for i in load_eval_set(path, "test")] == ["b", "c"]
    assert len(load_eval_set(path, "all")) == 3


def test_eval_limit_takes_the_first_items(small_index: Settings, tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", SMALL_SET)
    result = run_cli("eval", "--set", str(path), "--reports", str(tmp_path), "--limit", "2", settings=small_index)
    assert result.returncode == 0, result.stderr
    assert "| overall | 2 |" in result.stdout
    bad = run_cli("eval", "--set", str(path), "--reports", str(tmp_path), "--limit", "0", settings=small_index)
    assert bad.returncode == 2
    assert "--limit must be at least 1" in bad.stderr


def test_eval_command_writes_a_full_report_and_compares(small_index: Settings, tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", SMALL_SET)
    reports = tmp_path / "reports"
    first = run_cli("eval", "--set", str(path), "--reports", str(reports), "--label", "one", settings=small_index)
    assert first.returncode == 0, first.stderr
    assert "| overall | 3 |" in first.stdout
    assert "| followup |" in first.stdout
    assert "| unanswerable |" in first.stdout
    assert "short_answer_accuracy" in first.stdout
    assert "| confidence ≥ | 0 | 0.1 |" in first.stdout
    (folder,) = reports.iterdir()
    assert {p.name for p in folder.iterdir()} == {"results.jsonl", "summary.json", "summary.md", "report.html"}
    rows = [json.loads(line) for line in (folder / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "c"]
    assert {"text", "citations", "abstained"} <= set(rows[0]["answer"])
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["overall"]["items"] == 3
    assert "retrieve" in summary["latency_ms"]
    assert "short_answer_accuracy" in summary["overall"]
    assert summary["coverage"][0]["threshold"] == 0.0
    assert sum(b["count"] for b in summary["calibration"]) == summary["coverage"][0]["answered"]
    assert "Calibration" in (folder / "summary.md").read_text()
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3
    assert "http" not in html.split("<h2>Items")[0].replace(
        "http-equiv", ""
    )

    second = run_cli(
        "eval", "--set", str(path), "--reports", str(reports), "--label", "two", "-k", "1", settings=small_index
    )
    assert second.returncode == 0
    a, b = sorted(reports.iterdir())
    compared = run_cli("eval", "compare", str(a), str(b))
    assert compared.returncode == 0, compared.stderr
    assert "| overall | accuracy |" in compared.stdout
    assert "items flipped" in compared.stdout


def test_gate_fails_when_a_metric_drops_below_its_minimum(small_index: Settings, tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", SMALL_SET)
    gate = tmp_path / "thresholds.toml"
    gate.write_text('[overall]\naccuracy = 0.0\n"hit@5" = 1.01\n')
    result = run_cli(
        "eval", "--set", str(path), "--reports", str(tmp_path / "r"), "--gate", str(gate), settings=small_index
    )
    assert result.returncode == 1
    assert "GATE FAILED: hit@5" in result.stderr
    assert "accuracy" not in result.stderr


def test_malformed_gate_file_is_a_clear_error(small_index: Settings, tmp_path: Path) -> None:
    path = write_set(tmp_path / "s.jsonl", SMALL_SET[:1])
    (tmp_path / "gate.toml").write_text("[overall]\nhit@5 = 1\n")
    result = run_cli(
        "eval",
        "--set",
        str(path),
        "--reports",
        str(tmp_path / "r"),
        "--gate",
        str(tmp_path / "gate.toml"),
        settings=small_index,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("askdocs: error: gate file")
    assert "Traceback" not in result.stderr
