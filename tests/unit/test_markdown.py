"""Lesson and user Markdown renders to HTML with nothing executable left in it."""

import re
from html.parser import HTMLParser

import pytest

from lms.content.markdown import render, substitute, unknown_placeholders

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "![x](javascript:alert(1))",
    "<iframe src='https://evil.example'></iframe>",
    "<a href='https://ok.example' onclick='alert(1)'>x</a>",
    "<svg onload=alert(1)>",
    "<style>body{display:none}</style>",
    "<form action='https://evil.example'><input name=p></form>",
    "<object data='x.swf'></object>",
    "[x](vbscript:msgbox(1))",
    "<div style='background:url(javascript:alert(1))'>x</div>",
    "<<script>script>alert(1)<</script>/script>",
    "<details open ontoggle=alert(1)>",
]
SAFE_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
             "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "img"}


def executable_markup(html: str) -> list[str]:
    """What a browser could run or load from this HTML: unsafe tags, event handlers, styles, unsafe URLs."""
    found: list[str] = []

    class Finder(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag not in SAFE_TAGS:
                found.append(f"tag {tag}")
            for name, value in attrs:
                if name.startswith("on") or name in ("style", "srcdoc", "formaction"):
                    found.append(f"attribute {name}")
                if name in ("href", "src") and value and re.match(r"^\s*[a-z][a-z0-9+.-]*:", value, re.I) \
                        and not re.match(r"^(https?|mailto):", value, re.I):
                    found.append(f"{name}={value}")

    Finder().feed(html)
    return found


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_has_nothing_executable(source):
    html = render(source)
    assert executable_markup(html) == [], html


def test_the_checker_itself_catches_executable_markup():
    assert executable_markup('<p onclick="x">a</p><script></script><a href="javascript:x">y</a>') == [
        "attribute onclick", "tag script", "href=javascript:x"]


def test_ordinary_markdown_survives():
    html = render("## Heading\n\nSome *em* and **strong**, a [link](https://example.org).\n\n"
                  "| a | b |\n|---|--:|\n| 1 | 2 |\n\n1. one\n2. two\n\n> quote\n")
    assert "<h2>Heading</h2>" in html
    assert '<a href="https://example.org" rel="noopener noreferrer">link</a>' in html
    assert "<table>" in html and "<td>2</td>" in html  # alignment styles are dropped, the cell stays
    assert "<ol>" in html and "<blockquote>" in html


def test_raw_html_is_shown_as_text_not_markup():
    html = render("Before <b>bold</b> after")
    assert "<b>" not in html and "&lt;b&gt;" in html


def test_resources_are_filled_in_from_configuration():
    text = "Call {{emergency_number}} or {{ crisis_line }}; unknown {{nope}} stays."
    assert substitute(text, {"emergency_number": "112", "crisis_line": "a line"}) == \
        "Call 112 or a line; unknown {{nope}} stays."
    assert unknown_placeholders("ok {{emergency_number}}\n{{nope}} here") == [(2, "nope")]


def test_a_resource_value_cannot_inject_markup():
    html = render("Call {{emergency_number}}", {"emergency_number": "<script>alert(1)</script>"})
    assert "<script>" not in html
