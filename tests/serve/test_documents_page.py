"""The documents page and the widget's example page, in Chromium against a real server.

The upload test is the documents workflow end to end: a PDF added through the page is listed,
indexed with a progress bar, and answered from (with its page) in the chat, while another client's
questions keep being answered during the re-index.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from app.assistant import Assistant
from app.index.embedding import Embedder
from app.settings import Settings
from tests.serve.test_browser import ANSWER_TIMEOUT_MS, QUESTION, ROOT, ask, browser, new_context
from tests.serve.test_library import CRANES, CRANES_PDF
from tests.server import serve

__all__ = ["browser"]  # the browser fixture, shared with the other browser tests

# Set before the upload: records whether the progress bar was ever shown, however short the build.
WATCH_PROGRESS = """() => {
  window.sawProgress = false;
  const bar = document.getElementById("progress");
  new MutationObserver(() => { if (!bar.hidden) window.sawProgress = true; })
    .observe(bar, {attributes: true, attributeFilter: ["hidden"]});
}"""


@pytest.fixture
def uploads_url(own_index: Settings, embedder: Embedder) -> Iterator[str]:
    with serve(Assistant.load(own_index.replace(allow_uploads=True), embedder=embedder)) as url:
        yield url


def test_a_pdf_uploaded_in_the_page_is_indexed_and_answered_with_its_page(browser: Any, uploads_url: str) -> None:
    from playwright.sync_api import expect

    url = uploads_url
    answered: list[int] = []
    stop = threading.Event()

    def another_client() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                answered.append(client.post(f"{url}/api/ask", json={"question": QUESTION}).status_code)

    context, requests = new_context(browser)
    page = context.new_page()
    page.goto(f"{url}/")
    page.get_by_role("link", name="3 documents").click()  # the chat's header leads to the documents page
    expect(page.get_by_role("heading", name="Documents", exact=True)).to_be_visible()
    rows = page.locator("#documents tbody tr")
    expect(rows).to_have_count(3)
    expect(rows.filter(has_text="indexed")).to_have_count(3)
    page.evaluate(WATCH_PROGRESS)

    asker = threading.Thread(target=another_client)
    asker.start()
    try:
        page.get_by_label("Choose files").set_input_files(
            {"name": "harbour.pdf", "mimeType": "application/pdf", "buffer": CRANES_PDF}
        )
        page.get_by_role("button", name="Upload and index").click()
        harbour = rows.filter(has_text="harbour.pdf")
        expect(harbour).to_contain_text("indexed", timeout=120_000)
    finally:
        stop.set()
        asker.join()
    assert page.evaluate("window.sawProgress")
    expect(harbour).to_contain_text("Harbour report 2025")
    expect(page.locator("#progress")).to_be_hidden()
    expect(page.locator("#build-text")).to_contain_text("indexed 4 documents")
    if os.environ.get("UPDATE_SCREENSHOT"):
        page.screenshot(path=str(ROOT / "docs" / "documents.png"), full_page=True)
    assert answered
    assert set(answered) == {200}

    page.goto(f"{url}/")
    answer = ask(page, CRANES)
    expect(answer.locator(".ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(answer.locator(".ad-text")).to_contain_text("14")
    expect(answer.locator(".ad-sources")).to_contain_text("p. 2")
    assert requests.outside() == []
    context.close()


def test_a_bad_file_gets_its_reason_in_the_page(browser: Any, uploads_url: str) -> None:
    from playwright.sync_api import expect

    context, _ = new_context(browser)
    page = context.new_page()
    page.goto(f"{uploads_url}/documents")
    page.get_by_label("Choose files").set_input_files({"name": "scan.exe", "mimeType": "x/y", "buffer": b"MZ"})
    page.get_by_role("button", name="Upload and index").click()
    expect(page.get_by_role("alert")).to_contain_text("unsupported file type")
    expect(page.locator("#documents tbody tr")).to_have_count(3)
    context.close()


def test_the_widget_example_is_served_by_the_app_itself(browser: Any, uploads_url: str) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser)
    page = context.new_page()
    page.goto(f"{uploads_url}/examples/host-page")
    page.get_by_role("button", name="Ask the documents", exact=True).click()
    frame = page.frame_locator("iframe[title='Ask the documents']")
    frame.get_by_label("Your question").fill(QUESTION)
    frame.get_by_label("Your question").press("Enter")
    expect(frame.locator(".ad-msg .ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert requests.outside() == []
    context.close()
