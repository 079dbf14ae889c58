"""Answers as HTML: what the chat shows of a source, from the real shipped documents."""

from app.assistant import Assistant
from app.serve.render import Renderer
from app.serve.text_html import passage_html
from app.types import Citation


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
