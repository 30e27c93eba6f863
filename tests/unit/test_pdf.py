"""The PDF renderer fetches nothing but the packaged fonts and data: URLs: not the file system, not the network
(a canary server on localhost counts every request it gets, and must get none). The fetcher's handling of the
packaged fonts is tested in test_certificate_pdf.py."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lms.records.pdf import OfflineFetcher, html_to_pdf

# a 1x1 transparent PNG
PIXEL = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")).decode()


class Canary:
    def __init__(self) -> None:
        self.hits: list[str] = []
        canary = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                canary.hits.append(self.path)
                self.send_response(200)
                self.send_header("Content-Type", "image/png")
                self.end_headers()
                self.wfile.write(base64.b64decode(PIXEL))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"


@pytest.fixture
def canary() -> Iterator[Canary]:
    c = Canary()
    thread = threading.Thread(target=c.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield c
    finally:
        c.server.shutdown()
        c.server.server_close()
        thread.join(timeout=5)


def test_the_canary_counts_requests(canary):
    from urllib.request import urlopen

    with urlopen(f"{canary.url}/check") as r:  # noqa: S310 (a local test server)
        assert r.status == 200
    assert canary.hits == ["/check"]


def test_rendering_fetches_no_file_and_no_url(canary, tmp_path):
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    html = f"""<!doctype html><html><head><meta charset="utf-8">
      <link rel="stylesheet" href="{canary.url}/style.css">
      <link rel="stylesheet" href="file://{secret}">
      <style>@import url("{canary.url}/import.css"); body {{ background: url("{canary.url}/bg.png"); }}
             @font-face {{ font-family: X; src: url("{canary.url}/font.woff"); }}</style>
      </head><body>
      <h1>Transcript</h1>
      <img src="file:///etc/passwd" alt="">
      <img src="http://127.0.0.1:1/x" alt="">
      <img src="{canary.url}/img.png" alt="">
      <img src="https://{canary.url.removeprefix('http://')}/secure.png" alt="">
      <object data="{canary.url}/object.svg"></object>
      <a rel="attachment" href="{canary.url}/attach.txt">attachment</a>
      <a rel="attachment" href="file:///etc/passwd">passwd</a>
      <img src="data:image/png;base64,{PIXEL}" alt="inline pixel">
    </body></html>"""
    pdf = html_to_pdf(html)
    assert pdf.startswith(b"%PDF-")
    assert canary.hits == []
    assert b"root:" not in pdf  # nothing of /etc/passwd made it in, not even as an attachment


@pytest.mark.parametrize("url", ["file:///etc/passwd", "FILE:///etc/hostname", "http://127.0.0.1:1/x",
                                 "https://example.org/", "ftp://example.org/x", "/etc/passwd", "etc/passwd",
                                 "//example.org/x", "  http://example.org/"])
def test_the_fetcher_refuses_everything_but_data_urls_and_packaged_fonts(url):
    with pytest.raises(ValueError, match="refused"):
        OfflineFetcher()(url)


def test_the_fetcher_reads_data_urls():
    assert OfflineFetcher()("data:text/plain,hello").read() == b"hello"


def test_the_transcript_template_carries_its_stylesheet_inline(app):
    from datetime import UTC, datetime

    from flask import render_template

    from lms.records.services import Totals, Transcript

    t = Transcript(trainee_id=1, name='<img src="file:///etc/passwd">', certificate_name="T", email="t@example.org",
                   supervisor_name=None, generated_at=datetime(2026, 1, 2, tzinfo=UTC), program_title=None,
                   program_version=None, required=(), other=(),
                   totals=Totals(required_done=0, required_total=0, courses_done=0, lessons_done=0, lessons_total=0,
                                 attempts=0, attempts_passed=0))
    with app.test_request_context():
        html = render_template("records/transcript_pdf.html", t=t)
    assert "<style>" in html and "<link" not in html and "src=" not in html.replace('&lt;img src=', "")
    assert "&lt;img" in html
    assert html_to_pdf(html).startswith(b"%PDF-")
