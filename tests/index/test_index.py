"""The index through its public API: real model, real FAISS, real files on disk."""

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from app.assistant import Assistant
from app.errors import AskdocsError, BuildLockedError, IndexCorruptError, IndexMismatchError, IndexMissingError
from app.index import store
from app.index.build import build_index
from app.index.dense import DenseIndex, recall_at_10
from app.index.embedding import Embedder, resolve_model_path
from app.index.tables import read_tables, write_tables
from app.ingest.chunking import chunk_documents
from app.ingest.files import load_corpus
from app.settings import Settings
from app.types import Chunk, Document
from tests.conftest import ROOT, copy_corpus, make_settings


def test_trade_question_retrieves_the_56_billion_passage_first(full_assistant: Assistant) -> None:
    passages = full_assistant.retrieve("How much was bilateral trade in 2024?")
    assert "C$56 billion" in passages[0].chunk.text
    assert passages[0].chunk.doc_id == "carney-mexico-visit.md"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_every_mode_returns_ranked_passages_with_metadata(full_assistant: Assistant, mode: str) -> None:
    passages = full_assistant.retrieve("Southeast Gateway natural gas pipeline length", k=4, mode=mode)
    assert [p.rank for p in passages] == [1, 2, 3, 4]
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    top = passages[0].chunk
    assert top.doc_id == "southeast-gateway-pipeline.md"
    assert top.as_of == "2025-06-27"
    assert top.sources
    document = full_assistant.document(top.doc_id)
    assert document.text[top.start : top.end] == top.text


def test_faiss_search_equals_numpy_cosine_top_k() -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(500, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = vectors[3] + 0.1 * rng.normal(size=32).astype(np.float32)
    scores, ids = DenseIndex.build(vectors).search(query, 10)
    expected = np.argsort(-(vectors @ query))[:10]
    assert list(ids) == list(expected)
    assert np.allclose(scores, (vectors @ query)[expected], atol=1e-5)
    with pytest.raises(ValueError, match="shape"):
        DenseIndex.build(vectors).search(query[:5], 3)


def _clustered(rng: np.random.Generator, n: int, dimension: int = 48, clusters: int = 40) -> np.ndarray:
    centres = rng.normal(size=(clusters, dimension))
    vectors = centres[rng.integers(0, clusters, size=n)] + 0.5 * rng.normal(size=(n, dimension)) / np.sqrt(dimension)
    unit: np.ndarray = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    return unit


def test_past_the_exact_limit_the_dense_index_is_ivf_with_the_recall_asked_for(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vectors = _clustered(rng, 8000)
    assert DenseIndex.build(vectors, exact_limit=8000).parameters == {"type": "flat"}
    dense = DenseIndex.build(vectors, exact_limit=1000, recall=0.95)
    parameters = dense.parameters
    assert parameters["type"] == "ivf-flat"
    assert parameters["nlist"] == 89  # √8000
    assert 1 <= parameters["nprobe"] < 89  # fewer lists than all of them: not an exact search in disguise
    assert parameters["calibrated_recall@10"] >= 0.95
    assert not dense.exact

    queries = _clustered(np.random.default_rng(6), 100)  # not rows of the index: held out
    exact = [np.argsort(-(vectors @ q))[:10] for q in queries]
    found = [dense.search(q, 10)[1] for q in queries]
    assert recall_at_10(found, exact) >= 0.9
    assert recall_at_10([f[:5] for f in found], exact) <= 0.5  # the measure can fail

    dense.save(tmp_path / "dense.faiss")
    loaded = DenseIndex.load(tmp_path / "dense.faiss")  # memory-mapped
    assert loaded.parameters["nprobe"] == parameters["nprobe"]
    assert [list(loaded.search(q, 10)[1]) for q in queries] == [list(ids) for ids in found]
    ids = np.array([0, 4321, 7999, 17])
    assert np.array_equal(loaded.rows(ids), vectors[ids])  # any row read back, though kept in lists
    assert np.array_equal(loaded.vectors, vectors)


def test_a_corpus_past_the_exact_limit_is_searched_the_same_with_ivf(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md", "plan-mexico.md", "southeast-gateway-pipeline.md"])
    exact_settings = make_settings(tmp_path)
    build_index(exact_settings, embedder=embedder)
    question = "How much was bilateral trade in 2024?"
    exact = Assistant.load(exact_settings, embedder=embedder).retrieve(question)
    ivf_settings = exact_settings.replace(exact_search_limit=10)
    report = build_index(ivf_settings, embedder=embedder)
    assert report.reused == report.chunks  # the vectors are read back from the IVF index for the next build
    manifest = store.read_manifest(store.current_path(ivf_settings.index_dir))
    assert manifest.dense["type"] == "ivf-flat"
    assert manifest.dense["nlist"] == round(report.chunks**0.5)
    ivf = Assistant.load(ivf_settings, embedder=embedder)
    assert [p.chunk.id for p in ivf.retrieve(question)] == [p.chunk.id for p in exact]
    assert "C$56 billion" in ivf.retrieve(question, mode="dense")[0].chunk.text


def test_rebuild_reembeds_only_the_changed_document(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md", "plan-mexico.md", "southeast-gateway-pipeline.md"])
    settings = make_settings(tmp_path)
    first = build_index(settings, embedder=embedder)
    assert first.embedded == first.chunks
    assert first.reused == 0

    unchanged = build_index(settings, embedder=embedder)
    assert unchanged.embedded == 0
    assert unchanged.reused == first.chunks

    plan = tmp_path / "corpus" / "plan-mexico.md"
    plan.write_text(plan.read_text(encoding="utf-8") + "\n\nA new closing paragraph about ports in Manzanillo.\n")
    changed = build_index(settings, embedder=embedder)
    index = store.load_index(settings.index_dir)
    plan_chunks = [c for c in index.chunks if c.doc_id == "plan-mexico.md"]
    assert 0 < changed.embedded <= len(plan_chunks)
    assert changed.reused == changed.chunks - changed.embedded
    assert any("Manzanillo" in c.text for c in plan_chunks)


def test_manifest_records_what_the_index_was_built_with(small_index: Settings) -> None:
    build = store.current_path(small_index.index_dir)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["model"] == small_index.model
    assert manifest["encoder"] == small_index.encoder == "onnx"
    assert manifest["dimension"] == 384
    assert manifest["chunk_size"] == small_index.chunk_size
    assert set(manifest["documents"]) == {
        "carney-mexico-visit.md",
        "southeast-gateway-pipeline.md",
        "people-in-the-news.html",
    }
    assert manifest["counts"]["chunks"] > 10
    files = set(manifest["files"])
    assert {"chunks.npy", "texts.utf8", "documents.json", "headings.json", "dense.faiss"} <= files
    assert "bm25/document_frequencies.json" in files
    assert "vectors.npy" not in manifest["files"]  # the vectors are kept once, in dense.faiss
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["created_at"]


def test_documents_and_chunks_read_back_as_they_were_made(small_index: Settings) -> None:
    documents = load_corpus(small_index.corpus_dir, small_index.max_file_mb).documents
    made = chunk_documents(documents, small_index.chunk_size, small_index.chunk_overlap)
    assert any(not c.text.isascii() for c in made)
    assert any(c.headings for c in made)
    index = store.load_index(small_index.index_dir)
    assert len(index.chunks) == len(made)
    assert list(index.chunks) == made
    assert index.chunks[-1] == made[-1]
    assert index.chunks[2:5] == made[2:5]
    assert dict(index.documents) == {d.id: d for d in documents}
    assert "no-such-document.md" not in index.documents
    assert index.chunks_per_document == Counter(c.doc_id for c in made)
    index.unpin()


def test_a_chunk_that_is_not_a_span_of_its_document_is_refused(tmp_path: Path) -> None:
    document = Document(id="a.md", title="A", text="Héllo wörld, and more.")
    chunk = Chunk("a.md#0", "a.md", 0, 0, 5, "Héllo", "A")
    write_tables(tmp_path, [document], [chunk])
    _documents, chunks = read_tables(tmp_path)
    assert chunks[0] == chunk
    with pytest.raises(ValueError, match="not a span"):
        write_tables(tmp_path, [document], [dataclasses.replace(chunk, text="Hello")])
    with pytest.raises(ValueError, match="not a span"):
        write_tables(tmp_path, [document], [dataclasses.replace(chunk, title="B")])


def test_vectors_are_kept_once_and_read_in_place(small_index: Settings, embedder: Embedder) -> None:
    index = store.load_index(small_index.index_dir)
    vectors = index.vectors
    assert vectors.shape == (len(index.chunks), 384)
    assert not vectors.flags.owndata  # FAISS's own storage, not a second copy
    assert not vectors.flags.writeable
    fresh = embedder.encode([c.embedding_text() for c in index.chunks[:5]])
    assert (np.sum(vectors[:5] * fresh, axis=1) > 0.98).all()  # row i is chunk i's vector
    _scores, ids = index.dense.search(vectors[3].copy(), 1)
    assert int(ids[0]) == 3
    index.unpin()


def test_document_frequencies_are_counted_at_build_and_read_at_load(small_index: Settings) -> None:
    index = store.load_index(small_index.index_dir)
    counted: dict[str, int] = {}
    for chunk in index.chunks:  # what the extractive answerer used to count when it started
        for term in set(index.lexical.tokens(chunk.embedding_text())):
            counted[term] = counted.get(term, 0) + 1
    assert dict(index.lexical.document_frequencies) == counted
    assert counted["pipelin"] > 1
    index.unpin()


def test_index_built_with_other_settings_is_detected(small_index: Settings, embedder: Embedder) -> None:
    with pytest.raises(
        IndexMismatchError, match="chunk_size is 400 in the index but 900 in the settings.*askdocs index"
    ):
        Assistant.load(small_index.replace(chunk_size=900), embedder=embedder)


def test_switching_the_encoder_is_detected_and_reembeds_everything(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path)
    onnx_build = build_index(settings, embedder=embedder)
    torch_settings = settings.replace(encoder="torch")
    with pytest.raises(IndexMismatchError, match="encoder is 'onnx' in the index but 'torch' in the settings"):
        Assistant.load(torch_settings, embedder=embedder)
    torch_embedder = Embedder.from_settings(torch_settings)
    torch_build = build_index(torch_settings, embedder=torch_embedder)
    assert torch_build.embedded == torch_build.chunks == onnx_build.chunks  # no int8 vector carried over
    manifest = store.read_manifest(store.current_path(settings.index_dir))
    assert (manifest.encoder, manifest.model_hash) == ("torch", torch_embedder.content_hash)
    assert manifest.model_hash != embedder.content_hash
    passages = Assistant.load(torch_settings, embedder=torch_embedder).retrieve("bilateral trade 2024")
    assert "C$56 billion" in passages[0].chunk.text


def test_an_index_made_by_other_weights_of_the_same_name_is_rebuilt(tmp_path: Path) -> None:
    model = shutil.copytree(resolve_model_path(Settings().model), tmp_path / "model")
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path, model=str(model), encoder="torch")
    build_index(settings, embedder=Embedder.from_settings(settings))
    (model / "README.md").write_text("retrained")  # new weights (or a new export recipe) under the same name
    with pytest.raises(IndexMismatchError, match="vectors were made by encoder weights .*askdocs index"):
        Assistant.load(settings)
    lazy = Assistant.load(settings, warm_up=())  # the encoder is checked when it is first needed
    assert lazy.retrieve("bilateral trade 2024", mode="bm25")
    with pytest.raises(IndexMismatchError, match="vectors were made by encoder weights"):
        lazy.retrieve("bilateral trade 2024")
    assistant = Assistant.load(settings, rebuild_if_stale=True)
    assert assistant.load_report.built
    assert assistant.index.manifest.model_hash == assistant.embedder.content_hash


def test_corpus_changes_since_the_build_are_reported(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    (tmp_path / "corpus" / "new-note.txt").write_text("Ports and railways between Canada and Mexico.\n")
    assistant = Assistant.load(settings, embedder=embedder)
    assert assistant.load_report.stale == ["new: new-note.txt"]


def test_missing_index_says_what_to_run(tmp_path: Path, embedder: Embedder) -> None:
    with pytest.raises(IndexMissingError, match="askdocs index"):
        Assistant.load(make_settings(tmp_path), embedder=embedder)


def test_damaged_index_file_is_named(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    vectors = store.current_path(settings.index_dir) / "dense.faiss"
    vectors.write_bytes(vectors.read_bytes()[:-100])
    with pytest.raises(IndexCorruptError, match="dense.faiss is damaged.*askdocs index"):
        Assistant.load(settings, embedder=embedder)
    build_index(settings, embedder=embedder)  # the advice works
    assert Assistant.load(settings, embedder=embedder).retrieve("trade")


def test_empty_corpus_keeps_the_previous_index(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    before = store.current_path(settings.index_dir)
    (tmp_path / "corpus" / "carney-mexico-visit.md").write_text("")
    with pytest.raises(AskdocsError, match="(?s)no readable documents.*is empty"):
        build_index(settings, embedder=embedder)
    assert store.current_path(settings.index_dir) == before
    assert Assistant.load(settings, embedder=embedder).retrieve("bilateral trade")


def test_a_second_concurrent_build_is_refused(small_index: Settings, embedder: Embedder) -> None:
    with store.build_lock(small_index.index_dir), pytest.raises(BuildLockedError, match="another"):
        build_index(small_index, embedder=embedder)


def test_killed_build_leaves_the_previous_index_usable(tmp_path: Path, embedder: Embedder) -> None:
    copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    before = store.current_path(settings.index_dir)
    # Enough text that embedding takes a while, then kill -9 the build while it runs.
    big = "\n\n".join(
        f"Paragraph {i} on tariffs, pipelines, ports and trade between Canada and Mexico." for i in range(15000)
    )
    (tmp_path / "corpus" / "big.txt").write_text(big)
    env = {**os.environ, "ASKDOCS_CORPUS_DIR": str(settings.corpus_dir), "ASKDOCS_INDEX_DIR": str(settings.index_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "index"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(8)  # past start-up and model load, deep in embedding ~3,800 new chunks
    assert proc.poll() is None, "the build finished before it could be killed; make the corpus larger"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert store.current_path(settings.index_dir) == before
    passages = Assistant.load(settings, embedder=embedder).retrieve("bilateral trade 2024")
    assert "C$56 billion" in passages[0].chunk.text
    build_index(settings, embedder=embedder)  # the lock died with the process
