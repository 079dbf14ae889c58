"""Building the index on a real local Ray cluster of two nodes (one CPU each): the same index as a local build."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.errors import ClusterError
from app.evaluation.bench_cluster import copies_of_corpus
from app.index import store
from app.index.build import BuildReport, build_index
from app.index.cluster import LocalCluster
from app.settings import Settings

pytest.importorskip("ray", reason="the scale extra is not installed")



CORPUS = Path(__file__).resolve().parents[2] / "corpus"


def assert_same_index(a: Path, b: Path) -> None:
    one, other = store.load_index(a), store.load_index(b)
    try:
        assert list(one.chunks) == list(other.chunks)
        assert np.array_equal(one.dense.vectors, other.dense.vectors), "vectors differ from the local build's"
        assert {d: doc.text for d, doc in one.documents.items()} == {d: doc.text for d, doc in other.documents.items()}
        assert one.entities == other.entities
        assert one.manifest.documents == other.manifest.documents
    finally:
        one.unpin()
        other.unpin()


@pytest.mark.timeout(300)
def test_a_cluster_build_equals_a_local_build_and_embeds_only_what_changed(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    local = Settings(corpus_dir=corpus, index_dir=tmp_path / "local")
    build_index(local)
    with LocalCluster(nodes=2, cpus=1) as cluster:
        on_cluster = local.replace(index_dir=tmp_path / "cluster", ray_address=cluster.address)
        first = build_index(on_cluster)
        assert first.embedded == first.chunks > 100
        assert_same_index(local.index_dir, on_cluster.index_dir)

        edited = corpus / "plan-mexico.md"
        edited.write_text(edited.read_text(encoding="utf-8") + "\n\nA paragraph added later, about nothing else.\n")
        second = build_index(on_cluster)
        build_index(local)
    assert 0 < second.embedded <= 3, "only the edited document's changed chunks go to the cluster"
    assert second.reused == second.chunks - second.embedded
    assert_same_index(local.index_dir, on_cluster.index_dir)


@pytest.mark.timeout(300)
def test_a_node_dying_mid_build_leaves_a_whole_index_or_the_old_one(tmp_path: Path) -> None:
    corpus = copies_of_corpus(CORPUS, tmp_path / "corpus", copies=6)
    local = Settings(corpus_dir=corpus, index_dir=tmp_path / "local")
    build_index(local)
    with LocalCluster(nodes=2, cpus=1) as cluster:
        on_cluster = local.replace(index_dir=tmp_path / "cluster", ray_address=cluster.address)
        started = threading.Event()
        outcome: dict[str, BuildReport | Exception] = {}

        def on_progress(stage: str, *_counts: int) -> None:
            if stage == "embedding":
                started.set()

        def build() -> None:
            try:
                outcome["report"] = build_index(on_cluster, on_progress=on_progress)
            except ClusterError as exc:
                outcome["error"] = exc

        builder = threading.Thread(target=build)
        builder.start()
        assert started.wait(120), "the build never started embedding"
        time.sleep(2.0)  # the actors are loaded and encoding
        cluster.kill_node()
        builder.join(240)
        assert not builder.is_alive(), "the build hung after losing a node"
    if "report" in outcome:  # Ray moved the lost node's work to the one left
        assert_same_index(local.index_dir, on_cluster.index_dir)
    else:  # or it failed, saying so, and wrote no half index
        assert "error" in outcome
        assert not (on_cluster.index_dir / "builds").exists() or not store.current_build_name(on_cluster.index_dir)


@pytest.mark.timeout(300)
def test_bench_ray_reports_each_cluster_size_s_throughput_as_chunks_over_seconds() -> None:
    from tests.test_cli import run_cli

    out = run_cli("bench", "--ray", "--ray-chunks", "300")
    assert out.returncode == 0, out.stderr
    rows = [line.split("|")[1:-1] for line in out.stdout.splitlines() if line.startswith(("| 1 ", "| 2 "))]
    assert [int(r[0]) for r in rows] == [1, 2]
    for _nodes, chunks, seconds, per_s, _ratio in rows:
        assert int(chunks) >= 300
        assert float(per_s) == pytest.approx(int(chunks) / float(seconds), rel=0.02)
    base = float(rows[0][3])
    assert float(rows[1][4].strip(" ×")) == pytest.approx(float(rows[1][3]) / base, abs=0.01)
    assert "vectors identical across cluster sizes: yes" in out.stdout
    assert "load average before:" in out.stdout
