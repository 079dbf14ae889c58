"""The index on disk: a folder of plain files, a manifest with checksums, atomic swaps.

    index/
      current -> builds/20251125T161500Z-4242     (symlink, swapped atomically)
      builds/20251125T161500Z-4242/
        manifest.json      model, encoder (their content hash), dimension, chunking, document hashes, counts, checksums
        manifest.sha256    the manifest's own checksum: a flipped bit in it is caught like one in any file
        texts.utf8         every document's text (for the source view); a chunk's text is a span of it
        documents.json     the documents' other fields, one list per field
        chunks.npy         one row of integers per chunk, row i ↔ vector i (app/index/tables.py)
        headings.json      the distinct heading paths the chunks point at
        dense.faiss        FAISS index holding the vectors, float32 (chunks, dimension), each once: exact, or
                           past `exact_search_limit` chunks IVF (manifest's `dense` says which, with its
                           lists and probes); also the embedding cache for rebuilds
        bm25/              bm25s index (.npy + JSON) and each term's document frequency (JSON)
        entities.json      each document's named entities as [start, end, type] in its text (spaCy, at build
                           time, so answering parses only the question); reused for unchanged documents
      .lock                held while a build runs

A build is written to a temporary folder, renamed, then `current` is replaced
by a new symlink in one `rename`: a reader sees the old index or the new one,
never half of either, and a crash mid-build leaves the old one in place.
No pickle anywhere: `.npy` files load with allow_pickle=False. Loading is reading: the chunk table
and the texts are memory-mapped, and a chunk is made when it is read.

A process that serves a build pins it (a shared `flock` on the build's folder, held
while the build is loaded); a new build prunes old ones but never a pinned one, so a
server that has not switched yet never loses its files. The lock goes with the process,
so a killed server pins nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from app.errors import BuildLockedError, IndexCorruptError, IndexMismatchError, IndexMissingError
from app.index.dense import DenseIndex
from app.index.lexical import DOCUMENT_FREQUENCIES, LexicalIndex
from app.index.tables import FILES as TABLE_FILES
from app.index.tables import ChunkTable, DocumentTable, read_tables, write_tables
from app.ingest.annotate import Mention
from app.settings import Settings
from app.types import Chunk, Document

# 2: manifest.sha256, model_hash; 3: vectors only in dense.faiss, document frequencies;
# 4: documents and chunks as memory-mapped columns (app/index/tables.py) instead of JSON Lines; 5: entities.json
FORMAT_VERSION = 5
ENTITIES_FILE = "entities.json"
SPLITTER = "langchain-recursive/sentence-v1"
KEEP_BUILDS = 2  # the current one and the one before it (pinned builds are kept besides)
# every build has these; a manifest that lists fewer has been tampered with (`"files": {}` must not turn checks off)
REQUIRED_FILES = (*TABLE_FILES, "dense.faiss", f"bm25/{DOCUMENT_FREQUENCIES}", ENTITIES_FILE)
REBUILD_HINT = "run `askdocs index` to rebuild it"


@dataclass(frozen=True)
class Manifest:
    model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    documents: dict[str, str]  # document id → content hash
    counts: dict[str, int]
    skipped: list[dict[str, str]] = field(default_factory=list)
    build: dict[str, float] = field(default_factory=dict)  # seconds, embedded and reused chunks
    files: dict[str, str] = field(default_factory=dict)  # relative path → sha256
    splitter: str = SPLITTER
    created_at: str = ""
    format_version: int = FORMAT_VERSION
    model_hash: str = ""  # the encoder's content hash: cached vectors are reused only from the same weights and encoder
    encoder: str = "torch"  # which encoder made the vectors (settings' `encoder`); indexes before it were all torch
    dense: dict[str, Any] = field(default_factory=dict)  # the dense index's kind and parameters (DenseIndex.parameters)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class LoadedIndex:
    """An index, opened. Row i of `vectors` and of the dense and lexical indexes is `chunks[i]`.

    `documents` and `chunks` are read-only views of the build's files: each Document and Chunk is made
    when it is looked up, so opening a million chunks costs no more than opening ten.
    """

    path: Path
    manifest: Manifest
    documents: DocumentTable
    chunks: ChunkTable
    dense: DenseIndex
    lexical: LexicalIndex
    pin: int | None = None  # descriptor holding the build's shared lock (see `unpin`)
    entities: dict[str, tuple[Mention, ...]] = field(default_factory=dict)  # document id → its named entities

    @property
    def vectors(self) -> np.ndarray:
        """(chunks, dimension) float32, read-only: the dense index's own storage, not a copy."""
        return self.dense.vectors

    @functools.cached_property
    def chunks_per_document(self) -> Counter[str]:
        return self.chunks.per_document()

    def unpin(self) -> None:
        """Let a later build prune this one (call when it is no longer served)."""
        if self.pin is not None:
            os.close(self.pin)  # closing the descriptor releases its flock
            self.pin = None


def current_path(index_dir: Path) -> Path:
    link = index_dir / "current"
    if not link.exists():
        raise IndexMissingError(f"no index in {index_dir}/; run `askdocs index` to build it")
    return link.resolve()


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index's build lock, or fail at once if another process has it."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BuildLockedError(
                f"another `askdocs index` is building {index_dir}/ right now; try again when it ends"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_index(
    index_dir: Path,
    documents: list[Document],
    chunks: list[Chunk],
    dense: DenseIndex,
    manifest: Manifest,
    entities: Mapping[str, Sequence[Mention]] | None = None,
) -> Path:
    """Write a complete build, then make it current. Call inside `build_lock`. Returns the build folder.

    `entities` (document id → its entities) may leave documents out: answering then annotates their
    passages when it reads them (the benchmark's synthetic corpora have none).
    """
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    now_ns = time.time_ns()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now_ns // 1_000_000_000))
    # names sort in build order, also within one second (pruning keeps the newest by name)
    name = f"{stamp}-{now_ns % 1_000_000_000:09d}-{os.getpid()}"
    tmp = builds / f".tmp-{name}"
    tmp.mkdir()
    try:
        write_tables(tmp, documents, chunks)
        dense.save(tmp / "dense.faiss")
        (tmp / "bm25").mkdir()
        LexicalIndex.build([c.embedding_text() for c in chunks]).save(tmp / "bm25")
        listed = {doc_id: [[m.start, m.end, m.label] for m in found] for doc_id, found in (entities or {}).items()}
        (tmp / ENTITIES_FILE).write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
        files = _sha256_files(tmp, [p.relative_to(tmp).as_posix() for p in sorted(tmp.rglob("*")) if p.is_file()])
        written = {"files": files, "created_at": stamp, "dense": dense.parameters}
        final_manifest = Manifest(**{**manifest.to_dict(), **written})
        manifest_text = json.dumps(final_manifest.to_dict(), indent=2, ensure_ascii=False)
        (tmp / "manifest.json").write_text(manifest_text, encoding="utf-8")
        (tmp / "manifest.sha256").write_text(_sha256_text(manifest_text) + "\n", encoding="ascii")
        _fsync_tree(tmp)
        final = builds / name
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _swap_current(index_dir, final)
    _prune(builds, keep=final)
    return final


def load_index(index_dir: Path, verify: bool = True) -> LoadedIndex:
    """Read the current build, pinned; with `verify`, every file's checksum must match the manifest."""
    path, pin = _pin_current(index_dir)
    try:
        return _read_build(path, verify, pin)
    except BaseException:
        os.close(pin)
        raise


def _pin_current(index_dir: Path) -> tuple[Path, int]:
    """The current build and a shared lock on it, so no build prunes it while it is read or served."""
    for _attempt in range(5):
        path = current_path(index_dir)
        try:
            pin = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            continue  # pruned between reading the link and opening it: `current` has moved on
        fcntl.flock(pin, fcntl.LOCK_SH)
        if current_path(index_dir) == path:  # still current once pinned: no build will prune it now
            return path, pin
        os.close(pin)
    raise IndexMissingError(f"the index in {index_dir}/ kept changing while it was opened; try again")


def current_build_name(index_dir: Path) -> str:
    """The name of the build `current` points at ("" when there is none): one readlink, cheap to poll."""
    try:
        return Path(os.readlink(index_dir / "current")).name
    except OSError:
        return ""


def _read_build(path: Path, verify: bool, pin: int | None) -> LoadedIndex:
    manifest = read_manifest(path)
    if verify:
        verify_files(path, manifest.files)
    try:
        documents, chunks = read_tables(path)
        dense = DenseIndex.load(path / "dense.faiss")
        lexical = LexicalIndex.load(path / "bm25", size=len(chunks))
        entities = read_entities(path, documents)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise IndexCorruptError(f"index in {path} cannot be read ({exc}); {REBUILD_HINT}") from None
    if len(chunks) != len(dense):
        raise IndexCorruptError(f"index in {path} is inconsistent (chunk and vector counts differ); {REBUILD_HINT}")
    return LoadedIndex(path, manifest, documents, chunks, dense, lexical, pin, entities)


def read_entities(build: Path, documents: Mapping[str, Document]) -> dict[str, tuple[Mention, ...]]:
    """The build's entities as Mentions (their text cut from the document's)."""
    listed = json.loads((build / ENTITIES_FILE).read_text(encoding="utf-8"))
    entities = {}
    for doc_id, rows in listed.items():
        text = documents[doc_id].text
        entities[doc_id] = tuple(Mention(int(s), int(e), str(label), text[int(s) : int(e)]) for s, e, label in rows)
    return entities


def entity_cache(index_dir: Path) -> dict[str, tuple[Mention, ...]]:
    """The current build's entities keyed by document content hash, for a rebuild to reuse; {} on any problem."""
    try:
        path = current_path(index_dir)
        manifest = read_manifest(path)
        verify_files(path, {name: manifest.files[name] for name in (*TABLE_FILES, ENTITIES_FILE)})
        documents, _chunks = read_tables(path)
        entities = read_entities(path, documents)
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        IndexError,
        IndexMissingError,
        IndexCorruptError,
        IndexMismatchError,
    ):
        return {}
    return {
        documents[doc_id].content_hash: found for doc_id, found in entities.items() if documents[doc_id].content_hash
    }


def verify_files(build: Path, checksums: dict[str, str]) -> None:
    """Raise IndexCorruptError unless every listed file is there with its checksum.

    Checked before any file is parsed, so no damaged or altered file reaches FAISS or numpy. The files
    are hashed in parallel threads (hashlib releases the GIL while it hashes), which at a million chunks
    is the difference between the 2.5 GB taking one core's time and the largest file's.
    """
    for rel in checksums:
        if not (build / rel).is_file():
            raise IndexCorruptError(f"index file {build / rel} is missing; {REBUILD_HINT}")
    actual = _sha256_files(build, list(checksums))
    for rel, expected in checksums.items():
        if actual[rel] != expected:
            raise IndexCorruptError(f"index file {build / rel} is damaged (checksum mismatch); {REBUILD_HINT}")


def read_manifest(build: Path) -> Manifest:
    """The build's manifest, checked against its own checksum and for the files every build has."""
    try:
        text = (build / "manifest.json").read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest in {build} cannot be read ({exc}); {REBUILD_HINT}") from None
    # the format first: an index from an older version is out of date (rebuilt by `make run`), not damaged
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        found = data.get("format_version") if isinstance(data, dict) else None
        raise IndexMismatchError(f"index format {found} is not {FORMAT_VERSION}; {REBUILD_HINT}")
    try:
        expected = (build / "manifest.sha256").read_text(encoding="ascii").strip()
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest checksum in {build} cannot be read ({exc}); {REBUILD_HINT}") from None
    if _sha256_text(text) != expected:
        raise IndexCorruptError(f"index manifest in {build} is damaged (checksum mismatch); {REBUILD_HINT}")
    try:
        manifest = Manifest(**data)
    except TypeError as exc:
        raise IndexCorruptError(f"index manifest in {build} is malformed ({exc}); {REBUILD_HINT}") from None
    listed = manifest.files if isinstance(manifest.files, dict) else {}
    if not all(name in listed for name in REQUIRED_FILES):
        raise IndexCorruptError(f"index manifest in {build} does not list every index file; {REBUILD_HINT}")
    return manifest


def check_settings(manifest: Manifest, settings: Settings, model_hash: str = "") -> None:
    """Raise IndexMismatchError when the index was built with another model, encoder or chunking.

    Query vectors must come from the encoder that made the index's: int8 and float vectors of the
    same model differ a little (cosine 0.99), and a mixed index would score by that difference too.
    With `model_hash` (the loaded encoder's content hash), new weights or a new export recipe under
    the same names count as another encoder as well.
    """
    differences = [
        f"{name} is {have!r} in the index but {want!r} in the settings"
        for name, have, want in (
            ("model", manifest.model, settings.model),
            ("encoder", manifest.encoder, settings.encoder),
            ("chunk_size", manifest.chunk_size, settings.chunk_size),
            ("chunk_overlap", manifest.chunk_overlap, settings.chunk_overlap),
            ("splitter", manifest.splitter, SPLITTER),
        )
        if have != want
    ]
    if model_hash and manifest.model_hash and manifest.model_hash != model_hash:
        differences.append(
            f"the index's vectors were made by encoder weights {manifest.model_hash[:12]}, "
            f"the {settings.encoder} encoder now has {model_hash[:12]}"
        )
    if differences:
        raise IndexMismatchError("index does not match the settings: " + "; ".join(differences) + f"; {REBUILD_HINT}")


def corpus_changes(manifest: Manifest, current_hashes: dict[str, str]) -> list[str]:
    """What differs between the indexed corpus and `current_hashes` (document id → content hash)."""
    indexed = dict(manifest.documents)
    indexed.update({s["path"]: s.get("hash", "") for s in manifest.skipped})
    changes = [f"new: {d}" for d in sorted(current_hashes.keys() - indexed.keys())]
    changes += [f"removed: {d}" for d in sorted(indexed.keys() - current_hashes.keys())]
    changes += [
        f"changed: {d}" for d in sorted(current_hashes.keys() & indexed.keys()) if current_hashes[d] != indexed[d]
    ]
    return changes


def file_hash(path: Path) -> str:
    return _sha256(path)


def _swap_current(index_dir: Path, build: Path) -> None:
    tmp_link = index_dir / f".current-{os.getpid()}"
    with contextlib.suppress(FileNotFoundError):
        tmp_link.unlink()
    tmp_link.symlink_to(build.relative_to(index_dir))
    os.replace(tmp_link, index_dir / "current")


def _prune(builds: Path, keep: Path) -> None:
    """Delete builds older than the last KEEP_BUILDS that no process pins, and leftover temporary folders.

    Called under the build lock, so a `.tmp-*` folder here is what a killed build left behind.
    """
    for leftover in builds.glob(".tmp-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    finished = sorted((p for p in builds.iterdir() if p.is_dir() and not p.name.startswith(".")), key=lambda p: p.name)
    for old in finished[:-KEEP_BUILDS]:
        if old != keep and not _pinned(old):
            shutil.rmtree(old, ignore_errors=True)


def _pinned(build: Path) -> bool:
    """Whether some process holds the build's shared lock (it serves or is loading it)."""
    try:
        descriptor = os.open(build, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def _sha256(path: Path) -> str:
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _sha256_files(folder: Path, names: list[str]) -> dict[str, str]:
    """Each file's checksum, largest files first across one thread per core."""
    by_size = sorted(names, key=lambda rel: -(folder / rel).stat().st_size)
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        return dict(zip(by_size, pool.map(lambda rel: _sha256(folder / rel), by_size), strict=True))


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as handle:
                os.fsync(handle.fileno())


def embedding_cache(index_dir: Path, model: str, model_hash: str) -> dict[str, np.ndarray]:
    """Vectors of the current build keyed by `text_key(chunk.embedding_text())`, if the same model made them.

    "The same model" is its content hash, not its name: new weights under an old name re-embed. The
    vectors and chunks are checked against the manifest's checksums first, so a damaged vector is never
    carried into a new build (under fresh checksums). Any problem just means an empty cache: the build
    then embeds everything.
    """
    try:
        path = current_path(index_dir)
        manifest = read_manifest(path)
        if manifest.model != model or not model_hash or manifest.model_hash != model_hash:
            return {}
        verify_files(path, {name: manifest.files[name] for name in (*TABLE_FILES, "dense.faiss")})
        _documents, chunks = read_tables(path)
        vectors = np.array(DenseIndex.load(path / "dense.faiss").vectors)  # a copy: the index goes out of scope
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        RuntimeError,
        IndexMissingError,
        IndexCorruptError,
        IndexMismatchError,
    ):
        return {}
    if len(chunks) != len(vectors):
        return {}
    return {text_key(c.embedding_text()): v for c, v in zip(chunks, vectors, strict=True)}


def text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
