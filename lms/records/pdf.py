"""Render a print template's HTML to PDF bytes with WeasyPrint, offline: nothing is fetched but the packaged
fonts (and data: URLs where a caller allows them).

The HTML carries its stylesheet inline, so the renderer needs neither the network nor the file system. The
bundled fonts (lms/static/fonts/, see its README.md) are named in the stylesheet with URLs of a scheme of our
own, ``lms-asset:fonts/<file>``: WeasyPrint treats any ``scheme:`` URL as absolute and hands it unchanged to
the fetcher, which serves it only if it is, character for character, one of the font files in that folder.
A name or course title that smuggled in <img src="file:///etc/passwd"> or a link to an internal address gets
nothing: the fetcher refuses it, WeasyPrint logs a warning and leaves the image out.
"""

from __future__ import annotations

import functools
import re
from io import BytesIO
from pathlib import Path

from fontTools.ttLib import woff2
from weasyprint import HTML
from weasyprint.urls import URLFetcher, URLFetcherResponse

ASSET_SCHEME = "lms-asset:"
FONTS_DIR = Path(__file__).resolve().parent.parent / "static" / "fonts"


def _packaged_fonts() -> dict[str, Path]:
    return {f"{ASSET_SCHEME}fonts/{path.name}": path for path in sorted(FONTS_DIR.glob("*.woff2")) if path.is_file()}


# The allow-list: the exact URL of every font file in the folder, fixed when the module is imported. Lookups
# are by the whole string, so "../", "%2e%2e", absolute paths or other folders cannot match anything.
PACKAGED_ASSETS: dict[str, Path] = _packaged_fonts()


@functools.cache
def _font_file(url: str) -> bytes:
    """The font at `url` as a plain OpenType file. Unpacked once per process: WeasyPrint would otherwise
    unpack every WOFF2 file of the stylesheet at every render (about a second for the set), since it loads
    each @font-face whether the text needs it or not."""
    out = BytesIO()
    with PACKAGED_ASSETS[url].open("rb") as fh:
        woff2.decompress(fh, out)
    return out.getvalue()


class OfflineFetcher(URLFetcher):
    """WeasyPrint's fetcher, restricted to the packaged fonts and, if `allow_data`, data: URLs. Every other URL
    (file, http, https, ftp, relative paths resolved against nothing, unknown assets) raises ValueError before
    anything is opened."""

    def __init__(self, *, allow_data: bool = True) -> None:
        super().__init__(timeout=1, allow_redirects=False, allowed_protocols=("data",), fail_on_errors=False)
        self.allow_data = allow_data

    def fetch(self, url, headers=None):
        if isinstance(url, str):
            if url in PACKAGED_ASSETS:
                return URLFetcherResponse(url, body=_font_file(url), headers={"Content-Type": "font/sfnt"})
            if self.allow_data and url[:5].lower() == "data:":
                return super().fetch(url, headers)  # the parent allows the data: protocol alone
        raise ValueError(f"refused to fetch {str(url)[:80]!r}: PDFs are rendered offline from packaged assets")


# The links a PDF may keep: to a web page or a mail address (the certificate's verification link), and within the
# document. A javascript:, file: or other link would be handed to whatever opens the PDF.
_KEPT_LINK = re.compile(r"(https?|mailto):", re.IGNORECASE)


def _kept(link: tuple) -> bool:
    kind, target = link[0], link[1]
    return kind == "internal" or (kind == "external" and isinstance(target, str) and bool(_KEPT_LINK.match(target)))


def html_to_pdf(html: str, *, allow_data: bool = True) -> bytes:
    """The PDF of `html` (a complete document with an inline <style>), with no base URL and nothing embedded.

    WeasyPrint embeds the files that a document names itself (<link rel="attachment">, <a rel="attachment">),
    fetched through the same fetcher as images, so a data: URL would become a file inside the PDF: those are
    dropped after layout and before the PDF is written (which is when they would be fetched), with every link
    that is not to a web page, a mail address or a place in the document."""
    rendered = HTML(string=html, base_url=None, url_fetcher=OfflineFetcher(allow_data=allow_data)).render(
        pdf_forms=False)
    rendered.metadata.attachments = []
    for page in rendered.pages:
        page.links = [link for link in page.links if _kept(link)]
    # Each refused URL is logged by WeasyPrint as a warning: worth seeing, since the templates themselves
    # never ask for one.
    return rendered.write_pdf(attachments=None, pdf_forms=False)
