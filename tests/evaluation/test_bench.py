"""`askdocs bench` on a small real corpus and a small synthetic one: every figure is there and sane.

No speed is asserted (the machine is shared); what is checked is what each figure is of.
"""

from pathlib import Path

import numpy as np
import pytest

from app.evaluation.bench import PLOT_FILE, REPORT_FILE, BenchRun, run_bench, write_bench
from app.evaluation.synthetic import CHUNKS_PER_DOCUMENT, seed_words, synthetic_corpus
from app.settings import Settings

WORDS = seed_words(["Canada and Mexico signed a trade plan; the pipeline carries gas to Mexico."])


def test_synthetic_corpus_is_seeded_with_exact_spans_and_unit_vectors() -> None:
    corpus = synthetic_corpus(130, WORDS, 400, 384, seed=3)
    assert len(corpus.chunks) == 130
    assert len(corpus.documents) == -(-130 // CHUNKS_PER_DOCUMENT)
    texts = {d.id: d.text for d in corpus.documents}
    for chunk in corpus.chunks:
        assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
        assert 300 <= len(chunk.text) <= 600
        assert chunk.text.endswith(".")
    assert corpus.vectors.shape == (130, 384)
    assert np.allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, atol=1e-5)
    assert corpus.vocabulary > len(WORDS)  # made-up words join the seed words

    again = synthetic_corpus(130, WORDS, 400, 384, seed=3)
    assert [c.text for c in again.chunks] == [c.text for c in corpus.chunks]
    assert np.array_equal(again.vectors, corpus.vectors)
    other = synthetic_corpus(130, WORDS, 400, 384, seed=4)
    assert [c.text for c in other.chunks] != [c.text for c in corpus.chunks]


def test_synthetic_vectors_cluster_around_the_centres_given() -> None:
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(12, 384)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    corpus = synthetic_corpus(600, WORDS, 400, 384, seed=3, centres=centres)
    assert np.allclose(np.linalg.norm(corpus.vectors, axis=1), 1.0, atol=1e-5)
    nearest_centre = (corpus.vectors @ centres.T).max(axis=1)
    assert (nearest_centre > 0.7).all()  # every vector near one of the centres: not random in 384 dimensions
    first, second = corpus.vectors[:CHUNKS_PER_DOCUMENT], corpus.vectors[CHUNKS_PER_DOCUMENT : 2 * CHUNKS_PER_DOCUMENT]
    assert float((first @ first.T).mean()) > 0.85  # a document's chunks lie near each other
    assert float(np.abs(first @ second.T).mean()) < float((first @ first.T).mean())


@pytest.fixture(scope="module")
def bench(small_index: Settings, tmp_path_factory: pytest.TempPathFactory) -> tuple[BenchRun, Path]:
    out = tmp_path_factory.mktemp("bench")
    # past 300 chunks the dense index is IVF: the synthetic corpus is searched approximately, the real one exactly
    run = run_bench(small_index.replace(exact_search_limit=300), sizes=(600,), n_questions=3, rounds=1)
    return run, out


def test_encoders_are_compared_with_plain_sentence_transformers(bench: tuple[BenchRun, Path]) -> None:
    run, _ = bench
    rows = [(e.name, e.threads, e.per_run) for e in run.encoders]
    assert rows[0][0] == "plain SentenceTransformer.encode"
    assert rows[1:] == [
        ("encoder = torch", 2, 32),
        ("encoder = onnx (int8)", 2, 1),  # as configured
        ("encoder = onnx (int8)", 2, 32),  # length-sorted runs
        ("encoder = onnx (int8)", 1, 1),  # one thread
    ]
    plain, torch, onnx, batched, one_thread = run.encoders
    assert plain.cosine_min > 0.9999  # the baseline against itself
    assert torch.cosine_min > 0.9999  # the torch encoder is plain encode with our thread count
    assert 0.99 < onnx.cosine_mean < 0.9999  # int8: close, not equal
    assert one_thread.cosine_mean == pytest.approx(onnx.cosine_mean, abs=1e-6)  # threads change speed only
    assert batched.cosine_mean != onnx.cosine_mean  # runs of several texts change the vectors a little
    assert all(e.chunks_per_s > 0 for e in run.encoders)
    assert [b.encoder for b in run.builds] == ["torch", "onnx"]
    assert all(b.chunks == run.corpus_chunks for b in run.builds)


def test_every_corpus_is_served_in_a_fresh_process(bench: tuple[BenchRun, Path]) -> None:
    run, _ = bench
    assert [r.vectors for r in run.sizes] == ["real (torch)", "real (onnx)", "synthetic"]
    torch_row, onnx_row, synthetic = run.sizes
    assert torch_row.serving.torch_imported
    assert not onnx_row.serving.torch_imported  # the onnx encoder serves without torch
    assert not synthetic.serving.torch_imported
    assert synthetic.chunks == 600
    assert synthetic.write_s is not None
    assert onnx_row.write_s is None
    for row in run.sizes:
        serving = row.serving
        assert len(serving.retrieve_ms) == len(serving.reader_ms) == len(serving.extractive_ms) == run.questions == 3
        assert serving.raw_load_s > 0
        assert 0 < serving.load_s < serving.ready_s
        assert serving.rss_mb > serving.anonymous_mb > 50
        assert row.index_bytes > row.chunks * 384 * 4  # at least the vectors
    assert (torch_row.serving.dense, torch_row.serving.recall_at_10) == ("exact", None)
    assert synthetic.serving.dense.startswith("type ivf-flat, nlist 24, nprobe ")
    assert synthetic.serving.recall_at_10 is not None
    assert 0.5 <= synthetic.serving.recall_at_10 <= 1.0


def test_report_and_plot_are_written(bench: tuple[BenchRun, Path]) -> None:
    run, out = bench
    text = write_bench(run, out)
    for expected in ("Load average (1, 5, 15 min)", "Threads: encoder_threads 2", "cores (nproc)", "CPU ", "RAM "):
        assert expected in text
    assert "| synthetic 600 | 600 | synthetic |" in text
    assert "clustered around the corpus's real chunk vectors" in text
    assert "corpus/ | exact | exact |" in text
    assert "| synthetic 600 | type ivf-flat, nlist 24, nprobe " in text
    report = (out / REPORT_FILE).read_text()
    assert report.startswith("# askdocs bench")
    assert f"![Latency and memory against corpus size]({PLOT_FILE})" in report
    assert (out / PLOT_FILE).read_bytes().startswith(b"\x89PNG")
    assert f"written: {out / REPORT_FILE}" in text
