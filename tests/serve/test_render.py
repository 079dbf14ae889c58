"""Answers as HTML: what the chat shows of a source, from the real shipped documents."""

from app.assistant import Assistant
from app.serve.render import Renderer
from app.types import Citation


def test_a_passage_shows_markdown_structure_not_syntax(full_assistant: Assistant) -> None:
    document = full_assistant.document("southeast-gateway-pipeline.md")
    quote = next(line.lstrip("- ") for line in document.text.splitlines() if line.startswith("- Diameter"))
    start = document.text.index(quote)
    citation = Citation(1, document.id, document.title, "", quote, start, start + len(quote), None, 0.9)
    html = Renderer(full_assistant, "")._citation(citation)
    assert "## " not in html, "a Markdown heading near the quote is shown as a heading, not as ## text"
    assert '<strong class="ad-h">' in html
    assert "• " in html
    assert "<br>- " not in html
    assert f"<mark>{quote}</mark>" in html.replace("&#x27;", "'")


def test_markup_in_a_document_stays_text() -> None:
    from app.serve.render import _flow

    html = _flow("## <script>alert(1)</script>\n- **<img src=x onerror=alert(1)>**")
    assert "<script>" not in html
    assert "<img" not in html
    assert html.startswith('<strong class="ad-h">&lt;script&gt;')
