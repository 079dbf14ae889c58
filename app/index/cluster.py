"""The Ray cluster an index is built on: the one module that imports ray (the `scale` extra).

What runs where (docs/scale-out.md):
- the driver (`askdocs index --ray ADDRESS`) lists the corpus, decides what changed, and writes the
  index exactly as a local build does (`app/index/build.py`): serving never knows a cluster made it;
- files are read, converted and chunked in Ray tasks, a batch of files per task;
- chunks are embedded by Ray Data `map_batches` over an actor pool, each actor loading the int8
  ONNX encoder once. A text's vector depends on that text alone (`onnx_batch_size` 1), so the
  vectors equal a local build's, whichever actor made them.
Scheduling, retries of a task or actor whose node died, and placement are Ray's.

Ray reports usage statistics and starts a dashboard unless told not to; both are off here
unless the environment asks for them (`RAY_USAGE_STATS_ENABLED=1`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import ClusterError
from app.index.embedding import Embedder
from app.ingest.chunking import chunk_document
from app.ingest.files import CorpusLoad, Problem, gather_corpus, read_corpus_file, visible_files
from app.settings import Settings
from app.types import Chunk, Document

FILES_PER_TASK = 16  # corpus files read and chunked by one Ray task
EMBED_BATCH = 64  # chunks per batch handed to an encoder actor
TASK_RETRIES = 3  # a task whose worker died runs again this many times before the build fails


@dataclass(frozen=True)
class ChunkedCorpus:
    """What the cluster read: the documents and problems of `load_corpus`, and every document's chunks."""

    corpus: CorpusLoad
    chunks: list[Chunk]


def connect(address: str) -> dict[str, float]:
    """Join the cluster at `address` ("auto", "host:port", "ray://…") or start one here ("local").

    Returns the cluster's resources (its CPUs). Joining twice is a no-op.
    """
    ray = _ray()
    if ray.is_initialized():
        return dict(ray.cluster_resources())
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    options: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    if address == "local":  # a cluster started here: no dashboard
        options.update(include_dashboard=False)
    try:
        if address == "local":
            ray.init(**options)
        else:
            ray.init(address=address, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {address!r}: {exc}") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # a line per operator and second otherwise
    return dict(ray.cluster_resources())


def disconnect() -> None:
    _ray().shutdown()


class LocalCluster:
    """A Ray cluster of `nodes` nodes with `cpus` CPUs each, all on this machine.

    What the tests and `askdocs bench --ray` build on: each node is its own raylet, so a node can be
    killed (`kill_node`) as a machine would die. Use as a context manager; it stops every node.
    """

    def __init__(self, nodes: int, cpus: int = 1) -> None:
        ray = _ray()
        from ray.cluster_utils import Cluster

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
        head = {"num_cpus": cpus, "include_dashboard": False}
        self._cluster: Any = Cluster(initialize_head=True, head_node_args=head)
        self._workers = [self._cluster.add_node(num_cpus=cpus) for _ in range(nodes - 1)]
        self._cluster.wait_for_nodes()
        self.address: str = self._cluster.address
        self._ray = ray

    def kill_node(self, worker: int = 0) -> None:
        """Stop worker node `worker` (not the head) at once, as if its machine died."""
        self._cluster.remove_node(self._workers.pop(worker), allow_graceful=False)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self._ray.shutdown()
        self._cluster.shutdown()


def read_and_chunk(corpus_dir: Path, max_file_mb: float, chunk_size: int, overlap: int) -> ChunkedCorpus:
    """`load_corpus` and `chunk_documents` in Ray tasks (the corpus folder must be visible to every node)."""
    ray = _ray()
    inside, outside = visible_files(corpus_dir)
    task = ray.remote(max_retries=TASK_RETRIES, num_cpus=1)(_read_and_chunk_files)
    groups = [inside[i : i + FILES_PER_TASK] for i in range(0, len(inside), FILES_PER_TASK)]
    try:
        results = ray.get([task.remote(corpus_dir, group, max_file_mb, chunk_size, overlap) for group in groups])
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"reading the corpus on the cluster failed: {exc}") from None
    read = [document for group in results for document, _ in group]
    corpus = gather_corpus(corpus_dir, outside, read)
    chunks_of = {
        document.id: chunks for group in results for document, chunks in group if isinstance(document, Document)
    }
    return ChunkedCorpus(corpus, [c for d in corpus.documents for c in chunks_of[d.id]])


def _read_and_chunk_files(
    corpus_dir: Path, paths: Sequence[Path], max_file_mb: float, chunk_size: int, overlap: int
) -> list[tuple[Document | Problem, list[Chunk]]]:
    out: list[tuple[Document | Problem, list[Chunk]]] = []
    for path in paths:
        read = read_corpus_file(corpus_dir, path, max_file_mb)
        out.append((read, chunk_document(read, chunk_size, overlap) if isinstance(read, Document) else []))
    return out


def embed(texts: Sequence[str], settings: Settings, actors: int | None = None) -> np.ndarray:
    """One vector per text, made by a pool of `actors` encoder actors (default: one per CPU of the cluster)."""
    ray = _ray()
    if not texts:
        return np.zeros((0, 0), np.float32)
    actors = min(actors or max(1, int(ray.cluster_resources().get("CPU", 1))), -(-len(texts) // EMBED_BATCH))
    rows = ray.data.from_items([{"row": i, "text": t} for i, t in enumerate(texts)])
    encoded = rows.map_batches(
        _EncoderActor,
        fn_constructor_kwargs={"settings": settings},
        batch_size=EMBED_BATCH,
        batch_format="numpy",
        # as many actors as the cluster has CPUs, and carry on with fewer: a node that dies takes its actor
        # and the batch it held, which Ray gives to another actor (a restarted one when there is room)
        compute=ray.data.ActorPoolStrategy(min_size=1, max_size=actors, initial_size=actors),
        num_cpus=1,  # Ray Data restarts a lost actor and retries its batch without limit by default
    )
    try:
        batches = list(encoded.iter_batches(batch_size=None, batch_format="numpy"))
    except ray.exceptions.RayError as exc:
        raise ClusterError(f"embedding on the cluster failed: {exc}") from None
    order = np.concatenate([b["row"] for b in batches])
    if len(order) != len(texts) or len(np.unique(order)) != len(texts):
        raise ClusterError(f"the cluster returned {len(order)} vectors for {len(texts)} chunks")
    vectors = np.concatenate([b["vector"] for b in batches]).astype(np.float32)
    out = np.empty_like(vectors)
    out[order] = vectors  # Ray Data gives batches back in any order
    return out


class _EncoderActor:
    """One encoder per actor, on one thread (an actor holds one CPU), loaded when the actor starts."""

    def __init__(self, settings: Settings) -> None:
        self.embedder = Embedder.from_settings(settings.replace(encoder_threads=1))
        self.embedder.encode(["warm up"])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {"row": batch["row"], "vector": self.embedder.encode([str(t) for t in batch["text"]])}


def _ray() -> Any:
    try:
        import ray
        import ray.data
    except ImportError:
        raise ClusterError("Ray is not installed: pip install -e '.[scale]'") from None
    return ray
