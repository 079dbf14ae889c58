"""The two encoders on real text: the int8 ONNX export against sentence-transformers, and its cache."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from app.index import onnx_encoder
from app.index.embedding import Embedder, resolve_model_path
from app.ingest.chunking import chunk_documents
from app.ingest.files import load_corpus
from app.settings import Settings
from tests.conftest import CORPUS


@pytest.fixture(scope="module")
def chunk_texts() -> list[str]:
    documents = load_corpus(CORPUS, 20).documents
    return [c.embedding_text() for c in chunk_documents(documents, 400, 60)][:120]


def test_onnx_vectors_are_close_to_torch_vectors(embedder: Embedder, chunk_texts: list[str]) -> None:
    assert embedder.encoder == "onnx"
    torch_vectors = Embedder.from_settings(Settings(encoder="torch")).encode(chunk_texts)
    onnx_vectors = embedder.encode(chunk_texts)
    assert onnx_vectors.shape == torch_vectors.shape == (len(chunk_texts), 384)
    assert np.allclose(np.linalg.norm(onnx_vectors, axis=1), 1.0, atol=1e-5)
    cosines = (onnx_vectors * torch_vectors).sum(axis=1)
    assert cosines.mean() > 0.993  # measured 0.9938 (0.9933 in length-sorted runs of 32)
    assert cosines.min() > 0.985  # measured 0.988


def test_a_texts_vector_depends_on_its_text_alone(embedder: Embedder, chunk_texts: list[str]) -> None:
    texts = ["Ports.", *chunk_texts[:9], "Who is the prime minister of Canada?"]  # lengths in no order
    alone = np.stack([embedder.encode([text])[0] for text in texts])
    assert embedder.onnx_batch_size == 1
    assert np.array_equal(embedder.encode(texts), alone)  # int8 activations scaled per text, not per batch


def test_length_sorted_batches_come_back_in_input_order(chunk_texts: list[str]) -> None:
    texts = ["Ports.", *chunk_texts[:9], "Who is the prime minister of Canada?"]
    batched = Embedder.from_settings(Settings(onnx_batch_size=4))
    together = batched.encode(texts)
    alone = np.stack([batched.encode([text])[0] for text in texts])
    # a text's vector moves a little with its batch-mates (measured cosine 0.984 at worst over the corpus's
    # chunks), no more; in input order, each row is closest to its own text
    assert ((together * alone).sum(axis=1) > 0.975).all()
    assert not np.array_equal(together, alone)
    assert list((together @ alone.T).argmax(axis=1)) == list(range(len(texts)))


def test_export_is_cached_verified_and_keyed_by_the_weights(tmp_path: Path) -> None:
    model = shutil.copytree(resolve_model_path(Settings().model), tmp_path / "model")
    cache = tmp_path / "cache"
    first = Embedder(str(model), encoder="onnx", cache_dir=cache)
    vector = first.encode(["bilateral trade"])[0]
    (folder,) = exports(cache)
    assert folder.name.startswith(first.weights_hash[:16])
    assert onnx_encoder.intact(folder)
    assert json.loads((folder / "encoder.json").read_text())["max_seq_length"] == 256
    exported_at = (folder / "model.onnx").stat().st_mtime_ns

    again = Embedder(str(model), encoder="onnx", cache_dir=cache)
    assert again.content_hash == first.content_hash
    assert (folder / "model.onnx").stat().st_mtime_ns == exported_at  # reused, not exported again

    (folder / "model.onnx").write_bytes((folder / "model.onnx").read_bytes()[:-1000])  # damaged
    repaired = Embedder(str(model), encoder="onnx", cache_dir=cache)
    assert np.allclose(repaired.encode(["bilateral trade"])[0], vector, atol=1e-6)
    assert onnx_encoder.intact(folder)
    assert repaired.content_hash == first.content_hash  # the export is deterministic

    (model / "README.md").write_text("other weights")  # any change to the source makes a new export
    changed = Embedder(str(model), encoder="onnx", cache_dir=cache)
    assert changed.weights_hash != first.weights_hash
    assert changed.content_hash != first.content_hash
    assert len(exports(cache)) == 2


def exports(cache: Path) -> list[Path]:
    return [p for p in cache.iterdir() if not p.name.startswith(".")]  # not the lock files
