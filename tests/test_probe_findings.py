"""The findings of the reliability and security probe, one test each (issue 17), through public interfaces.

Each reproduces the attack or fault as the probe did; each failed on the code before its fix.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import httpx
import numpy as np
import pytest

from app.answer import extractive
from app.assistant import Assistant
from app.errors import IndexCorruptError, QuestionError, SettingsError
from app.index import store
from app.index.build import build_index, corpus_hashes
from app.index.dense import DenseIndex
from app.index.embedding import Embedder
from app.ingest.files import load_corpus
from app.settings import Settings, load_settings
from tests.conftest import ROOT, copy_corpus, make_settings
from tests.server import serve

# 266 bytes of front matter: nine levels of aliases, each nine times the one before (9^9 strings)
ALIAS_BOMB = (
    "---\n"
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
    "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
    "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n"
    "---\n# Harmless\n\nBody text.\n"
)


# 1. YAML alias bomb
def test_front_matter_with_yaml_aliases_is_refused_at_once(tmp_path: Path) -> None:
    (tmp_path / "bomb.md").write_text(ALIAS_BOMB)
    (tmp_path / "huge-front-matter.md").write_text("---\ntitle: " + "x" * 20_000 + "\n---\nBody.\n")
    loaded = load_corpus(tmp_path, max_file_mb=20)  # before the fix: 189 s and 11 GB of memory
    reasons = {p.path: p.reason for p in loaded.problems}
    assert "YAML alias" in reasons["bomb.md"]
    assert "front matter is over" in reasons["huge-front-matter.md"]
    assert loaded.documents == []


# 2. Symlinks out of the corpus
def test_a_link_out_of_the_corpus_is_not_read_hashed_or_served(tmp_path: Path, embedder: Embedder) -> None:
    corpus = copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    secret = tmp_path / "secret.txt"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (corpus / "passwd-link.txt").symlink_to(secret)
    (corpus / "inside-link.md").symlink_to(corpus / "carney-mexico-visit.md")  # inside: fine, but a duplicate
    loaded = load_corpus(corpus, max_file_mb=20)
    assert [d.id for d in loaded.documents] == ["carney-mexico-visit.md"]
    reasons = {p.path: p.reason for p in loaded.problems}
    assert reasons["passwd-link.txt"] == "links outside the corpus folder"
    assert "same content as carney-mexico-visit.md" in reasons["inside-link.md"]
    assert "passwd-link.txt" not in corpus_hashes(corpus)
    settings = make_settings(tmp_path)
    build_index(settings, embedder=embedder)
    assistant = Assistant.load(settings, embedder=embedder)
    assert "passwd-link.txt" not in assistant.index.documents
    assert not any("root:x" in p.chunk.text for p in assistant.retrieve("root bin bash", k=10))


# 6. The embedding cache carried damaged vectors into a new build
def test_a_damaged_cached_vector_is_not_reused(own_index: Settings, embedder: Embedder) -> None:
    build = store.current_path(own_index.index_dir)
    vectors = np.array(DenseIndex.load(build / "dense.faiss").vectors)
    vectors[0] = -vectors[0]
    DenseIndex.build(vectors).save(build / "dense.faiss")
    with pytest.raises(IndexCorruptError):
        store.load_index(own_index.index_dir)
    report = build_index(own_index, embedder=embedder)
    assert report.reused == 0  # the cache failed its checksum: everything re-embedded
    index = store.load_index(own_index.index_dir)
    fresh = embedder.encode([index.chunks[0].embedding_text()])[0]
    assert float(index.vectors[0] @ fresh) > 0.99


def test_cached_vectors_are_keyed_by_the_models_content(own_index: Settings, embedder: Embedder) -> None:
    manifest = store.read_manifest(store.current_path(own_index.index_dir))
    assert manifest.model_hash == embedder.content_hash
    assert build_index(own_index, embedder=embedder).reused > 0  # same weights: reused
    rewrite_manifest(own_index, model_hash="0" * 64)  # as if other weights had been saved under the same name
    assert build_index(own_index, embedder=embedder).reused == 0


# 7. Thread safety of the answerer's cache and the stemmer
def test_many_threads_answer_like_one(own_index: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(extractive, "SENTENCE_CACHE_SIZE", 4)  # evict constantly, as the probe forced it to
    assistant = Assistant.load(own_index, embedder=embedder)
    questions = ["What pipeline did TC Energy finish?", "Who is Mark Carney?", "How long is the pipeline?"]
    expected = {q: assistant.ask(q, answerer="extractive").text for q in questions}
    failures: list[BaseException] = []
    mismatches: list[str] = []

    def ask_many() -> None:
        try:
            for n in range(12):
                question = questions[n % len(questions)]
                if assistant.ask(question, answerer="extractive").text != expected[question]:
                    mismatches.append(question)
                assistant.retrieve(question, mode="bm25")  # the stemmer, shared before
        except BaseException as exc:  # collected, so the test names it instead of a thread dying quietly
            failures.append(exc)

    threads = [threading.Thread(target=ask_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert mismatches == []


# 8. The manifest had no checksum of its own
def test_a_flipped_bit_in_the_manifest_is_caught(own_index: Settings) -> None:
    manifest = store.current_path(own_index.index_dir) / "manifest.json"
    data = bytearray(manifest.read_bytes())
    position = data.index(b'"chunk_size": ') + len(b'"chunk_size": ')
    data[position] ^= 0x01  # 400 → 500: still valid JSON, silently other metadata before
    manifest.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="manifest .* damaged"):
        store.load_index(own_index.index_dir)


def test_a_manifest_that_lists_no_files_turns_no_check_off(own_index: Settings) -> None:
    rewrite_manifest(own_index, files={})  # with a matching checksum: the listing itself must be complete
    with pytest.raises(IndexCorruptError, match="does not list every index file"):
        store.load_index(own_index.index_dir)


# 9. Smaller findings
def test_leftover_temporary_builds_are_pruned(own_index: Settings, embedder: Embedder) -> None:
    leftover = own_index.index_dir / "builds" / ".tmp-20260101T000000Z-1-000001"
    leftover.mkdir()
    (leftover / "vectors.npy").write_bytes(b"half a build")
    build_index(own_index, embedder=embedder)
    assert not leftover.exists()


def test_a_file_name_with_a_line_break_is_skipped_with_its_reason(tmp_path: Path) -> None:
    copy_corpus(tmp_path, ["carney-mexico-visit.md"])
    (tmp_path / "two\nlines.md").write_text("# Odd name\n\nThe harbour has 14 cranes.\n")
    loaded = load_corpus(tmp_path, max_file_mb=20)
    assert [d.id for d in loaded.documents] == ["carney-mexico-visit.md"]
    assert "line break" in {p.path: p.reason for p in loaded.problems}["two\nlines.md"]


def test_duplicate_files_are_indexed_once_and_quoted_once(tmp_path: Path, embedder: Embedder) -> None:
    corpus = copy_corpus(tmp_path / "corpus", ["carney-mexico-visit.md"])
    (corpus / "copy-of-visit.md").write_bytes((corpus / "carney-mexico-visit.md").read_bytes())
    settings = make_settings(tmp_path)
    report = build_index(settings, embedder=embedder)
    assert report.documents == 1
    assert [p.path for p in report.problems] == ["copy-of-visit.md"]
    answer = Assistant.load(settings, embedder=embedder).ask("How much was bilateral trade in 2024?")
    assert len({c.quote for c in answer.citations}) == len(answer.citations)


def test_nul_bytes_anywhere_in_a_text_file_are_refused(tmp_path: Path) -> None:
    (tmp_path / "late-nul.txt").write_bytes(b"Plain text for a while.\n" * 1000 + b"\x00 and then a NUL")
    assert "NUL" in {p.path: p.reason for p in load_corpus(tmp_path, max_file_mb=20).problems}["late-nul.txt"]


def rewrite_manifest(settings: Settings, **changes: object) -> None:
    """Change the current build's manifest and write a matching checksum (what a careless tool would do)."""
    build = store.current_path(settings.index_dir)
    data = json.loads((build / "manifest.json").read_text(encoding="utf-8"))
    text = json.dumps({**data, **changes}, indent=2, ensure_ascii=False)
    (build / "manifest.json").write_text(text, encoding="utf-8")
    (build / "manifest.sha256").write_text(hashlib.sha256(text.encode("utf-8")).hexdigest() + "\n")


# 4. A lone surrogate in a question or its history
def test_a_lone_surrogate_is_answered_not_a_500(own_index: Settings, embedder: Embedder) -> None:
    with serve(Assistant.load(own_index, embedder=embedder)) as url:
        body = '{"question": "Who is Mark Carney?\\ud800", "history": ["\\udfff"]}'
        response = httpx.post(f"{url}/api/ask", content=body, headers={"content-type": "application/json"})
        assert response.status_code == 200
        assert response.json()["question"] == "Who is Mark Carney?\ufffd"
        assert httpx.get(f"{url}/api/search", params={"q": "pipeline\x00\x07"}).status_code == 200


# 5. No body size limit
def test_request_bodies_over_the_limit_get_a_413(own_index: Settings, embedder: Embedder) -> None:
    assistant = Assistant.load(own_index.replace(allow_uploads=True, max_file_mb=1.0), embedder=embedder)
    with serve(assistant) as url:
        big = '{"question": "' + "x" * 2_000_000 + '"}'
        declared = httpx.post(f"{url}/api/ask", content=big, headers={"content-type": "application/json"})
        assert declared.status_code == 413
        assert "over 1,000,000 bytes" in declared.json()["detail"]

        def streamed() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            yield b'{"question": "'
            for _ in range(40):
                yield b"x" * 50_000
            yield b'"}'

        chunked = httpx.post(f"{url}/api/ask", content=streamed(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413
        files = [("files", ("big.txt", b"word " * 400_000))]  # 2 MB: over the 1 MB upload limit
        assert httpx.post(f"{url}/api/documents", files=files).status_code == 413
        files = [("files", ("fine.txt", b"The harbour has 14 cranes. " * 30_000))]  # 0.8 MB: an upload may be that big
        assert httpx.post(f"{url}/api/documents", files=files).status_code == 202


# 9. Smaller: bad k, settings that passed validation and then crashed
@pytest.mark.parametrize("k", [-3, 0, 10_000])
def test_k_out_of_range_is_a_clear_error(own_index: Settings, embedder: Embedder, k: int) -> None:
    assistant = Assistant.load(own_index, embedder=embedder)
    with pytest.raises(QuestionError, match="k must be a whole number"):
        assistant.retrieve("pipeline", k=k)
    with pytest.raises(QuestionError, match="k must be a whole number"):
        assistant.ask("What pipeline?", k=k)


@pytest.mark.parametrize(
    ("changes", "message"),
    [({"answer_sentences": 0}, "answer_sentences"), ({"top_k": 8, "show_passages": 5}, "show_passages")],
)
def test_settings_that_would_crash_later_are_refused_at_once(changes: dict[str, int], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env={f"ASKDOCS_{k.upper()}": str(v) for k, v in changes.items()})


# 3. Gradio's file routes
class _Recorder(BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"intranet secret")

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_gradio_fetches_no_outside_address_and_takes_no_uploads(own_index: Settings, embedder: Embedder) -> None:
    intranet = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)  # an address the server could reach
    threading.Thread(target=intranet.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{intranet.server_address[1]}/secret"
    try:
        with serve(Assistant.load(own_index, embedder=embedder)) as url:
            for prefix in ("", "/embed"):
                for address in (target, target.replace("http:", ""), target.replace("http", "HTTP")):
                    assert httpx.get(f"{url}{prefix}/gradio_api/file={address}").status_code == 404, address
                files = [("files", ("a.txt", b"x" * 1000))]
                assert httpx.post(f"{url}{prefix}/gradio_api/upload", files=files).status_code == 404
            assert httpx.get(f"{url}/").status_code == 200  # the chat itself still loads
    finally:
        intranet.shutdown()
        intranet.server_close()
    assert _Recorder.hits == []  # the server opened no connection to it


# 5. No warning when bound beyond loopback without a token
@pytest.mark.parametrize(("token", "warned"), [("", True), ("s3cret", False)])
def test_serving_beyond_loopback_without_a_token_warns(tmp_path: Path, token: str, warned: bool) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASKDOCS_")}
    env.update(ASKDOCS_CORPUS_DIR=str(tmp_path / "empty"), ASKDOCS_INDEX_DIR=str(tmp_path / "index"))
    env.update(ASKDOCS_ACCESS_TOKEN=token, ASKDOCS_PORT="9")  # an empty corpus: it stops after the warning
    command = [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0"]
    run = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert ("warning: listening on 0.0.0.0 with no access_token" in run.stderr) is warned


def test_html_with_text_in_an_odd_structure_is_read_not_skipped(tmp_path: Path) -> None:
    page = "<html><head><title>Fleet</title><style>p{}</style></head><body><article><aside>"
    page += "The harbour has 14 cranes.</aside></article><script>var x = 1;</script></body></html>"
    (tmp_path / "fleet.html").write_text(page)
    loaded = load_corpus(tmp_path, max_file_mb=20)  # the HTML extractor finds no article text in it
    assert loaded.problems == []
    assert loaded.documents[0].text == "The harbour has 14 cranes."
    assert loaded.documents[0].title == "Fleet"
