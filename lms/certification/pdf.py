"""The certificate as a one-page PDF: templates/pdf/certificate.html rendered offline by WeasyPrint.

The HTML is self-contained: an inline stylesheet, the bundled Noto fonts (lms/static/fonts/, fetched through
the ``lms-asset:`` URLs that lms.records.pdf.OfflineFetcher alone serves, so a holder's name prints in any
script), and the QR code as inline SVG drawn by segno. Every value of the document is auto-escaped text, so
a name such as ``<img src="file:///etc/passwd">`` prints as written and fetches nothing; data: URLs are not
needed and not allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

import segno
from flask import current_app, render_template
from markupsafe import Markup

from lms.dates import long_date
from lms.records.pdf import html_to_pdf

# The CSS `size` for each configured paper; landscape, as certificates usually are.
PAGE_CSS = {"A4": "A4 landscape", "Letter": "letter landscape"}


QR_ERROR_LEVEL = "m"  # 15% of the code may be damaged (a fold, a stain) and it still reads
QR_COLOUR = "#102a43"


@dataclass(frozen=True)
class CertificateDocument:
    holder_name: str  # the holder's certificate name, any script
    credential: str  # e.g. "PND Community Session Facilitator"
    program_version: str  # e.g. "2026.1"
    serial: str  # e.g. "PND-2026-000123"
    issued_on: date
    valid_until: date
    supervisor_name: str  # the approving supervisor
    issuer_name: str  # the issuing admin
    verification_url: str  # absolute URL, e.g. "https://lms.example.org/verify/<code>"
    organisation: str = "Project New Day"


def qr_code(url: str) -> segno.QRCode:
    """The QR code of `url`: never a Micro QR, which phone cameras do not read; error correction at least M,
    more when that costs no extra modules."""
    return segno.make_qr(url, error=QR_ERROR_LEVEL)


def qr_svg(url: str) -> Markup:
    """The QR code of `url` as inline SVG with a four-module quiet zone, sized by the stylesheet. It holds
    only path data drawn from the code's modules, never the URL's text, so it is safe to mark up as is."""
    svg = qr_code(url).svg_inline(border=4, dark=QR_COLOUR, omitsize=True, svgclass="qr-code", lineclass=None)
    return Markup(svg)  # noqa: S704 (segno's output: numbers and our own constants, no user text)


def _name_size(name: str) -> str:
    """A size class that keeps a long name on the page (certificate names are at most 120 characters)."""
    length = len(name)
    return "name-long" if length > 60 else "name-medium" if length > 32 else "name-short"


def certificate_html(doc: CertificateDocument, *, page_size: str | None = None) -> str:
    """The certificate's HTML (inside an app context); `page_size` defaults to CERTIFICATE_PAGE_SIZE."""
    size = page_size or current_app.config["CERTIFICATE_PAGE_SIZE"]
    if size not in PAGE_CSS:
        raise ValueError(f"the certificate page size must be one of {', '.join(PAGE_CSS)}, not {size!r}")
    # A link in the PDF only for a web address; the printed text is always there.
    link = doc.verification_url if urlsplit(doc.verification_url).scheme in ("http", "https") else None
    return render_template(
        "pdf/certificate.html", doc=doc, page_css=PAGE_CSS[size],
        issued_on=long_date(doc.issued_on), valid_until=long_date(doc.valid_until),
        qr=qr_svg(doc.verification_url), verification_link=link, name_size=_name_size(doc.holder_name))


def render_certificate(doc: CertificateDocument, *, page_size: str | None = None) -> bytes:
    """The certificate as PDF bytes, rendered offline (see lms.records.pdf)."""
    return html_to_pdf(certificate_html(doc, page_size=page_size), allow_data=False)
