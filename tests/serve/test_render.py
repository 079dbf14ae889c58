"""Answers as HTML: what the chat shows of a source, from the real shipped documents."""

import dataclasses
import html
import re

from app.assistant import Assistant
from app.serve.render import Renderer, view_url
from app.serve.text_html import passage_html
from app.types import Citation, Passage


def test_a_passage_shows_markdown_structure_not_syntax(full_assistant: Assistant) -> None:
    document = full_assistant.document("southeast-gateway-pipeline.md")
    quote = next(line.lstrip("- ") for line in document.text.splitlines() if line.startswith("- Diameter"))
    start = document.text.index(quote)
    citation = Citation(1, document.id, document.title, "", quote, start, start + len(quote), None, 0.9)
    source = Renderer(full_assistant, "")._citation(citation)
    assert "## " not in source, "a Markdown heading near the quote is shown as a heading, not as ## text"
    assert '<strong class="ad-h">' in source
    assert "• " in source
    assert "<br>- " not in source
    assert f"<mark>{quote}</mark>" in source.replace("&#x27;", "'")


def test_markup_in_a_document_stays_text() -> None:
    text = "## <script>alert(1)</script>\n- **<img src=x onerror=alert(1)>**"
    passage = passage_html(text, 0, len(text), 3, text.index("\n"))
    assert "<script>" not in passage
    assert "<img" not in passage
    assert passage.startswith('<strong class="ad-h"><mark>&lt;script&gt;alert(1)&lt;/script&gt;</mark></strong>')


def test_a_follow_up_says_which_earlier_questions_it_was_read_with(full_assistant: Assistant) -> None:
    renderer = Renderer(full_assistant, "")
    answer = full_assistant.ask("What pipeline did TC Energy finish in Mexico?")
    assert answer.follows_up == ()
    assert "follow-up" not in renderer.answer(answer), "a new topic says nothing about follow-ups"

    earlier = ("Who is the Canadian prime minister?", 'And <img src=x onerror="alert(1)"> his  party?')
    message = renderer.answer(dataclasses.replace(answer, follows_up=earlier))
    assert (
        "Read as a follow-up to: “Who is the Canadian prime minister?” and "
        "“And &lt;img src=x onerror=&quot;alert(1)&quot;&gt; his party?”"
    ) in message
    assert "<img" not in message


def test_each_marker_links_to_its_quote_in_the_document(full_assistant: Assistant) -> None:
    answer = full_assistant.ask("What is the value of Canadian direct investment in Mexico?")
    assert len(answer.citations) >= 2
    text = Renderer(full_assistant, "/askdocs").answer(answer).split('<p class="ad-text">')[1].split("</p>")[0]
    links = re.findall(r'<a class="ad-cite" href="([^"]+)"[^>]*>\[(\d+)\]</a>', text)
    assert {int(marker) for _, marker in links} == {c.marker for c in answer.citations}
    quotes = {c.marker: view_url("/askdocs", c.doc_id, c.start, c.end) for c in answer.citations}
    assert all(href == html.escape(quotes[int(marker)]) for href, marker in links)
    assert "[" not in re.sub(r"<a [^>]*>\[\d+\]</a>", "", text), "every marker is a link"


def test_closest_passages_of_a_not_found_answer_show_structure_not_syntax(full_assistant: Assistant) -> None:
    answer = full_assistant.ask("Who won the 2024 Stanley Cup?")
    assert answer.abstained
    chunk = next(c for c in full_assistant.index.chunks if "\n- " in c.text and c.text.startswith("#"))
    shown = Renderer(full_assistant, "").answer(dataclasses.replace(answer, passages=(Passage(chunk, 1, 0.5),)))
    closest = shown[shown.index("Closest passages") :]
    assert '<strong class="ad-h">' in closest
    assert "• " in closest
    assert "<br>- " not in closest
    assert not re.search(r"(^|>|<br>)#+ ", closest), "a heading is shown as a heading, not as # text"
