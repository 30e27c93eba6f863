"""Render a print template's HTML to PDF bytes with WeasyPrint, offline: nothing is fetched but data: URLs.

The HTML carries its stylesheet inline, so the renderer needs neither the network nor the file system. A
name or course title that smuggled in <img src="file:///etc/passwd"> or a link to an internal address gets
nothing: the fetcher refuses it, WeasyPrint logs a warning and leaves the image out.
"""

from __future__ import annotations

from weasyprint import HTML
from weasyprint.urls import URLFetcher

ALLOWED_SCHEMES = ("data:",)


class DataOnlyFetcher(URLFetcher):
    """WeasyPrint's fetcher, restricted to data: URLs. Every other URL (file, http, https, ftp, relative
    paths resolved against nothing) raises ValueError before anything is opened."""

    def __init__(self) -> None:
        super().__init__(timeout=1, allow_redirects=False, allowed_protocols=("data",), fail_on_errors=False)

    def fetch(self, url, headers=None):
        if not isinstance(url, str) or not url.lower().lstrip().startswith(ALLOWED_SCHEMES):
            raise ValueError(f"refused to fetch {str(url)[:80]!r}: PDFs are rendered offline")
        return super().fetch(url, headers)


def html_to_pdf(html: str) -> bytes:
    """The PDF of `html` (a complete document with an inline <style>), with no base URL and no attachments."""
    document = HTML(string=html, base_url=None, url_fetcher=DataOnlyFetcher())
    # Each refused URL is logged by WeasyPrint as a warning: worth seeing, since the templates themselves
    # never ask for one.
    return document.write_pdf(attachments=None, pdf_forms=False)
