"""The PDF renderer's refusals (issue 10), for both documents it makes: the certificate (lms/certification/pdf.py)
and the transcript (lms/records/pdf.py). Nothing is fetched but the packaged fonts: not a file:// URL, not an
http(s):// one (a canary HTTP server on localhost counts every request, and must get none); nothing is embedded
(WeasyPrint's <link rel="attachment"> and <a rel="attachment"> make PDF attachments: none may appear, checked with
pypdf for /EmbeddedFiles and /FileAttachment annotations); no link but to a web page or a mail address; and a
hostile value prints as the text it is.

The general fetch-nothing test of lms/records/pdf.py (a raw page full of external references) is
tests/unit/test_pdf.py, whose canary server this file uses; the tests of the certificate's hostile values and of
the fetcher's refusals moved here from tests/unit/test_certificate_pdf.py.
"""

from __future__ import annotations

import builtins
import io
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import render_template
from pypdf import PdfReader
from weasyprint import HTML

from lms.certification.pdf import certificate_html, render_certificate
from lms.learning.services import CourseState
from lms.quizzes.models import AttemptStatus
from lms.records import pdf as offline
from lms.records.pdf import FONTS_DIR, PACKAGED_ASSETS, OfflineFetcher, html_to_pdf
from lms.records.services import AttemptLine, CourseLine, Totals, Transcript
from tests.security.hostile import PAYLOADS, pdf_problems, pdf_text, squeeze
from tests.unit.test_certificate_pdf import DOC
from tests.unit.test_pdf import PIXEL
from tests.unit.test_pdf import canary as canary  # the fixture, shared rather than copied

SECRET_TEXT = "attached-secret-0f6a"


@pytest.fixture
def fetched(monkeypatch) -> list[str]:
    """Every URL the renderer asks its fetcher for."""
    requested: list[str] = []
    fetch = OfflineFetcher.fetch

    def spy(self, url, headers=None):
        requested.append(url)
        return fetch(self, url, headers)

    monkeypatch.setattr(OfflineFetcher, "fetch", spy)
    return requested


def hostile_values(url: str) -> list[str]:
    """Values that would fetch, embed or link something if they were markup, with the payloads of the XSS tests."""
    data = f"data:text/plain,{SECRET_TEXT}"
    return [
        f'<img src="{url}/a.png">',
        f'<link rel=stylesheet href="{url}/b.css">',
        f'<link rel="attachment" href="{url}/c.txt"><link rel="attachment" href="{data}">',
        f'<a rel="attachment" href="file:///etc/passwd">p</a><a rel="attachment" href="{data}">d</a>',
        '<img src="file:///etc/passwd"><a href="javascript:alert(1)">j</a>',
        f"x'); background: url({url}/d); ('",
        f'<style>@import "{url}/e.css"; @font-face {{ src: url("{url}/f.woff") }}</style>',
        f'<object data="{url}/g.svg"></object><iframe src="{url}/h"></iframe>',
        " ".join(PAYLOADS.values()),
    ]


def transcript(values: list[str]) -> Transcript:
    """A transcript with a hostile value in every text it prints: names, e-mail, supervisor, program, course and
    quiz titles (nine texts, one value each)."""
    at = datetime(2026, 1, 2, tzinfo=UTC)
    (quiz_title, course_title, other_title, name, certificate_name, supervisor, program, version,
     email) = values
    attempt = AttemptLine(id=1, quiz_slug="alpha", quiz_title=quiz_title, number=1, status=AttemptStatus.SUBMITTED,
                          started_at=at, closed_at=at, score=50.0, passed=False, critical_failed=False,
                          quiz_version="abc", current_quiz_version="abc")
    course = CourseLine(slug="alpha", title=course_title, required=True, retired=False,
                        state=CourseState.IN_PROGRESS, current_version="abc", completed_at=None,
                        completed_version=None, score=None, lessons_done=1, lessons_total=2, quiz_slug="alpha",
                        quiz_title="Alpha quiz", attempts=(attempt,))
    other = replace(course, slug="beta", title=other_title, required=False, attempts=())
    return Transcript(trainee_id=1, name=name, certificate_name=certificate_name, email=email,
                      supervisor_name=supervisor, generated_at=at, program_title=program, program_version=version,
                      required=(course,), other=(other,),
                      totals=Totals(required_done=0, required_total=1, courses_done=0, lessons_done=1,
                                    lessons_total=2, attempts=1, attempts_passed=0))


def render(which: str, app, values: list[str]) -> tuple[bytes, list[str]]:
    """The PDF of one of the two documents, with `values` in its texts; and those texts as printed."""
    if which == "certificate":
        doc = replace(DOC, holder_name=values[0][:120], credential=values[1], supervisor_name=values[2][:120],
                      issuer_name=values[3][:120], program_version=values[4][:40], serial=values[5][:32])
        with app.app_context():
            return render_certificate(doc), [doc.holder_name, doc.credential, doc.supervisor_name, doc.issuer_name,
                                             doc.program_version, doc.serial]
    t = transcript(values)
    with app.test_request_context():
        html = render_template("records/transcript_pdf.html", t=t)
    return html_to_pdf(html), values


# ---------------------------------------------------------------- both documents


@pytest.mark.parametrize("which", ["certificate", "transcript"])
def test_hostile_values_print_as_text_and_fetch_embed_or_link_nothing(app, canary, fetched, which):
    values = hostile_values(canary.url)
    pdf, printed = render(which, app, values)
    assert pdf.startswith(b"%PDF-")
    assert canary.hits == []
    assert fetched and set(fetched) <= set(PACKAGED_ASSETS), fetched  # the fonts, nothing else
    assert pdf_problems(pdf) == []
    assert b"root:" not in pdf
    text = squeeze(pdf_text(pdf))
    for value in printed:
        assert squeeze(value) in text, value


def test_the_certificate_keeps_its_verification_link_and_no_other(app_ctx):
    pdf = render_certificate(replace(DOC, holder_name='<a href="javascript:alert(1)">x</a>'))
    uris = [str(a.get_object()["/A"]["/URI"]) for page in PdfReader(io.BytesIO(pdf)).pages
            for a in page.get("/Annots") or [] if "/A" in a.get_object()]
    assert set(uris) == {DOC.verification_url}


# ---------------------------------------------------------------- the renderer itself, with raw HTML


def raw_page(url: str) -> str:
    data = f"data:text/plain,{SECRET_TEXT}"
    return f"""<!doctype html><html><head><meta charset="utf-8">
      <link rel="attachment" href="{data}" title="a.txt">
      <link rel="attachment" href="{url}/attach.txt">
      <link rel="attachment" href="file:///etc/hostname">
      </head><body><p>Hello</p>
      <a rel="attachment" href="{data}" download="b.txt">inline attachment</a>
      <a rel="attachment" href="{url}/anchor.txt">remote attachment</a>
      <a rel="attachment" href="file:///etc/passwd">file attachment</a>
      <a href="javascript:alert(1)">script link</a>
      <a href="file:///etc/passwd">file link</a>
      <a href="https://example.org/">web link</a>
      <img src="data:image/png;base64,{PIXEL}" alt="inline pixel">
    </body></html>"""


@pytest.mark.parametrize("allow_data", [True, False])
def test_attachments_and_unsafe_links_are_dropped(canary, fetched, allow_data):
    pdf = html_to_pdf(raw_page(canary.url), allow_data=allow_data)
    assert canary.hits == []
    assert all(url in PACKAGED_ASSETS or url.startswith("data:image/") for url in fetched), fetched
    assert pdf_problems(pdf) == []
    uris = [str(a.get_object()["/A"]["/URI"]) for page in PdfReader(io.BytesIO(pdf)).pages
            for a in page.get("/Annots") or [] if "/A" in a.get_object()]
    assert set(uris) == {"https://example.org/"}  # the web link stays (in one or more pieces)


def test_the_checks_find_what_weasyprint_embeds_by_default(canary):
    """The same page through WeasyPrint as it comes (data: URLs allowed, nothing dropped) does embed the files and
    keep the links: the checks above would see them."""
    pdf = HTML(string=raw_page(canary.url), url_fetcher=OfflineFetcher()).write_pdf()
    problems = pdf_problems(pdf)
    assert any("/EmbeddedFiles" in p for p in problems), problems
    assert any("/FileAttachment annotation" in p for p in problems), problems
    assert any("javascript:" in p for p in problems) and any("file:///etc/passwd" in p for p in problems)
    assert canary.hits == []  # the fetcher still refused the canary and the files


# ---------------------------------------------------------------- moved from tests/unit/test_certificate_pdf.py


def test_hostile_values_print_as_text_and_fetch_nothing(app_ctx, canary, fetched):
    doc = replace(
        DOC,
        holder_name=f'<img src="{canary.url}/a">',
        credential=f'<link rel=stylesheet href="{canary.url}/b.css">',
        supervisor_name=f"x'); background: url({canary.url}/c); ('",
        issuer_name='<img src="file:///etc/passwd">',
        program_version="<b>x</b>",
        serial=f'<style>@import "{canary.url}/d.css";</style>',
        verification_url=f'{canary.url}/verify/x"><img src="{canary.url}/e">',
    )
    html = certificate_html(doc)
    assert "<img" not in html and "<link" not in html and "<b>" not in html and html.count("<style>") == 1
    assert "&lt;img src=&#34;file:///etc/passwd&#34;&gt;" in html

    pdf = render_certificate(doc)
    assert canary.hits == []
    assert fetched and all(url in PACKAGED_ASSETS for url in fetched), fetched  # the fonts, nothing else
    assert b"root:" not in pdf
    text = squeeze(pdf_text(pdf))
    for value in (doc.holder_name, doc.credential, doc.supervisor_name, doc.issuer_name, doc.program_version,
                  doc.serial, doc.verification_url):
        assert squeeze(value) in text, value
    reader = PdfReader(io.BytesIO(pdf))
    assert reader.metadata.title == f"Certificate {doc.serial} — {doc.holder_name}"


def test_only_web_addresses_become_links(app_ctx):
    assert 'href="https://lms.example.org/verify/' in certificate_html(DOC)
    html = certificate_html(replace(DOC, verification_url="javascript:alert(1)"))
    assert "href=" not in html and "javascript:alert(1)" in html


@pytest.fixture
def nothing_opens(monkeypatch):
    """Any attempt to open a file or a URL fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"opened {args[:2]!r}")

    monkeypatch.setattr(builtins, "open", refuse)
    monkeypatch.setattr(Path, "open", refuse)
    monkeypatch.setattr(Path, "read_bytes", refuse)
    monkeypatch.setattr(urllib.request.OpenerDirector, "open", refuse)
    offline._font_file.cache_clear()
    yield
    offline._font_file.cache_clear()


@pytest.mark.parametrize("url", [
    "file:///etc/passwd", "FILE:///etc/hostname", f"file://{FONTS_DIR}/NotoSans-Regular.woff2",
    "http://127.0.0.1:1/x", "https://example.org/font.woff2", "ftp://example.org/x",
    "lms-asset:fonts/../../config.py", "lms-asset:fonts/../records/pdf.py", "lms-asset:fonts/%2e%2e/config.py",
    "lms-asset:fonts/..%2F..%2Fconfig.py", "lms-asset:/etc/passwd", "lms-asset:fonts//etc/passwd",
    "lms-asset:fonts/../fonts/NotoSans-Regular.woff2", "lms-asset:fonts/./NotoSans-Regular.woff2",
    "lms-asset:fonts/NotoSans-Regular.woff2?x", "lms-asset:fonts/NotoSans-Regular.woff2#x",
    "LMS-ASSET:fonts/NotoSans-Regular.woff2", " lms-asset:fonts/NotoSans-Regular.woff2",
    "lms-asset:fonts/Unknown.woff2", "lms-asset:fonts/README.md", "lms-asset:fonts/OFL.txt",
    "lms-asset:NotoSans-Regular.woff2", "lms-asset:css/app.css", "lms-asset:favicon.svg",
    "fonts/NotoSans-Regular.woff2", "/etc/passwd", "//example.org/x", "data:text/plain,hello",
])
def test_the_fetcher_refuses_all_but_packaged_fonts_without_opening_anything(nothing_opens, url):
    with pytest.raises(ValueError, match="refused"):
        OfflineFetcher(allow_data=False)(url)


def test_data_urls_only_when_allowed():
    assert OfflineFetcher()("data:text/plain,hello").read() == b"hello"
    with pytest.raises(ValueError, match="refused"):
        OfflineFetcher(allow_data=False)("data:text/plain,hello")
