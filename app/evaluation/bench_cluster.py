"""`askdocs bench --ray`: index build throughput on a local Ray cluster of 1 node against 2 (1 CPU each).

The corpus is the shipped Markdown documents copied until it holds at least the asked number of
chunks (each copy made distinct: equal files are indexed once). Each build starts from an empty
index folder, so every chunk is read, chunked and embedded on the cluster. Both builds run in the
same command, one after the other, and are reported as chunks/s and as a ratio, with the load
average: the machine is shared, and only the ratio says what the second node bought.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.index import store
from app.index.build import build_index
from app.index.cluster import LocalCluster
from app.ingest.chunking import chunk_documents
from app.ingest.files import load_corpus
from app.settings import Settings


@dataclass(frozen=True)
class ClusterBuild:
    nodes: int
    chunks: int
    seconds: float  # the whole build: read, chunk, embed, annotate, write (the cluster's start not included)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks / self.seconds


def copies_of_corpus(source: Path, folder: Path, copies: int) -> Path:
    """`source`'s Markdown documents `copies` times over in `folder`, each copy distinct."""
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(copies):
        for path in sorted(source.glob("*.md")):
            (folder / f"{path.stem}-{k}.md").write_text(path.read_text(encoding="utf-8") + f"\n\nCopy {k}.\n")
    return folder


def bench_cluster_build(settings: Settings, chunks: int, node_counts: tuple[int, ...] = (1, 2)) -> str:
    """Build the same corpus of at least `chunks` chunks on each cluster size; the report as Markdown."""
    markdown = [d for d in load_corpus(settings.corpus_dir, settings.max_file_mb).documents if d.id.endswith(".md")]
    per_copy = len(chunk_documents(markdown, settings.chunk_size, settings.chunk_overlap))
    copies = max(1, math.ceil(chunks / max(1, per_copy)))
    load_before = os.getloadavg()
    builds: list[ClusterBuild] = []
    with tempfile.TemporaryDirectory() as tmp:
        corpus = copies_of_corpus(settings.corpus_dir, Path(tmp) / "corpus", copies)
        vectors: list[np.ndarray] = []
        for nodes in node_counts:
            with LocalCluster(nodes=nodes, cpus=1) as cluster:
                index_dir = Path(tmp) / f"index-{nodes}"
                run = settings.replace(corpus_dir=corpus, index_dir=index_dir, ray_address=cluster.address)
                started = time.perf_counter()
                report = build_index(run)
                builds.append(ClusterBuild(nodes, report.chunks, time.perf_counter() - started))
            index = store.load_index(run.index_dir)
            vectors.append(np.array(index.dense.vectors))
            index.unpin()
    identical = all(np.array_equal(vectors[0], v) for v in vectors[1:])
    base = builds[0]
    lines = [
        f"Index build on a local Ray cluster, nodes of 1 CPU each: {base.chunks} chunks "
        f"({copies} copies of {settings.corpus_dir}/), {settings.encoder} encoder",
        "",
        "| nodes | chunks | seconds | chunks/s | ratio to 1 node |",
        "|---|---|---|---|---|",
        *(
            f"| {b.nodes} | {b.chunks} | {b.seconds:.1f} | {b.chunks_per_s:.1f} "
            f"| {b.chunks_per_s / base.chunks_per_s:.2f}× |"
            for b in builds
        ),
        "",
        f"vectors identical across cluster sizes: {'yes' if identical else 'NO'}",
        f"load average before: {' '.join(f'{x:.2f}' for x in load_before)}; "
        f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())} ({os.cpu_count()} CPUs)",
    ]
    return "\n".join(lines)
