"""The server's documents: live switch to new builds, upload, delete, progress, and their limits.

Each test gets its own corpus and index (a copy of three shipped documents), a real model and a
real server on 127.0.0.1; builds are real incremental builds.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from app.assistant import Assistant
from app.index import store
from app.index.build import build_index
from app.index.embedding import Embedder
from app.settings import Settings
from tests.conftest import minimal_pdf
from tests.server import serve

WAIT_S = 120.0  # how long a build and switch may take on a busy machine before a test gives up
CRANES = "How many cranes did the Port of Lazaro Cardenas add in 2025?"
CRANES_PDF = minimal_pdf(["Harbour report 2025", "The Port of Lazaro Cardenas added 14 new cranes in 2025."])


@pytest.fixture
def live(own_index: Settings, embedder: Embedder) -> Iterator[tuple[str, Assistant]]:
    assistant = Assistant.load(own_index.replace(allow_uploads=True), embedder=embedder)
    with serve(assistant) as url:
        yield url, assistant


def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"gave up after {WAIT_S:.0f} s waiting for {what}")


def build_finished(url: str) -> dict[str, Any] | None:
    body: dict[str, Any] = httpx.get(f"{url}/api/documents", timeout=30).json()
    return body if body["build"]["state"] != "indexing" else None


def test_a_build_from_the_command_line_is_served_without_a_restart(
    live: tuple[str, Assistant], embedder: Embedder
) -> None:
    url, assistant = live
    before = httpx.get(f"{url}/healthz").json()
    assert before["corpus_changed_since_build"] is False
    assert before["index_build"] == assistant.index.path.name

    (assistant.settings.corpus_dir / "harbour.pdf").write_bytes(CRANES_PDF)
    assert httpx.get(f"{url}/healthz").json()["corpus_changed_since_build"] is True

    build_index(assistant.settings, embedder=embedder)  # what `askdocs index` does in another terminal
    after = wait_for(
        lambda: (h := httpx.get(f"{url}/healthz").json())["index_build"] != before["index_build"] and h,
        "the server to switch to the new build",
    )
    assert after["corpus_changed_since_build"] is False
    assert after["documents"] == before["documents"] + 1
    answer = httpx.post(f"{url}/api/ask", json={"question": CRANES}, timeout=60).json()
    assert not answer["abstained"]
    assert "14" in answer["short_answer"]
    assert answer["citations"][0]["doc_id"] == "harbour.pdf"
    assert answer["citations"][0]["page"] == 2
    assert httpx.get(f"{url}/api/documents/harbour.pdf").status_code == 200


def test_the_build_a_server_holds_is_never_pruned(own_index: Settings, embedder: Embedder) -> None:
    served = store.load_index(own_index.index_dir)  # pinned, as a server holds it
    corpus = own_index.corpus_dir
    leftover = own_index.index_dir / "builds" / ".tmp-killed-build"
    leftover.mkdir()
    for n in range(3):
        (corpus / f"note-{n}.md").write_text(f"# Note {n}\n\nThe harbour has {n + 3} tugboats.\n")
        build_index(own_index, embedder=embedder)
    assert (served.path / "manifest.json").exists()  # three builds later, still there
    assert not leftover.exists()  # what a killed build left is cleaned up
    served.unpin()
    (corpus / "note-3.md").write_text("# Note 3\n\nThe harbour has 9 tugboats.\n")
    build_index(own_index, embedder=embedder)
    assert not served.path.exists()  # no longer served: pruned like any old build
    assert len([p for p in (own_index.index_dir / "builds").iterdir()]) == store.KEEP_BUILDS


def test_upload_is_indexed_in_the_background_while_questions_keep_being_answered(
    live: tuple[str, Assistant],
) -> None:
    url, _ = live
    answered: list[int] = []
    stop = threading.Event()

    def another_client() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                answered.append(client.post(f"{url}/api/ask", json={"question": "Who is Mark Carney?"}).status_code)

    asker = threading.Thread(target=another_client)
    asker.start()
    try:
        response = httpx.post(
            f"{url}/api/documents", files=[("files", ("harbour.pdf", CRANES_PDF, "application/pdf"))], timeout=60
        )
        assert response.status_code == 202, response.text
        body = response.json()
        assert body["added"][0]["id"] == "harbour.pdf"
        assert body["build"]["state"] == "indexing"
        listing = wait_for(lambda: build_finished(url), "the background build")
    finally:
        stop.set()
        asker.join()
    assert answered
    assert set(answered) == {200}
    assert listing["build"]["state"] == "idle", listing["build"]
    harbour = next(d for d in listing["documents"] if d["id"] == "harbour.pdf")
    assert harbour["status"] == "indexed"
    assert harbour["pages"] == 2
    assert harbour["title"] == "Harbour report 2025"
    answer = httpx.post(f"{url}/api/ask", json={"question": CRANES}, timeout=60).json()
    assert answer["citations"][0]["doc_id"] == "harbour.pdf"
    assert answer["citations"][0]["page"] == 2


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("scan.pdf", minimal_pdf([""]), "no text layer"),
        ("notes.txt", b"\x00\x01binary", "looks binary"),
        ("tool.exe", b"MZ", "unsupported file type"),
        (".hidden.md", b"# x", "unusable file name"),
        ("big.txt", b"word " * 205_000, "over the 1 MB limit"),  # just over: past the body limit it is a 413
    ],
)
def test_a_bad_upload_gets_its_reason_and_changes_nothing(
    own_index: Settings, embedder: Embedder, name: str, data: bytes, reason: str
) -> None:
    assistant = Assistant.load(own_index.replace(allow_uploads=True, max_file_mb=1.0), embedder=embedder)
    before = sorted(p.name for p in own_index.corpus_dir.iterdir())
    with serve(assistant) as url:
        response = httpx.post(f"{url}/api/documents", files=[("files", (name, data))], timeout=30)
        assert response.status_code == 422
        assert reason in response.json()["detail"]
        assert httpx.get(f"{url}/api/documents").json()["build"]["state"] == "idle"
        assert httpx.get(f"{url}/healthz").json()["corpus_changed_since_build"] is False
    assert sorted(p.name for p in own_index.corpus_dir.iterdir()) == before


def test_uploads_are_off_unless_enabled_and_need_the_token(own_index: Settings, embedder: Embedder) -> None:
    off = Assistant.load(own_index, embedder=embedder)
    with serve(off) as url:
        response = httpx.post(f"{url}/api/documents", files=[("files", ("a.md", b"# A\n\ntext"))])
        assert response.status_code == 403
        assert "allow_uploads" in response.json()["detail"]
        assert httpx.delete(f"{url}/api/documents/carney-mexico-visit.md").status_code == 403
        assert "allow_uploads" in httpx.get(f"{url}/documents").text
    locked = Assistant.load(own_index.replace(allow_uploads=True, access_token="s3cret"), embedder=embedder)
    with serve(locked) as url:
        files = [("files", ("a.md", b"# A\n\ntext"))]
        assert httpx.post(f"{url}/api/documents", files=files).status_code == 401
        assert httpx.delete(f"{url}/api/documents/carney-mexico-visit.md").status_code == 401
    assert not (own_index.corpus_dir / "a.md").exists()
    assert (own_index.corpus_dir / "carney-mexico-visit.md").exists()


def test_delete_removes_a_document_from_the_answers(live: tuple[str, Assistant]) -> None:
    url, assistant = live
    doc = "southeast-gateway-pipeline.md"
    assert httpx.delete(f"{url}/api/documents/{doc}").status_code == 202
    listing = wait_for(lambda: build_finished(url), "the background build")
    assert doc not in [d["id"] for d in listing["documents"]], listing
    assert httpx.get(f"{url}/api/documents/{doc}").status_code == 404
    assert not (assistant.settings.corpus_dir / doc).exists()
    assert httpx.delete(f"{url}/api/documents/{doc}").status_code == 404
    assert httpx.delete(f"{url}/api/documents/..%2Fcorpus%2Fcarney-mexico-visit.md").status_code == 404


def test_a_skipped_file_is_listed_with_its_reason(own_index: Settings, embedder: Embedder) -> None:
    (own_index.corpus_dir / "empty.md").write_text("   \n")
    build_index(own_index, embedder=embedder)
    with serve(Assistant.load(own_index, embedder=embedder)) as url:
        documents = {d["id"]: d for d in httpx.get(f"{url}/api/documents").json()["documents"]}
    assert documents["empty.md"]["status"] == "skipped"
    assert documents["empty.md"]["reason"] == "is empty"
    assert documents["carney-mexico-visit.md"]["status"] == "indexed"
    assert documents["carney-mexico-visit.md"]["chunks"] > 0


def test_serve_reindexes_changed_documents_before_serving(own_index: Settings, embedder: Embedder) -> None:
    (own_index.corpus_dir / "harbour.pdf").write_bytes(CRANES_PDF)
    assistant = Assistant.load(own_index, embedder=embedder, rebuild_if_stale=True)  # as `askdocs serve` loads
    assert assistant.load_report.built
    assert "harbour.pdf" in assistant.index.documents
    assert assistant.corpus_changes() == []


def test_serve_rebuilds_an_index_made_by_an_older_version(own_index: Settings, embedder: Embedder) -> None:
    build = store.current_path(own_index.index_dir)
    manifest = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    (build / "manifest.json").write_text(json.dumps({**manifest, "format_version": 1}), encoding="utf-8")
    (build / "manifest.sha256").unlink()  # format 1 had none
    assistant = Assistant.load(own_index, embedder=embedder, rebuild_if_stale=True)
    assert assistant.load_report.built
    assert assistant.index.manifest.format_version == store.FORMAT_VERSION
