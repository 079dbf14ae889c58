"""The documents behind the answers, as the server manages them: list, upload, delete, rebuild, reload.

- `documents()` lists every file in the corpus folder with its status: indexed (in the build being
  served), skipped (with the reason the last build gave), or waiting (new or changed since that build).
- `add(name, data)` checks an uploaded file by reading it as the index would, before it enters the
  corpus: a bad file gets its reason and the corpus and the serving index are left as they were.
  A good one is moved in with one `rename` and a rebuild starts.
- `remove(doc_id)` deletes a corpus file and starts a rebuild.
- Rebuilds run on one background thread, incremental (unchanged chunks reuse their vectors), one at
  a time; uploads during a build start one more build when it ends. `status()` reports progress.
- The watcher thread polls `index/current` (one readlink a second) and switches the assistant to a new
  build between questions, whoever made it: this server or `askdocs index` in a terminal.

Uploads and deletes happen only when the `allow_uploads` setting is on; the access token, when set,
guards them as it guards every route.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import re
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from app.assistant import Assistant
from app.errors import AskdocsError, BuildLockedError, DocumentError, DocumentNotFoundError
from app.index import store
from app.index.build import build_index
from app.ingest.files import SUPPORTED_SUFFIXES, corpus_files, read_document

log = logging.getLogger("askdocs")

BuildState = Literal["idle", "indexing", "failed"]
DocumentStatus = Literal["indexed", "skipped", "waiting"]
MAX_NAME_CHARS = 160
UPLOAD_FOLDER = ".uploads"  # inside the corpus folder; hidden, so never read as a document


class UploadError(AskdocsError, ValueError):
    """An uploaded file is refused (type, size, name or content); the message says why."""


class BuildStoppedError(AskdocsError, RuntimeError):
    """A background build ended early because the server is stopping."""


class UploadsOffError(AskdocsError, PermissionError):
    """Uploads and deletes are off (the `allow_uploads` setting)."""


@dataclass(frozen=True)
class BuildStatus:
    """How the server's own index builds are doing, and which build answers questions."""

    state: BuildState
    stage: str  # "reading", "embedding", "annotating", "writing", "loading", or "" when idle
    done: int
    total: int
    message: str  # the last build's outcome, or why it failed
    served_build: str  # the build folder answering questions now
    uploads_allowed: bool

    @property
    def fraction(self) -> float:
        """0..1 for a progress bar (reading and loading count as the ends of the bar)."""
        if self.state != "indexing":
            return 1.0
        if self.stage == "embedding" and self.total:
            return 0.1 + 0.8 * self.done / self.total
        return {"reading": 0.05, "annotating": 0.9, "writing": 0.92, "loading": 0.97}.get(self.stage, 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "fraction": round(self.fraction, 3)}


@dataclass(frozen=True)
class DocumentEntry:
    id: str
    title: str  # "" until the document is indexed
    status: DocumentStatus
    reason: str  # why it was skipped, or what is waiting ("new", "changed")
    chunks: int
    pages: int
    bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Library:
    def __init__(self, assistant: Assistant, poll_seconds: float = 1.0) -> None:
        self.assistant = assistant
        self.settings = assistant.settings
        self.poll_seconds = poll_seconds
        self._lock = threading.Lock()
        self._status = BuildStatus("idle", "", 0, 0, "", assistant.index.path.name, self.settings.allow_uploads)
        self._builder: threading.Thread | None = None
        self._again = False  # a change arrived while a build ran: build once more when it ends
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # -- reading ------------------------------------------------------------------------------

    def status(self) -> BuildStatus:
        with self._lock:
            status = self._status
        served = self.assistant.index.path.name
        return status if status.served_build == served else dataclasses.replace(status, served_build=served)

    def documents(self) -> list[DocumentEntry]:
        """Every corpus file with its status, in corpus order; then indexed documents whose file is gone."""
        index = self.assistant.index
        skipped = {s["path"]: s.get("reason", "") for s in index.manifest.skipped}
        changes = dict(_split_change(c) for c in self.assistant.corpus_changes())
        chunks = index.chunks_per_document  # counted once per build, not at every poll of the page

        def entry(doc_id: str, size: int) -> DocumentEntry:
            doc = index.documents.get(doc_id)
            title, pages, count = (doc.title, len(doc.page_starts), chunks.get(doc_id, 0)) if doc else ("", 0, 0)
            if doc_id in changes:
                return DocumentEntry(doc_id, title, "waiting", changes[doc_id], count, pages, size)
            if doc_id in skipped:
                return DocumentEntry(doc_id, "", "skipped", skipped[doc_id], 0, 0, size)
            return DocumentEntry(doc_id, title, "indexed", "", count, pages, size)

        corpus_dir = self.settings.corpus_dir
        present = [(p.relative_to(corpus_dir).as_posix(), _size(p)) for p in corpus_files(corpus_dir)]
        gone = [(doc_id, 0) for doc_id, change in changes.items() if change == "removed" and doc_id in index.documents]
        return [entry(doc_id, size) for doc_id, size in present + gone]

    # -- changing -----------------------------------------------------------------------------

    def add(self, filename: str, data: bytes) -> DocumentEntry:
        """Check an uploaded file, put it in the corpus folder and start a rebuild; UploadError says why not."""
        self._check_allowed()
        name = self._check_name(filename)
        limit = self.settings.max_file_mb
        if len(data) > limit * 1_000_000:
            raise UploadError(f"{name} is {len(data) / 1e6:.1f} MB, over the {limit:g} MB limit (setting max_file_mb)")
        staging = self.settings.corpus_dir / UPLOAD_FOLDER
        staging.mkdir(parents=True, exist_ok=True)
        handle, tmp_name = tempfile.mkstemp(dir=staging, suffix=Path(name).suffix)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            try:
                doc = read_document(tmp, name, limit)  # read it exactly as the build will
            except DocumentError as exc:
                raise UploadError(f"{name} {exc}") from None
            os.replace(tmp, self.settings.corpus_dir / name)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
            with contextlib.suppress(OSError):  # not empty while another upload is being checked
                staging.rmdir()
        self.rebuild()
        return DocumentEntry(name, doc.title, "waiting", "new", 0, len(doc.page_starts), len(data))

    def remove(self, doc_id: str) -> None:
        """Delete a corpus file and start a rebuild."""
        self._check_allowed()
        corpus_dir = self.settings.corpus_dir.resolve()
        path = (corpus_dir / doc_id).resolve()
        listed = {p.relative_to(self.settings.corpus_dir).as_posix() for p in corpus_files(self.settings.corpus_dir)}
        if doc_id not in listed or not path.is_relative_to(corpus_dir):
            raise DocumentNotFoundError(f"no document {doc_id!r} in the corpus folder")
        path.unlink()
        self.rebuild()

    def rebuild(self) -> None:
        """Start a background build now, or once more after the one running."""
        with self._lock:
            # the state, not the thread's liveness: a builder that has just decided to stop (state set under
            # this lock) is still alive for a moment, and a change asked for then would never be built
            if self._status.state == "indexing":
                self._again = True
                return
            self._status = dataclasses.replace(self._status, state="indexing", stage="reading", done=0, total=0)
            self._builder = threading.Thread(target=self._build_until_current, name="askdocs-build", daemon=True)
            self._builder.start()

    def _build_until_current(self) -> None:
        while True:
            self._set(state="indexing", stage="reading", done=0, total=0)
            message, failed = self._build_once()
            with self._lock:
                if self._again and not self._stop.is_set():
                    self._again = False
                    continue
                state: BuildState = "failed" if failed else "idle"
                self._status = dataclasses.replace(self._status, state=state, stage="", message=message)
                return

    def _build_once(self) -> tuple[str, bool]:
        """One incremental build and the switch to it: (what happened, whether it failed)."""
        while True:
            try:
                report = build_index(self.settings, embedder=self.assistant.embedder, on_progress=self._progress)
                break
            except BuildLockedError:
                # `askdocs index` is building: wait for it, then build again (it may have started before our change)
                if self._stop.wait(1.0):
                    return "stopped", True
            except AskdocsError as exc:
                log.warning("index build failed: %s", exc)
                return f"the build failed, the previous index still answers: {exc}", True
        self._set(stage="loading")
        try:
            self.assistant.reload()
        except AskdocsError as exc:
            return f"built, but the new index could not be loaded (the previous one still answers): {exc}", True
        skipped = f", {len(report.problems)} skipped" if report.problems else ""
        return (
            f"indexed {report.documents} documents, {report.chunks} chunks ({report.embedded} embedded, "
            f"{report.reused} reused{skipped}) in {report.seconds:.1f} s",
            False,
        )

    def _progress(self, stage: str, done: int, total: int) -> None:
        if self._stop.is_set():  # the server is stopping: end the build between two slices of work
            raise BuildStoppedError("the server stopped during the build; the previous index is unchanged")
        self._set(stage=stage, done=done, total=total)

    def _set(self, **changes: Any) -> None:
        with self._lock:
            self._status = dataclasses.replace(self._status, **changes)

    def _check_allowed(self) -> None:
        if not self.settings.allow_uploads:
            raise UploadsOffError("adding and deleting documents is off on this server (setting allow_uploads)")

    def _check_name(self, filename: str) -> str:
        # the last part of whatever path a browser sends ("C:\\fakepath\\x.pdf" included)
        name = re.split(r"[/\\]", filename.strip())[-1].strip()
        # control characters are refused by read_document, as for any corpus file
        if not name or name.startswith(".") or len(name) > MAX_NAME_CHARS:
            raise UploadError(f"unusable file name {filename[:MAX_NAME_CHARS]!r}: name a file without a leading dot")
        if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
            raise UploadError(f"{name}: unsupported file type; use {', '.join(SUPPORTED_SUFFIXES)}")
        return name

    # -- watching for new builds ----------------------------------------------------------------

    def start_watching(self) -> None:
        """Poll `index/current` and switch to a new build when one appears (from any process)."""
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="askdocs-index-watch", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        """End the watcher and any build (at its next slice of work), and wait for both."""
        self._stop.set()
        for thread in (self._watcher, self._builder):
            if thread is not None:
                thread.join()  # a build thread left running inside torch at exit aborts the process

    def _watch(self) -> None:
        failed_build = ""
        while not self._stop.wait(self.poll_seconds):
            name = store.current_build_name(self.settings.index_dir)
            if not name or name in (self.assistant.index.path.name, failed_build):
                continue
            try:
                started = time.perf_counter()
                if self.assistant.reload():
                    log.warning("switched to index build %s in %.1f s", name, time.perf_counter() - started)
                failed_build = ""
            except AskdocsError as exc:  # a damaged or mismatched build: keep serving the old one
                failed_build = name
                self._set(message=f"index build {name} was not loaded (the previous one still answers): {exc}")
                log.warning("index build %s not loaded: %s", name, exc)


def _split_change(change: str) -> tuple[str, str]:
    kind, _, doc_id = change.partition(": ")
    return doc_id, kind


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0
