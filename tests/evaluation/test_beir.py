"""BEIR evaluation through the real pipeline, on a hand-written 30-document fixture.

The fixture (tests/fixtures/beir-tiny) has three topics (astronomy, cooking, railways). Some test
queries are paraphrases that share no content word with their document (dense finds them, BM25
does not: t1, t3); others hinge on one rare name (BM25 finds them, dense does not: t2, t5).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from app.errors import AskdocsError
from app.evaluation.beir import TUNING_WEIGHTS, BeirFormatError, BeirReport, cache_key, format_beir_report, run_beir
from app.index.embedding import Embedder
from app.settings import Settings
from tests.conftest import ROOT

TINY = ROOT / "tests" / "fixtures" / "beir-tiny"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> tuple[BeirReport, BeirReport]:
    """The fixture scored twice with tuning on train: the first run builds the index, the second reuses it."""
    cache = tmp_path_factory.mktemp("beir-cache")
    first = run_beir(TINY, Settings(), cache_dir=cache, tune_on="train", embedder=embedder)
    second = run_beir(TINY, Settings(), cache_dir=cache, tune_on="train", embedder=embedder)
    return first, second


def test_reports_every_mode_with_metrics_in_range(tiny: tuple[BeirReport, BeirReport]) -> None:
    report = tiny[0]
    assert (report.queries, report.documents, report.split) == (8, 30, "test")
    assert [r.name.split(" (")[0] for r in report.results] == ["dense", "bm25", "hybrid", "hybrid"]
    assert report.results[3].name == "hybrid (rrf)"
    assert report.result("dense").short_queries == 0  # every query reached all 30 documents
    for r in report.results:
        for value in (r.ndcg_10, r.recall_10, r.recall_100, r.mrr_10, *r.per_query_ndcg.values()):
            assert 0.0 <= value <= 1.0
        assert r.recall_10 <= r.recall_100
        assert r.queries_per_s > 0
    text = format_beir_report(report)
    assert "| mode | nDCG@10 | Recall@10 | Recall@100 | MRR@10 | queries/s |" in text
    assert "index: built in" in text
    assert "chunks/s" in text


def test_hybrid_gets_what_each_retriever_misses(tiny: tuple[BeirReport, BeirReport]) -> None:
    report = tiny[0]
    dense, bm25, hybrid = report.result("dense"), report.result("bm25"), report.result("hybrid (zscore")
    assert dense.per_query_ndcg["t1"] > bm25.per_query_ndcg["t1"]  # paraphrase: no shared word
    assert bm25.per_query_ndcg["t2"] > dense.per_query_ndcg["t2"]  # rare name: Swift-Tuttle
    assert hybrid.ndcg_10 >= 0.9  # measured 1.000 (w tuned on train); 0.954 with the default w=0.5
    assert hybrid.ndcg_10 >= max(dense.ndcg_10, bm25.ndcg_10)
    assert hybrid.recall_10 == 1.0


def test_tunes_dense_weight_on_train(tiny: tuple[BeirReport, BeirReport]) -> None:
    report = tiny[0]
    assert report.tuned_on == "train"
    assert [w for w, _ in report.tuning] == list(TUNING_WEIGHTS)
    best = max(ndcg for _, ndcg in report.tuning)
    assert dict(report.tuning)[report.dense_weight] == best
    assert f"hybrid (zscore, w={report.dense_weight:g})" in format_beir_report(report)


def test_second_run_reuses_the_cached_index(tiny: tuple[BeirReport, BeirReport]) -> None:
    first, second = tiny
    assert not first.cached
    assert first.docs_per_s
    assert first.chunks_per_s
    assert second.cached
    assert second.docs_per_s is None
    assert second.settings.index_dir == first.settings.index_dir
    assert second.index_seconds < first.index_seconds
    assert "index: cached" in format_beir_report(second)
    assert [r.per_query_ndcg for r in second.results] == [r.per_query_ndcg for r in first.results]


def test_hand_computed_metrics(tmp_path: Path, embedder: Embedder) -> None:
    """One query, two relevant documents, one of them not in the corpus, and a score-0 pair ignored.

    The one relevant document in the corpus ranks first in every mode, so:
    nDCG@10 = (1/log2 2) / (1/log2 2 + 1/log2 3) = 0.6131, Recall@10 = Recall@100 = 1/2, MRR@10 = 1.
    """
    data = tmp_path / "mini"
    (data / "qrels").mkdir(parents=True)
    docs = [
        ("d1", "Lighthouses", "A lighthouse keeper trims the lamp wick and winds the clockwork that turns the lens."),
        ("d2", "Beekeeping", "Bees store honey in wax combs and the keeper smokes the hive before opening it."),
        ("d3", "Glaciers", "Glaciers carve valleys as compacted snow flows slowly downhill under its own weight."),
    ]
    rows = [json.dumps({"_id": i, "title": t, "text": x}) for i, t, x in docs]
    (data / "corpus.jsonl").write_text("\n".join(rows) + "\n")
    (data / "queries.jsonl").write_text(json.dumps({"_id": "q1", "text": "lighthouse lamp and lens"}) + "\n")
    (data / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\tgone\t1\nq1\td2\t0\n")

    report = run_beir(data, Settings(), cache_dir=tmp_path / "cache", embedder=embedder)
    expected = 1.0 / (1.0 + 1.0 / math.log2(3))
    assert report.tuned_on is None
    assert report.dense_weight == Settings().dense_weight
    for r in report.results:
        assert (r.ndcg_10, r.recall_10, r.recall_100, r.mrr_10) == pytest.approx((expected, 0.5, 0.5, 1.0))
    assert f"| dense | {expected:.3f} | 0.500 | 0.500 | 1.000 |" in format_beir_report(report)


def test_missing_corpus_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AskdocsError, match=r"not a BEIR dataset: .*corpus\.jsonl not found"):
        run_beir(tmp_path / "nowhere", Settings(), cache_dir=tmp_path / "cache")


def test_unknown_split_and_tuning_on_the_reported_split_are_errors(tmp_path: Path) -> None:
    with pytest.raises(BeirFormatError, match=r"no qrels for split 'dev'.*\['test', 'train'\]"):
        run_beir(TINY, Settings(), cache_dir=tmp_path / "cache", split="dev")
    with pytest.raises(BeirFormatError, match="same split"):
        run_beir(TINY, Settings(), cache_dir=tmp_path / "cache", split="train", tune_on="train")


def test_cache_key_follows_model_encoder_and_chunking() -> None:
    base = cache_key(TINY, Settings())
    assert base == cache_key(TINY, Settings(dense_weight=0.9))  # retrieval settings need no rebuild
    assert base != cache_key(TINY, Settings(encoder="torch"))
    assert base != cache_key(TINY, Settings(chunk_size=800))
    assert base != cache_key(TINY, Settings(chunk_overlap=50))
