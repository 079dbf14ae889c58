"""The whole-document page: Markdown structure shown as structure, the highlight exact, the CSP intact."""

import base64
import hashlib
import html
import re

from app.assistant import Assistant
from app.serve.pages import document_page
from app.types import Document


def marked(page: str) -> list[str]:
    """The text of each <mark> on the page, in order."""
    return [html.unescape(text) for text in re.findall(r"<mark[^>]*>([^<]*)</mark>", page)]


def test_headings_bullets_and_bold_show_as_structure(full_assistant: Assistant) -> None:
    doc = full_assistant.document("southeast-gateway-pipeline.md")
    page, _csp = document_page(doc, None, None)
    body = page.split('<div class="doc">', 1)[1]
    assert "<h3>Route</h3>" in body  # "## Route"; the page's own <h1> is the title
    assert "## " not in body
    bullets = [line for line in doc.text.splitlines() if line.startswith("- ")]
    assert body.count("<li") == len(bullets) > 5
    assert not re.search(r"(^|>)- ", body), "no bullet shows its '- '"
    assert "<mark" not in body

    text = Document(id="notes.txt", title="Notes", text="Plain **bold** words\n\nNext paragraph")
    assert "<p>Plain <strong>bold</strong> words</p><p>Next paragraph</p>" in document_page(text, None, None)[0]


def test_a_highlight_across_a_heading_and_a_bullet_marks_exactly_its_text(full_assistant: Assistant) -> None:
    doc = full_assistant.document("southeast-gateway-pipeline.md")
    start = doc.text.index("national-security grounds.")  # the last words of a list item
    end = doc.text.index("Length: 715 km") + len("Length: 715 km")  # past a heading, into the next list
    assert "\n## Length, capacity and design\n" in doc.text[start:end]
    page, _csp = document_page(doc, start, end)
    assert marked(page) == ["national-security grounds.", "Length, capacity and design", "Length: 715 km"]
    assert "".join(marked(page)) == re.sub(r"\n+(## |- )?", "", doc.text[start:end]), "the span less its syntax"
    assert page.index("<mark") == page.index('<mark id="hit">'), "the first piece is the one scrolled to"
    assert page.count('id="hit"') == 1

    within = doc.text.index("Diameter: 36 inches")
    page, _csp = document_page(doc, within, within + len("Diameter: 36 inches"))
    assert '<li class="d0"><mark id="hit">Diameter: 36 inches</mark>;' in page

    # A span of syntax alone (a bullet's "- ") has no text to mark: an empty mark still marks the place.
    bullet = doc.text.index("- Diameter")
    page, _csp = document_page(doc, bullet, bullet + 2)
    assert marked(page) == [""]
    assert '<li class="d0"><mark id="hit"></mark>Diameter' in page


def test_markup_in_a_document_stays_text_and_only_our_style_and_script_are_allowed() -> None:
    evil = Document(
        id="evil.md",
        title="Evil",
        text='## <img src=x onerror="alert(1)">\n- **<script>alert(2)</script>** item\nText </div><script>x</script>',
    )
    page, csp = document_page(evil, None, None)
    assert "<img" not in page
    assert page.count("<script>") == 1, "our scroll script only"
    assert "<h3>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</h3>" in page
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    script = re.search(r"<script>(.*?)</script>", page, re.DOTALL)
    assert style
    assert script
    for allowed in (style.group(1), script.group(1)):
        digest = base64.b64encode(hashlib.sha256(allowed.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
