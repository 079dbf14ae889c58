"""The chat UI, the source view and the widget in a real Chromium (Playwright), against a real server.

Every request each page makes is recorded; none may leave 127.0.0.1/localhost (no web fonts, no
analytics, no CDN). Set UPDATE_SCREENSHOT=1 to write docs/screenshot.png from the chat test.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.assistant import Assistant
from app.index.build import build_index
from app.index.embedding import Embedder
from tests.conftest import copy_corpus, make_settings
from tests.server import serve, static_files, variant

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
HOST_PAGE = ROOT / "app" / "serve" / "static" / "host-page.html"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
QUESTION = "What pipeline did TC Energy finish in Mexico?"
TRADE_QUESTION = "How much was bilateral trade between Canada and Mexico in 2024?"
SOURCES_QUESTION = "What is the value of Canadian direct investment in Mexico?"  # two sources disagree
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install -y chromium); browser tests must run in CI")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def url(full_assistant: Assistant) -> Iterator[str]:
    with serve(full_assistant) as base:
        yield base


class Recorder:
    """Every network request of a browser context (all pages, popups and iframes)."""

    def __init__(self, context: Any) -> None:
        self.urls: list[str] = []
        context.on("request", lambda request: self.urls.append(request.url))

    def outside(self) -> list[str]:
        return [
            u
            for u in self.urls
            if urlsplit(u).scheme in ("http", "https", "ws", "wss") and urlsplit(u).hostname not in LOCAL_HOSTS
        ]


def new_context(browser: Any, width: int = 1100, height: int = 860) -> tuple[Any, Recorder]:
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(ANSWER_TIMEOUT_MS)
    return context, Recorder(context)


def no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def in_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= size["height"]


def test_chat_answers_with_citations_and_opens_the_source(browser: Any, url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser, 1100, 900)
    page = context.new_page()
    page.goto(f"{url}/")
    for example in ("How much was bilateral trade", "What pipeline did TC Energy", "Why does Carney want"):
        expect(page.get_by_text(example).first).to_be_visible()
    expect(page.get_by_label("Passages to draw on (k)").first).to_be_hidden()  # settings start collapsed

    question = page.get_by_label("Your question")
    answer = ask(page, TRADE_QUESTION)
    expect(answer.locator(".ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(answer.locator(".ad-text")).to_contain_text("[1]")
    expect(answer.locator(".ad-src-title").first).not_to_be_empty()
    expect(answer.locator(".ad-details")).to_contain_text("searched:")
    quote = " ".join(answer.locator(".ad-sources mark").first.inner_text().split())
    assert quote
    assert quote in " ".join(answer.locator(".ad-text").inner_text().split())
    expect(question).to_have_value("")

    page.locator(".ad-q").last.evaluate("q => q.scrollIntoView({block: 'start'})")  # the whole exchange in view
    shot = ROOT / "docs" / "screenshot.png" if os.environ.get("UPDATE_SCREENSHOT") else tmp_path / "chat.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))

    with context.expect_page() as opened:
        answer.get_by_role("link", name=re.compile("Open the document at this quote")).first.click()
    source = opened.value
    source.wait_for_load_state()
    hit = source.locator("mark#hit")
    expect(hit).to_be_visible()
    assert " ".join(hit.inner_text().split()) == quote
    assert in_viewport(source, "mark#hit")

    # A question the documents don't answer: a clear "not found" with the closest passages.
    page.get_by_role("button", name="New chat").click()
    expect(page.locator(".ad-msg")).to_have_count(0)
    question.fill("What is the capital of France?")
    page.get_by_role("button", name="Send").click()
    expect(page.locator(".ad-notfound")).to_contain_text("Not found in the documents", timeout=ANSWER_TIMEOUT_MS)
    expect(page.locator(".ad-msg .ad-src")).to_have_count(3)

    page.get_by_text("Settings").click()
    expect(page.get_by_label("Passages to draw on (k)").first).to_be_visible()
    expect(page.get_by_role("radio", name="extractive")).to_be_visible()

    assert requests.outside() == []
    assert not any("fonts.googleapis" in u or "gstatic" in u for u in requests.urls)
    context.close()


# Records each localStorage write on every page of a context (with the final answers then on
# screen), so a test reloads only once the conversation it needs is stored.
STORAGE_WATCH = """
window.askdocsWrites = [];
const setItem = Storage.prototype.setItem;
Storage.prototype.setItem = function (key, value) {
  window.askdocsWrites.push(document.querySelectorAll(".ad-msg .ad-details").length);
  return setItem.call(this, key, value);
};
"""


def writes(page: Any) -> int:
    """How many localStorage writes the page made so far (-1 when STORAGE_WATCH isn't installed)."""
    return int(page.evaluate("window.askdocsWrites ? window.askdocsWrites.length : -1"))


def ask(page: Any, question: str) -> Any:
    """Ask in the chat on `page`; return the final answer's message (once stored, where watched)."""
    from playwright.sync_api import expect

    asked = page.locator(".ad-q").count()
    since = writes(page)
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".ad-msg").nth(asked)
    expect(answer.locator(".ad-details")).to_be_visible(timeout=ANSWER_TIMEOUT_MS)  # only a final answer has it
    if since >= 0:  # stored after it arrived: a write made with it on screen
        page.wait_for_function("([since, n]) => window.askdocsWrites.slice(since).includes(n)", arg=[since, asked + 1])
    return answer


def forget(page: Any, button: str) -> None:
    """Click the button that starts a new chat; return once the page has emptied what it stored."""
    from playwright.sync_api import expect

    since = writes(page)
    page.get_by_role("button", name=button).click()
    expect(page.locator(".ad-msg")).to_have_count(0)
    page.wait_for_function("since => window.askdocsWrites.length > since", arg=since)


def test_a_long_answer_shows_from_its_start_with_linked_markers_and_a_copy_button(browser: Any, url: str) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser, 1100, 700)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
    page = context.new_page()
    page.goto(f"{url}/")
    expect(page.get_by_text("Conversation", exact=True)).to_have_count(0)  # no label over the chat's first lines
    answer = ask(page, SOURCES_QUESTION)
    sources = answer.locator(".ad-src")
    assert sources.count() >= 2
    chat = page.locator("#ad-chat [role=log]")
    assert answer.bounding_box()["height"] > chat.bounding_box()["height"], "too short to scroll past its start"
    # The chat is scrolled to the answer's start (its text in full), not to the end of its last source.
    expect(answer.locator(".ad-text")).to_be_in_viewport(ratio=1)

    # "Copy answer" copies the text (and where its sources are: links to their quotes), not the message's HTML.
    page.evaluate("navigator.clipboard.writeText('')")
    answer.get_by_role("button", name="Copy answer").click()
    # each poll reads the clipboard (asynchronously) for the next one to look at
    page.wait_for_function("navigator.clipboard.readText().then(t => (window.copied = t)) && window.copied")
    copied = page.evaluate("window.copied")
    assert copied.startswith(answer.locator(".ad-text").inner_text() + "\n\nSources:\n[1] ")
    assert "<" not in copied
    assert f"{url}/api/documents/" in copied

    # Each [n] links to its source's quote: the same place its source's "Open the document" link opens.
    markers = answer.locator(".ad-text a.ad-cite")
    expect(markers.filter(has_text="[2]").first).to_be_visible()
    for n in range(sources.count()):
        where = sources.nth(n).get_by_role("link", name=re.compile("Open the document")).get_attribute("href")
        assert markers.filter(has_text=f"[{n + 1}]").first.get_attribute("href") == where
    second_quote = " ".join(sources.nth(1).locator("mark").first.inner_text().split())
    with context.expect_page() as opened:
        markers.filter(has_text="[2]").first.click()
    source = opened.value
    source.wait_for_load_state()
    expect(source.locator("mark#hit")).to_be_visible()
    assert " ".join(source.locator("mark#hit").inner_text().split()) == second_quote

    assert requests.outside() == []
    context.close()


def test_a_reload_keeps_the_conversation_and_a_new_chat_forgets_it(browser: Any, url: str) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser)
    context.add_init_script(STORAGE_WATCH)
    page = context.new_page()
    page.goto(f"{url}/")
    ask(page, QUESTION)
    page.reload()
    expect(page.locator(".ad-q")).to_have_text([QUESTION])
    expect(page.locator(".ad-msg .ad-sources mark")).to_be_visible()
    # The earlier turn came back too: the next question is read as its follow-up, made standalone.
    follow_up = ask(page, "Who owns it?")
    expect(follow_up.locator(".ad-followup")).to_contain_text("Read as: “Who owns ")

    # The embed page keeps its own conversation, and its clear button forgets it.
    embed = context.new_page()
    embed.goto(f"{url}/embed/")
    ask(embed, TRADE_QUESTION)
    embed.reload()
    expect(embed.locator(".ad-q")).to_have_text([TRADE_QUESTION])
    forget(embed, "Clear")
    embed.reload()
    asked_anew = ask(embed, QUESTION)
    expect(embed.locator(".ad-q")).to_have_text([QUESTION])
    expect(asked_anew.locator(".ad-followup")).to_have_count(0)

    # New chat forgets the full page's conversation, earlier turns included.
    page.reload()
    expect(page.locator(".ad-q")).to_have_text([QUESTION, "Who owns it?"])
    forget(page, "New chat")
    page.reload()
    asked_anew = ask(page, "Who owns it?")
    expect(page.locator(".ad-q")).to_have_text(["Who owns it?"])
    expect(asked_anew.locator(".ad-followup")).to_have_count(0)
    assert requests.outside() == []
    context.close()


def test_phone_width(browser: Any, url: str) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser, 375, 740)
    page = context.new_page()
    page.goto(f"{url}/")
    question = page.get_by_label("Your question")
    expect(question).to_be_visible()
    expect(page.get_by_role("button", name="Send")).to_be_in_viewport()
    assert no_horizontal_scroll(page)
    page.get_by_text("How much was bilateral trade").first.click()  # an example question asks itself
    expect(page.locator(".ad-msg .ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    assert no_horizontal_scroll(page)
    assert requests.outside() == []
    context.close()


def test_widget_on_an_intranet_page(browser: Any, url: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    host_page = HOST_PAGE.read_text(encoding="utf-8")
    assert 'src="../widget.js"' in host_page
    on_another_site = host_page.replace('src="../widget.js"', f'src="{url}/widget.js"')
    (tmp_path / "host.html").write_text(on_another_site, encoding="utf-8")
    plain = re.sub(r"<script\b[^>]*widget\.js[^>]*></script>", "", host_page)
    (tmp_path / "plain.html").write_text(plain, encoding="utf-8")

    context, requests = new_context(browser)
    page = context.new_page()
    with static_files(tmp_path) as site:
        page.goto(f"{site}/plain.html")
        globals_before = set(page.evaluate("Object.keys(window)"))
        page.goto(f"{site}/host.html")
        launcher = page.get_by_role("button", name="Ask the documents", exact=True)
        expect(launcher).to_be_visible()
        assert set(page.evaluate("Object.keys(window)")) - globals_before == {"askdocsWidget"}
        assert page.locator("iframe").count() == 0  # the chat loads on first open, not with the page
        # The host page's broad `button {…}` rule doesn't reach the widget (shadow DOM).
        assert launcher.evaluate("b => getComputedStyle(b).backgroundColor") != "rgb(198, 40, 40)"

        launcher.focus()
        page.keyboard.press("Enter")
        expect(launcher).to_have_attribute("aria-expanded", "true")
        frame = page.frame_locator("iframe[title='Ask the documents']")
        question = frame.get_by_label("Your question")
        question.fill(QUESTION)
        question.press("Enter")
        expect(frame.locator(".ad-msg .ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        expect(frame.locator(".ad-msg .ad-text").last).to_contain_text("[1]")

        close = page.get_by_role("button", name="Close Ask the documents")
        close.focus()
        page.keyboard.press("Enter")
        expect(page.locator("iframe[title='Ask the documents']")).to_be_hidden()
        expect(launcher).to_have_attribute("aria-expanded", "false")
        assert launcher.evaluate("b => b.getRootNode().activeElement === b")
    assert requests.outside() == []
    context.close()


def test_with_an_access_token_the_page_and_the_widget_work_after_one_token_url(
    browser: Any, full_assistant: Assistant, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    host_page = HOST_PAGE.read_text(encoding="utf-8")
    context, requests = new_context(browser)
    with serve(variant(full_assistant, access_token="s3cret")) as base, static_files(tmp_path) as site:
        (tmp_path / "host.html").write_text(
            host_page.replace('src="../widget.js"', f'src="{base}/widget.js?token=s3cret"'), encoding="utf-8"
        )
        page = context.new_page()
        assert page.goto(f"{base}/").status == 401
        page.goto(f"{base}/?token=s3cret")
        assert page.url == f"{base}/"  # the token left the address bar; the cookie carries on
        ask(page, QUESTION)
        expect(page.locator(".ad-msg .ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)

        widget_context, widget_requests = new_context(browser)  # a fresh browser profile: no cookie yet
        widget_page = widget_context.new_page()
        try:
            widget_page.goto(f"{site}/host.html")
            widget_page.get_by_role("button", name="Ask the documents", exact=True).click()
            frame = widget_page.frame_locator("iframe[title='Ask the documents']")
            frame.get_by_label("Your question").fill(QUESTION)
            frame.get_by_label("Your question").press("Enter")
            expect(frame.locator(".ad-msg .ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
        finally:
            widget_context.close()
        context.close()
    assert requests.outside() == []
    assert widget_requests.outside() == []


EVIL_DOC = """---
title: Widget budget <img src=x onerror="window.pwned='title';alert('title')"> notes
---
The quarterly widget report says the <script>window.pwned='script'</script> widget budget was 42 million dollars.
An image <img src=x onerror="window.pwned='img';alert('img')"> appears in the widget report [1](javascript:alert(1)).
"""
EVIL_QUESTION = (
    "What was the widget budget? <img src=x onerror=\"window.pwned='question';alert('q')\">"
    "<script>window.pwned='q-script'</script>"
)


@pytest.fixture(scope="module")
def evil_url(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[str]:
    """A corpus whose document (and the question asked) carry HTML and script."""
    root = tmp_path_factory.mktemp("evil")
    copy_corpus(root / "corpus", ["southeast-gateway-pipeline.md"])
    (root / "corpus" / "widget-notes.md").write_text(EVIL_DOC, encoding="utf-8")
    settings = make_settings(root)
    build_index(settings, embedder=embedder)
    with serve(Assistant.load(settings, embedder=embedder)) as base:
        yield base


def test_nothing_in_documents_or_questions_runs(browser: Any, evil_url: str) -> None:
    from playwright.sync_api import expect

    context, requests = new_context(browser)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    context.on("page", lambda p: p.on("dialog", on_dialog))  # every page, the source view popup too
    page = context.new_page()
    page.goto(f"{evil_url}/")
    answer = ask(page, EVIL_QUESTION)
    expect(answer.locator(".ad-sources mark").first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    expect(answer.locator(".ad-src-title").first).to_contain_text("<img src=x")  # shown as text
    expect(page.locator(".ad-q").last).to_contain_text("<script>")
    assert page.evaluate("window.pwned") is None

    with context.expect_page() as opened:
        answer.get_by_role("link", name=re.compile("Open the document")).first.click()
    source = opened.value
    source.wait_for_load_state()
    expect(source.locator("h1")).to_contain_text("<img src=x")
    expect(source.locator("mark#hit")).to_be_visible()
    assert source.evaluate("window.pwned") is None

    assert dialogs == []
    assert not [u for u in requests.urls if urlsplit(u).path.endswith("/x")]  # no <img src=x> was loaded
    assert requests.outside() == []
    context.close()
