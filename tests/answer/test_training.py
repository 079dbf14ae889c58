"""`askdocs train-reader` end to end on a tiny SQuAD-format file: train, resume, export, load, check."""

import gzip
import json
from pathlib import Path

from app.answer.reader import Reader, verify_model
from tests.test_cli import run_cli

FACTS = [
    ("Ottawa", "What is the capital of Canada?", "The capital of Canada is Ottawa, on the Ottawa River's south bank."),
    ("1867", "When was Canada founded?", "Canada was founded by Confederation in 1867 with four provinces."),
    ("Toronto", "Which city is the largest in Canada?", "The largest Canadian city by population is Toronto."),
]


def tiny_squad(folder: Path, articles: int = 6) -> Path:
    """`articles` small articles, each with two paragraphs (one answers, one is a near miss)."""
    data = []
    for a in range(articles):
        answer, question, context = FACTS[a % len(FACTS)]
        other = f"Article {a} also mentions a river, a lake and a mountain range in the north."
        answers = [{"text": answer, "answer_start": context.index(answer)}]
        qas = [{"id": f"{a}#0#0", "question": question, "answers": answers}]
        paragraphs = [{"context": context, "qas": qas}, {"context": other, "qas": []}]
        data.append({"title": f"Article {a}", "paragraphs": paragraphs})
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "squad-v1.1-train.json.gz", "wt", encoding="utf-8") as handle:
        json.dump({"version": "1.1", "data": data}, handle)
    return folder


def test_train_reader_trains_exports_and_reports(tmp_path: Path) -> None:
    data = tiny_squad(tmp_path / "data")
    model_dir = tmp_path / "model"
    args = ["train-reader", "--data", str(data), "--out", str(tmp_path / "run"), "--model-dir", str(model_dir)]
    result = run_cli(*args, "--questions", "4", "--held-out", "2")
    assert result.returncode == 0, result.stderr
    assert "exact match" in result.stdout
    assert "no-answer AUC" in result.stdout
    log = json.loads((tmp_path / "run" / "train_log.json").read_text())
    assert log["config"]["seed"] == 13
    assert log["data_sha256"]
    assert len(log["held_out_titles"]) == 2
    verify_model(model_dir)  # checksums written by the export match
    spans = Reader(model_dir).read("What is the capital of Canada?", [FACTS[0][2]])
    assert all(FACTS[0][2][s.start : s.end] == s.text for s in spans)

    again = run_cli(*args, "--questions", "4", "--held-out", "2")  # finished run: resumes, nothing to redo
    assert again.returncode == 0, again.stderr
    assert json.loads((tmp_path / "run" / "train_log.json").read_text())["resumed"] is True
