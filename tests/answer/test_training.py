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
    data = tiny_squad(tmp_path / "data", articles=8)
    model_dir = tmp_path / "model"
    checkpoint = tmp_path / "checkpoint"
    args = ["train-reader", "--data", str(data), "--out", str(tmp_path / "run"), "--model-dir", str(model_dir)]
    result = run_cli(*args, "--questions", "4", "--held-out", "2", "--checkpoint", str(checkpoint))
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

    # the float16 checkpoint records its recipe and the questions it saw
    state = json.loads((checkpoint / "training_state.json").read_text())
    assert state["recipe"]["context_prefix"] is True
    assert state["stages"][-1]["questions"] == [0, 4]
    assert '"dtype": "float16"' in (checkpoint / "config.json").read_text()


def test_a_checkpoint_continues_only_under_its_own_recipe(tmp_path: Path) -> None:
    data = tiny_squad(tmp_path / "data", articles=8)
    checkpoint = tmp_path / "checkpoint"
    first = ["train-reader", "--data", str(data), "--held-out", "2", "--model-dir", str(tmp_path / "model")]
    made = run_cli(*first, "--out", str(tmp_path / "a"), "--questions", "4", "--checkpoint", str(checkpoint))
    assert made.returncode == 0, made.stderr
    go_on = [*first, "--resume-from", str(checkpoint), "--questions", "2"]

    other_recipe = run_cli(*go_on, "--out", str(tmp_path / "b"), "--skip-questions", "4", "--seed", "14")
    assert other_recipe.returncode != 0
    assert "another recipe" in other_recipe.stderr
    assert "seed: checkpoint 13, now 14" in other_recipe.stderr

    seen_again = run_cli(*go_on, "--out", str(tmp_path / "c"), "--skip-questions", "0")
    assert seen_again.returncode != 0
    assert "--skip-questions 4" in seen_again.stderr, "it would retrain on questions it has seen"

    continued = run_cli(*go_on, "--out", str(tmp_path / "d"), "--skip-questions", "4", "--checkpoint", str(checkpoint))
    assert continued.returncode == 0, continued.stderr
    stages = json.loads((checkpoint / "training_state.json").read_text())["stages"]
    assert [stage["questions"] for stage in stages] == [[0, 4], [4, 6]]


def test_the_committed_checkpoint_refuses_near_misses_the_earlier_reader_answers() -> None:
    """Perturbed questions over the very passage that answers the original: SQuAD 2.0's kind of negative.

    The stage-2 reader (shipped, trained with other paragraphs as its only negatives) answers them as
    confidently as the original; the checkpoint trained with perturbed questions prefers "no answer".
    """
    from app.answer.reader import MODEL_DIR, context_prefix
    from app.answer.training import answer_scores

    passage = "Felipe Calderón addressed Parliament in 2010, the last Mexican president to do so."
    cost = "TC Energy put the final cost at about US$3.9 billion."
    prefix = context_prefix("Southeast Gateway pipeline", ["Cost"])
    asked = [
        (
            "In what year did Felipe Calderón address Parliament?",
            "In what year did Vicente Fox address Parliament?",
            "",
            passage,
        ),
        (
            "What did TC Energy put the final cost of the pipeline at?",
            "What did TC Energy put the final cost of the refinery at?",
            prefix,
            cost,
        ),
    ]
    checkpoint = MODEL_DIR / "checkpoint"
    shipped = Reader(MODEL_DIR)
    for original, perturbed, before, text in asked:
        new_original, new_perturbed = (
            answer_scores(checkpoint, original, [before + text])[0],
            answer_scores(checkpoint, perturbed, [before + text])[0],
        )
        assert new_original > 5.0, original
        assert new_perturbed < new_original - 5.0, f"the checkpoint tells {perturbed!r} from {original!r}"
        old_perturbed = shipped.read(perturbed, [text])[0].score
        assert old_perturbed > new_perturbed + 3.0, "the earlier reader answers the near miss"


def test_the_committed_float16_checkpoint_exports_to_a_reader_that_answers(tmp_path: Path) -> None:
    """Quantization takes float32 weights only: the export widens the float16 checkpoint first."""
    from app.answer.reader import MODEL_DIR
    from app.answer.training import export_reader

    export_reader(MODEL_DIR / "checkpoint", tmp_path)
    verify_model(tmp_path)
    exported = Reader(tmp_path)
    assert exported.reads_context, "the checkpoint was trained on 'title › heading: passage'"
    spans = exported.read(
        "In what year did Felipe Calderón address Parliament?",
        ["Felipe Calderón addressed Parliament in 2010, the last Mexican president to do so."],
        prefixes=["Canada–Mexico relations: "],
    )
    assert spans[0].text == "2010"
