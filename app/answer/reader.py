"""The reader model: (question, passage) → the short answer span in the passage, or "no answer".

A MiniLM-L6 cross-encoder with a span head, trained here from the packaged all-MiniLM-L6-v2
(`app/answer/training.py`, model card in `reader_model/MODEL_CARD.md`), exported to ONNX and
quantized to int8, so answering needs onnxruntime and the `tokenizers` library, not torch.
Its session comes from `app/index/onnx_session.py`, the one module that imports onnxruntime.

For each passage the model gives every token a start and an end logit. The best span is the
(start, end) pair with the highest start + end within the passage; "no answer" is the pair
pointing at [CLS]. The span's *answer score* is best span − no answer (the SQuAD 2.0 recipe):
above a threshold calibrated on held-out data the passage answers the question.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.answer.calibration import CALIBRATION_FILE, UNCALIBRATED, Calibration
from app.errors import ModelError
from app.index.onnx_session import open_session
from app.index.store import file_hash
from app.settings import Settings

MODEL_DIR = Path(__file__).resolve().parent / "reader_model"
MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CHECKSUMS_FILE = "checksums.json"
READER_FILE = "reader.json"  # how the model reads: {"context_prefix": true} when trained on "title: passage"
MAX_LENGTH = 192  # tokens per window; a 400-character chunk and a question fit in one
STRIDE = 48  # tokens shared by consecutive windows of a longer passage
MAX_ANSWER_TOKENS = 30
TOP_TOKENS = 20  # start and end candidates tried per window


PREFIX_SEPARATOR = " › "


def context_prefix(title: str, headings: Sequence[str] = ()) -> str:
    """What the reader reads before a passage: "title › heading › subheading: ".

    A passage's facts often name their subject only in its heading ("Born: 1961 in Halifax" under
    "Graeme Clark"); the reader is trained with the same prefix (SQuAD's article titles).
    """
    parts = [" ".join(p.split()) for p in (title, *headings) if p.strip()]
    return f"{PREFIX_SEPARATOR.join(parts)}: " if parts else ""


@dataclass(frozen=True)
class Span:
    """A candidate answer: `text == passages[passage][start:end]`."""

    passage: int  # index into the passages that were read
    start: int  # character offsets into that passage's text
    end: int
    text: str
    score: float  # answer score: span logits − no-answer logits; > 0 means the model prefers the span


class Reader:
    """Loads lazily; safe to share between threads (onnxruntime sessions are)."""

    def __init__(self, model_dir: Path = MODEL_DIR, threads: int = Settings.reader_threads) -> None:
        self.model_dir = model_dir
        self.threads = threads  # intra-op threads of its session (the reader_threads setting)
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    @property
    def reads_context(self) -> bool:
        """Whether the model was trained to read a context prefix before each passage (`context_prefix`)."""
        try:
            return bool(json.loads((self.model_dir / READER_FILE).read_text(encoding="utf-8"))["context_prefix"])
        except (OSError, ValueError, KeyError, TypeError):
            return False  # the readers before the prefix have no reader.json

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                from tokenizers import Tokenizer

                verify_model(self.model_dir)
                self._session = open_session(self.model_dir / MODEL_FILE, self.threads)
                tokenizer = Tokenizer.from_file(str(self.model_dir / TOKENIZER_FILE))
                tokenizer.enable_truncation(MAX_LENGTH, stride=STRIDE, strategy="only_second")
                tokenizer.no_padding()
                self._tokenizer = tokenizer
        return self._session, self._tokenizer

    def read(
        self, question: str, passages: Sequence[str], per_passage: int = 3, prefixes: Sequence[str] = ()
    ) -> list[Span]:
        """Up to `per_passage` best spans of each passage (no overlapping duplicates), best first.

        `prefixes[i]` (`context_prefix`) is read before passage i; spans never fall in it.
        """
        if not passages:
            return []
        prefixes = list(prefixes) or [""] * len(passages)
        session, tokenizer = self._load()
        windows: list[tuple[int, Any]] = []  # (passage index, encoding of one window)
        pairs = [(question, prefix + p) for prefix, p in zip(prefixes, passages, strict=True)]
        for i, encoding in enumerate(tokenizer.encode_batch(pairs)):
            windows += [(i, w) for w in (encoding, *encoding.overflowing)]
        start_logits, end_logits = self._run(session, [w for _, w in windows])
        found: dict[int, list[Span]] = {}
        for (i, window), starts, ends in zip(windows, start_logits, end_logits, strict=True):
            spans = window_spans(window, starts, ends, pairs[i][1], i, len(prefixes[i]))
            found.setdefault(i, []).extend(spans)
        spans = []
        for candidates in found.values():
            spans += _distinct(sorted(candidates, key=lambda s: -s.score))[:per_passage]
        return sorted(spans, key=lambda s: -s.score)

    @staticmethod
    def _run(session: Any, windows: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
        width = max(len(w.ids) for w in windows)
        shape = (len(windows), width)
        ids, mask, types = np.zeros(shape, np.int64), np.zeros(shape, np.int64), np.zeros(shape, np.int64)
        for row, w in enumerate(windows):
            n = len(w.ids)
            ids[row, :n], mask[row, :n], types[row, :n] = w.ids, w.attention_mask, w.type_ids
        starts, ends = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        return np.asarray(starts), np.asarray(ends)


def window_spans(
    window: Any, starts: np.ndarray, ends: np.ndarray, text: str, index: int, prefix: int = 0
) -> list[Span]:
    """Every plausible span of one window, scored against the window's own no-answer logits.

    `text` is what was read: a prefix of `prefix` characters, then the passage; offsets are the passage's.
    """
    in_passage = [s == 1 and o[0] >= prefix for s, o in zip(window.sequence_ids, window.offsets, strict=True)]
    context = np.array(in_passage + [False] * (len(starts) - len(window.ids)))
    if not context.any():
        return []
    null = float(starts[0] + ends[0])
    masked_starts = np.where(context, starts, -np.inf)
    masked_ends = np.where(context, ends, -np.inf)
    top_starts = np.argsort(-masked_starts)[:TOP_TOKENS]
    top_ends = np.argsort(-masked_ends)[:TOP_TOKENS]
    spans = []
    for s in top_starts:
        for e in top_ends:
            if not (context[s] and context[e]) or e < s or e - s >= MAX_ANSWER_TOKENS:
                continue
            start, end = window.offsets[s][0], window.offsets[e][1]
            score = float(starts[s] + ends[e]) - null
            spans.append(Span(index, start - prefix, end - prefix, text[start:end], score))
    return spans


def _distinct(spans: Sequence[Span]) -> list[Span]:
    """Drop spans that overlap a better one: "C$56 billion" and "56 billion" are one answer."""
    kept: list[Span] = []
    for span in spans:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return kept


def load_calibration(model_dir: Path = MODEL_DIR) -> Calibration:
    """The calibration fitted for this model (`askdocs calibrate-reader`), checked against checksums.json.

    A model folder without one (a reader just trained) answers by the reader's score alone.
    """
    path = model_dir / CALIBRATION_FILE
    if not path.is_file():
        return UNCALIBRATED
    expected = json.loads((model_dir / CHECKSUMS_FILE).read_text(encoding="utf-8")).get(CALIBRATION_FILE)
    if expected != file_hash(path):
        raise ModelError(f"reader calibration {path} is damaged or not listed in {CHECKSUMS_FILE}; restore it from git")
    try:
        return Calibration.load(path)
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"reader calibration {path} cannot be read ({exc})") from None


def verify_model(model_dir: Path) -> None:
    """Every file listed in checksums.json must be there with that SHA-256, or ModelError."""
    try:
        expected = json.loads((model_dir / CHECKSUMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"reader model in {model_dir} has no readable {CHECKSUMS_FILE} ({exc})") from None
    for name in (MODEL_FILE, TOKENIZER_FILE):
        path = model_dir / name
        if name not in expected:
            raise ModelError(f"{CHECKSUMS_FILE} in {model_dir} does not list {name}")
        if not path.is_file():
            raise ModelError(f"reader model file {path} is missing")
        if file_hash(path) != expected[name]:
            raise ModelError(f"reader model file {path} is damaged (checksum mismatch); restore it from git")
