"""The certificate PDF: one page of the configured paper, every fact of the certificate as text, names in any
script drawn with the bundled fonts (no .notdef), a QR code of the verification URL. And the offline fetcher
serving each packaged font. Hostile values (printed as text, nothing fetched), the canary server and the
fetcher's refusals are tested in tests/security/test_pdf_renderer.py."""

from __future__ import annotations

import io
import logging
import re
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import segno
from fontTools.ttLib import TTFont
from pypdf import PdfReader

from lms.certification import pdf as certificate_pdf
from lms.certification.pdf import CertificateDocument, certificate_html, long_date, render_certificate
from lms.config import CERTIFICATE_PAGE_SIZES, ConfigError, load
from lms.records.pdf import FONTS_DIR, PACKAGED_ASSETS, OfflineFetcher

ROOT = Path(__file__).resolve().parents[2]
FONTS_CSS = ROOT / "templates" / "pdf" / "_fonts.css"
MM = 72 / 25.4

DOC = CertificateDocument(
    holder_name="Zoë Ångström-Núñez", credential="PND Community Session Facilitator", program_version="2026.1",
    serial="PND-2026-000123", issued_on=date(2026, 11, 24), valid_until=date(2028, 11, 23),
    supervisor_name="Sam Okafor", issuer_name="Alex Moreau",
    verification_url="https://lms.example.org/verify/Q2x7mKp4Tz9LwR8vN3bYc6Hd")

# Each family of the stylesheet, the file stem of its regular face, and the PDF font-name stem it embeds as.
FAMILIES = {
    "latin": ("NotoSans", "PND-Sans"),
    "arabic": ("NotoSansArabic", "PND-Sans-Arabic"),
    "hebrew": ("NotoSansHebrew", "PND-Sans-Hebrew"),
    "devanagari": ("NotoSansDevanagari", "PND-Sans-Devanagari"),
    "cjk": ("NotoSansCJKsc", "PND-Sans-CJK"),
}
BUNDLED_FONT_NAME = re.compile(r"/[A-Z]{6}\+PND-Sans(-Arabic|-Hebrew|-Devanagari|-CJK)?(-Bold)?")


def squeeze(text: str) -> str:
    """Text without whitespace: a value wrapped over two lines still matches."""
    return re.sub(r"\s+", "", text)


def pdf_text(pdf: bytes) -> str:
    reader = PdfReader(io.BytesIO(pdf))
    return "\n".join(page.extract_text() for page in reader.pages)


def pdf_fonts(pdf: bytes) -> dict[str, object]:
    """BaseFont name -> font dictionary, for every font on every page."""
    fonts = {}
    for page in PdfReader(io.BytesIO(pdf)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            fonts[str(font["/BaseFont"])] = font
    return fonts


def cmap_of(stem: str, style: str = "Regular") -> set[int]:
    return set(TTFont(FONTS_DIR / f"{stem}-{style}.woff2").getBestCmap())


def notdef_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("weasyprint") and ".notdef" in r.getMessage()]


# ---------------------------------------------------------------- what the certificate says


def test_the_certificate_is_one_page_with_every_fact(app_ctx, caplog):
    caplog.set_level(logging.WARNING)
    pdf = render_certificate(DOC)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = squeeze(reader.pages[0].extract_text())
    for value in (DOC.holder_name, DOC.credential, DOC.program_version, DOC.serial, DOC.verification_url,
                  DOC.supervisor_name, DOC.issuer_name, DOC.organisation, "24 November 2026", "23 November 2028",
                  "This certifies that", "has completed the training, supervised practicum and review"):
        assert squeeze(value) in text, value
    assert reader.metadata.title == "Certificate PND-2026-000123 — Zoë Ångström-Núñez"
    assert reader.metadata.author == "Project New Day"
    assert notdef_warnings(caplog) == []
    # Nothing but the bundled fonts, and none with a glyph missing (WeasyPrint then writes its own encoding
    # that maps the missing glyphs to .notdef, instead of /Identity-H).
    fonts = pdf_fonts(pdf)
    assert fonts and all(BUNDLED_FONT_NAME.fullmatch(name) for name in fonts), sorted(fonts)
    assert {str(font["/Encoding"]) for font in fonts.values()} == {"/Identity-H"}


def test_dates_are_written_out():
    assert long_date(date(2026, 11, 24)) == "24 November 2026"
    assert long_date(date(2027, 1, 5)) == "5 January 2027"


@pytest.mark.parametrize(("size", "width_mm", "height_mm"), [("A4", 297, 210), ("Letter", 279.4, 215.9)])
def test_the_page_is_landscape_a4_or_us_letter(app_ctx, size, width_mm, height_mm):
    box = PdfReader(io.BytesIO(render_certificate(DOC, page_size=size))).pages[0].mediabox
    assert (float(box.width), float(box.height)) == pytest.approx((width_mm * MM, height_mm * MM), abs=0.5)


def test_the_page_size_comes_from_the_configuration(app_factory):
    for config, points in ((None, (841.89, 595.28)), ("Letter", (792, 612)), ("A4", (841.89, 595.28))):
        app = app_factory() if config is None else app_factory(CERTIFICATE_PAGE_SIZE=config)
        with app.app_context():
            box = PdfReader(io.BytesIO(render_certificate(DOC))).pages[0].mediabox
        assert (float(box.width), float(box.height)) == pytest.approx(points, abs=0.5), config


def test_an_unknown_page_size_is_refused(app_ctx):
    with pytest.raises(ValueError, match="A4, Letter"):
        certificate_html(DOC, page_size="A5")


def test_every_configurable_page_size_has_a_page(app_ctx):
    assert set(CERTIFICATE_PAGE_SIZES) == set(certificate_pdf.PAGE_CSS)


@pytest.mark.parametrize(("value", "expected"), [(None, "A4"), ("", "A4"), ("A4", "A4"), ("a4", "A4"),
                                                 ("Letter", "Letter"), ("letter", "Letter"), (" LETTER ", "Letter")])
def test_the_page_size_setting(tmp_path, value, expected):
    environ = {"LMS_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32}
    if value is not None:
        environ["LMS_CERTIFICATE_PAGE_SIZE"] = value
    assert load(environ)["CERTIFICATE_PAGE_SIZE"] == expected


@pytest.mark.parametrize("value", ["A5", "Legal", "US Letter", "letter landscape", "A4; color: red"])
def test_other_page_sizes_stop_the_application(tmp_path, value):
    environ = {"LMS_INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k" * 32, "LMS_CERTIFICATE_PAGE_SIZE": value}
    with pytest.raises(ConfigError, match="LMS_CERTIFICATE_PAGE_SIZE must be A4 or Letter"):
        load(environ)


def test_a_name_of_the_longest_kind_stays_on_one_page(app_ctx):
    name = ("Maximiliana Esperanza Concepción de los Ángeles Rodríguez-Villanueva y Fernández-Castellanos "
            "de la Torre Saavedra")[:120]
    doc = replace(DOC, holder_name=name, supervisor_name=name, issuer_name=name, credential=name)
    pdf = render_certificate(doc)
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    assert squeeze(name) in squeeze(pdf_text(pdf))


# ---------------------------------------------------------------- names in any script


NAMES = [
    ("Zoë Ångström-Núñez", "latin"),
    ("Nguyễn Thị Minh Khai", "latin"),
    ("Дмитрий Иванов", "latin"),
    ("Σοφία Παπαδοπούλου", "latin"),
    ("فاطمة الزهراء", "arabic"),
    ("נועה בן־דוד", "hebrew"),
    ("प्रिया सिंह", "devanagari"),
    ("王小明", "cjk"),
    ("黃美玲", "cjk"),  # a Traditional character (U+9EC3) from Big5, not in GB 2312 nor JIS X 0208
    ("山田 花子", "cjk"),
    ("やまだ ハナコ", "cjk"),
    ("김민준", "cjk"),
]


@pytest.mark.parametrize(("name", "script"), NAMES)
def test_names_in_any_script_print_with_the_bundled_fonts(app_ctx, caplog, name, script):
    caplog.set_level(logging.WARNING)
    stem, pdf_name = FAMILIES[script]
    # The bundled font of the name's script maps every letter of it (spaces aside).
    assert {ord(c) for c in name if not c.isspace()} <= cmap_of(stem)

    pdf = render_certificate(replace(DOC, holder_name=name, supervisor_name=name))
    assert notdef_warnings(caplog) == []
    fonts = pdf_fonts(pdf)
    assert all(BUNDLED_FONT_NAME.fullmatch(font) for font in fonts), sorted(fonts)  # no server font crept in
    assert any(font.endswith(f"+{pdf_name}") for font in fonts), sorted(fonts)
    assert {str(font["/Encoding"]) for font in fonts.values()} == {"/Identity-H"}  # no glyph was missing
    # WeasyPrint maps each glyph back to its characters (even Arabic's joined forms), so the name reads back.
    assert squeeze(name) in squeeze(pdf_text(pdf))
    assert PdfReader(io.BytesIO(pdf)).metadata.title == f"Certificate {DOC.serial} — {name}"


def test_a_character_outside_the_bundled_fonts_is_reported(app_ctx, caplog):
    """The checks above can fail: a script the bundle lacks (Ethiopic) is not drawn with a bundled font."""
    caplog.set_level(logging.WARNING)
    pdf = render_certificate(replace(DOC, holder_name="አበበ ቢቂላ"))
    fonts = pdf_fonts(pdf)
    assert notdef_warnings(caplog) or not all(BUNDLED_FONT_NAME.fullmatch(font) for font in fonts)


def test_the_transcript_prints_any_script_with_the_bundled_fonts(app, caplog):
    from datetime import UTC, datetime

    from flask import render_template

    from lms.records.pdf import html_to_pdf
    from lms.records.services import Totals, Transcript

    caplog.set_level(logging.WARNING)
    name = "王小明 · فاطمة الزهراء · Zoë"
    t = Transcript(trainee_id=1, name=name, certificate_name=name, email="t@example.org", supervisor_name="김민준",
                   generated_at=datetime(2026, 1, 2, tzinfo=UTC), program_title=None, program_version=None,
                   required=(), other=(),
                   totals=Totals(required_done=0, required_total=0, courses_done=0, lessons_done=0, lessons_total=0,
                                 attempts=0, attempts_passed=0))
    with app.test_request_context():
        pdf = html_to_pdf(render_template("records/transcript_pdf.html", t=t))
    assert notdef_warnings(caplog) == []
    fonts = pdf_fonts(pdf)
    assert all(BUNDLED_FONT_NAME.fullmatch(font) for font in fonts), sorted(fonts)
    assert {re.sub(r"^/[A-Z]{6}\+", "", font) for font in fonts} >= {"PND-Sans", "PND-Sans-Bold", "PND-Sans-CJK-Bold",
                                                                     "PND-Sans-Arabic-Bold", "PND-Sans-CJK"}
    assert squeeze("김민준") in squeeze(pdf_text(pdf))


# ---------------------------------------------------------------- the stylesheet and the font files


def font_faces() -> list[dict[str, str]]:
    faces = []
    for rule in re.findall(r"@font-face\s*\{(.*?)\}", FONTS_CSS.read_text(), re.S):
        faces.append({m[0]: m[1].strip() for m in re.findall(r"([a-z-]+)\s*:\s*([^;]+);", rule)})
    return faces


def parse_unicode_range(value: str) -> set[int]:
    points = set()
    for part in value.split(","):
        first, _, last = part.strip().removeprefix("U+").partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return points


def test_every_bundled_font_is_declared_with_a_unicode_range_it_covers():
    faces = font_faces()
    declared = {re.fullmatch(r'url\("(lms-asset:fonts/[^"]+)"\) format\("woff2"\)', f["src"])[1] for f in faces}
    assert declared == set(PACKAGED_ASSETS)
    assert set(PACKAGED_ASSETS) == {f"lms-asset:fonts/{p.name}" for p in FONTS_DIR.glob("*.woff2")}
    for face in faces:
        path = PACKAGED_ASSETS[face["src"].split('"')[1]]
        if "unicode-range" in face:  # never claims a character the file cannot draw
            assert parse_unicode_range(face["unicode-range"]) <= set(TTFont(path).getBestCmap()), path.name
        else:
            assert face["font-family"] == '"PND Sans CJK"'


@pytest.mark.parametrize("template", ["templates/pdf/certificate.html", "templates/records/transcript_pdf.html"])
def test_the_pdf_templates_use_every_bundled_family(template):
    html = (ROOT / template).read_text()
    assert '{% include "pdf/_fonts.css" %}' in html
    stack = re.search(r"body\s*\{[^}]*font-family:\s*([^;]+);", html)[1]
    families = [f.strip() for f in stack.split(",")]
    assert families[-1] == "sans-serif"
    assert set(families[:-1]) == {face["font-family"] for face in font_faces()}


def test_the_font_folder_stays_small_and_licensed():
    sizes = {p.name: p.stat().st_size for p in FONTS_DIR.iterdir()}
    assert sum(sizes.values()) < 8_000_000, sizes
    assert "SIL OPEN FONT LICENSE Version 1.1" in (FONTS_DIR / "OFL.txt").read_text()
    assert "pyftsubset" in (FONTS_DIR / "README.md").read_text()


# ---------------------------------------------------------------- the fetcher
# (hostile values, the canary server and the fetcher's refusals: tests/security/test_pdf_renderer.py)


@pytest.mark.parametrize("url", sorted(PACKAGED_ASSETS))
def test_the_fetcher_serves_each_packaged_font(url):
    assert PACKAGED_ASSETS[url].parent == FONTS_DIR
    body = OfflineFetcher(allow_data=False)(url).read()
    assert body[:4] in (b"\x00\x01\x00\x00", b"OTTO")  # unpacked from WOFF2 to plain TrueType / CFF OpenType
    assert TTFont(io.BytesIO(body)).getBestCmap() == TTFont(PACKAGED_ASSETS[url]).getBestCmap()


# ---------------------------------------------------------------- the QR code


def dark_modules_of_svg(svg: str) -> set[tuple[int, int]]:
    """The dark modules of segno's SVG path: "M x y" / "m dx dy" moves, "h n" runs along a row at y = row + .5."""
    d = re.search(r'<path[^>]* d="([^"]+)"', svg)[1]
    x = y = 0.0
    dark = set()
    for op, a, b in re.findall(r"([Mmh])(-?[\d.]+)(?:\s(-?[\d.]+))?", d):
        if op == "M":
            x, y = float(a), float(b)
        elif op == "m":
            x, y = x + float(a), y + float(b)
        else:
            dark.update((int(y - 0.5), col) for col in range(int(x), int(x + float(a))))
            x += float(a)
    return dark


def dark_modules_of_pdf(pdf: bytes) -> set[tuple[int, int]]:
    """The QR code as WeasyPrint drew it: "x1 y m / x2 y l" strokes in module units, a row at y = row + .5."""
    stream = PdfReader(io.BytesIO(pdf)).pages[0].get_contents().get_data().decode("latin-1")
    dark = set()
    for x1, y, x2 in re.findall(r"(?m)^(\d+) (\d+)\.5 m\n(\d+) \2\.5 l$", stream):
        dark.update((int(y), col) for col in range(int(x1), int(x2)))
    return dark


def dark_modules_of(url: str, border: int = 4) -> set[tuple[int, int]]:
    """What segno itself encodes for `url`, offset by the quiet zone."""
    matrix = segno.make_qr(url, error="m").matrix
    return {(r + border, c + border) for r, row in enumerate(matrix) for c, bit in enumerate(row) if bit & 1}


def test_the_qr_code_is_inline_svg_of_the_verification_url(app_ctx):
    html = certificate_html(DOC)
    svgs = re.findall(r"<svg\b.*?</svg>", html, re.S)
    assert len(svgs) == 1 and "xlink:href" not in svgs[0] and "<image" not in svgs[0]
    expected = dark_modules_of(DOC.verification_url)
    assert dark_modules_of_svg(svgs[0]) == expected
    assert expected != dark_modules_of(DOC.verification_url + "x")  # the comparison can tell URLs apart


def test_the_pdf_draws_the_qr_code_of_the_verification_url(app_ctx):
    pdf = render_certificate(DOC)
    assert dark_modules_of_pdf(pdf) == dark_modules_of(DOC.verification_url)
    other = render_certificate(replace(DOC, verification_url="https://lms.example.org/verify/another-code-0000"))
    assert dark_modules_of_pdf(other) != dark_modules_of(DOC.verification_url)
