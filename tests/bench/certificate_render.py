"""How long a certificate takes to render: render_certificate (template, QR code and WeasyPrint) against the bare
WeasyPrint render of the same HTML with the same offline fetcher, and the size of the PDF.

    .venv/bin/python tests/bench/certificate_render.py [--runs N] [--name NAME ...] [--page-size A4|Letter]

Not a test (pytest collects only test_*.py): a script to run by hand. It needs no database tables; the app is
made on a throwaway SQLite file. The first render of a process is reported apart: it loads WeasyPrint's
fonts and unpacks the bundled WOFF2 files, which later renders reuse.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from weasyprint import HTML

from lms import create_app
from lms.certification.pdf import CertificateDocument, certificate_html, render_certificate
from lms.records.pdf import OfflineFetcher

DEFAULT_NAMES = ("Zoë Ångström-Núñez", "王小明", "فاطمة الزهراء")


def document(name: str) -> CertificateDocument:
    return CertificateDocument(
        holder_name=name, credential="PND Community Session Facilitator", program_version="2026.1",
        serial="PND-2026-000123", issued_on=date(2026, 11, 24), valid_until=date(2028, 11, 23),
        supervisor_name="Sam Okafor", issuer_name="Alex Moreau",
        verification_url="https://lms.example.org/verify/Q2x7mKp4Tz9LwR8vN3bYc6Hd-xY0aBcD")


def timed(fn: Callable[[], bytes], runs: int) -> tuple[list[float], bytes]:
    times, result = [], b""
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank
    return f"median {statistics.median(ordered) * 1000:7.1f} ms   p95 {p95 * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="renders per measurement (default 20)")
    parser.add_argument("--name", action="append", help="holder name (repeatable; default: Latin, Chinese, Arabic)")
    parser.add_argument("--page-size", choices=("A4", "Letter"), default=None, help="default: the configuration's")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"LMS_ENV": "testing", "DATABASE_URL": f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
                          "INSTANCE_PATH": tmp, "SECRET_KEY": "bench-" + "x" * 32})
        with app.app_context():
            start = time.perf_counter()
            render_certificate(document(DEFAULT_NAMES[0]), page_size=args.page_size)
            print(f"first render in this process: {(time.perf_counter() - start) * 1000:.0f} ms")
            print(f"{args.runs} runs each, page size {args.page_size or app.config['CERTIFICATE_PAGE_SIZE']}")
            for name in args.name or DEFAULT_NAMES:
                doc = document(name)
                html = certificate_html(doc, page_size=args.page_size)
                full, pdf = timed(lambda doc=doc: render_certificate(doc, page_size=args.page_size), args.runs)
                bare, _ = timed(lambda html=html: HTML(string=html, base_url=None,
                                                       url_fetcher=OfflineFetcher(allow_data=False)).write_pdf(),
                                args.runs)
                print(f"\n{name}")
                print(f"  render_certificate   {summary(full)}")
                print(f"  bare WeasyPrint      {summary(bare)}")
                print(f"  PDF size             {len(pdf):,} bytes")


if __name__ == "__main__":
    main()
