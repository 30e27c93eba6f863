"""Certificate issue time against a bare WeasyPrint render of the same HTML, and the PDF download time (issue 9).

    .venv/bin/python -m tests.bench.issue [--runs N] [--trainees T] [--database-url URL]

A scratch database (default: a temporary SQLite file; it is emptied) gets the generator's population of T
trainees; approved certification requests are topped up to N + 1 by approving pending ones directly (status,
decider and date, as approve_request leaves them). One admin then issues N of them through
lms.certification.services.issue_certificate, each followed by the commit the issue views make (which writes
the two e-mails to the outbox). Right after each issue the same certificate's HTML
(lms.certification.pdf.certificate_html) is rendered by bare WeasyPrint with lms.records.pdf.OfflineFetcher, as
html_to_pdf does. The first issue is a warm-up (fonts load) and not counted. Then every holder downloads their
new PDF three times: GET /certificates/<serial>/pdf through app.test_client(), logged in through /login.

Targets: issue median at most 1.5x the bare render median; download median at least 20x faster than issue.
Not a test (pytest collects only test_*.py).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from weasyprint import HTML

from lms.accounts.models import Role, User
from lms.certification import services
from lms.certification.models import CertificationRequest, RequestStatus
from lms.certification.pdf import CertificateDocument, certificate_html
from lms.db import db, utcnow
from lms.records.pdf import OfflineFetcher
from tests.bench.generate import generate
from tests.bench.run import login, nearest_rank


def approved_requests(needed: int) -> list[int]:
    """Ids of approved requests, approving pending ones directly when the population has too few."""
    ids = list(db.session.scalars(select(CertificationRequest.id).where(
        CertificationRequest.status == RequestStatus.APPROVED).order_by(CertificationRequest.id)))
    if len(ids) < needed:
        for req in db.session.scalars(select(CertificationRequest).where(
                CertificationRequest.status == RequestStatus.PENDING).order_by(CertificationRequest.id)
                .limit(needed - len(ids))):
            req.status, req.decided_by_id = RequestStatus.APPROVED, req.user.supervisor_id
            req.decided_at = req.requested_at + timedelta(days=1)
            ids.append(req.id)
        db.session.commit()
    if len(ids) < needed:
        raise SystemExit(f"only {len(ids)} approved or pending requests: generate more trainees (--trainees)")
    return ids[:needed]


def document_of(cert) -> CertificateDocument:  # noqa: ANN001 (a Certificate)
    """The document issue_certificate renders for `cert`."""
    return CertificateDocument(
        holder_name=cert.holder_name, credential=cert.program_title, program_version=cert.program_version,
        serial=cert.serial, issued_on=cert.valid_from, valid_until=cert.valid_until,
        supervisor_name=cert.approver_name, issuer_name=cert.issuer_name,
        verification_url=services.verification_url(cert.verification_code))


def stats(times: list[float]) -> tuple[float, float]:
    return statistics.median(times) * 1000, nearest_rank(times, 0.95) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20, help="certificates issued and timed (default 20)")
    parser.add_argument("--trainees", type=int, default=200, help="population of the scratch database (default 200)")
    parser.add_argument("--database-url", help="scratch database, EMPTIED (default: a temporary SQLite file)")
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'issue.sqlite3'}"
        app = generate(url, args.trainees, reset=True, quiet=True)
        logging.getLogger("lms.mail").setLevel(logging.WARNING)  # one line per e-mail would bury the table
        issue_t: list[float] = []
        bare_t: list[float] = []
        holders: list[tuple[str, str, int]] = []
        with app.app_context():
            ids = approved_requests(args.runs + 1)
            admin = db.session.scalar(select(User).where(User.role == Role.ADMIN).order_by(User.id))
            for n, request_id in enumerate(ids):
                req = db.session.get(CertificationRequest, request_id)
                start = time.perf_counter()
                cert = services.issue_certificate(req, issuer=admin, now=utcnow())
                db.session.commit()
                issued = time.perf_counter() - start
                html = certificate_html(document_of(cert))
                start = time.perf_counter()
                HTML(string=html, base_url=None, url_fetcher=OfflineFetcher(allow_data=False)).write_pdf(
                    attachments=None, pdf_forms=False)
                bare = time.perf_counter() - start
                if n == 0:  # warm-up: WeasyPrint loads its fonts on the first render of the process
                    print(f"first issue in this process (not counted): {issued * 1000:.0f} ms")
                    continue
                issue_t.append(issued)
                bare_t.append(bare)
                holders.append((cert.user.email, cert.serial, len(cert.pdf)))
            database = db.engine.dialect.name
        download_t: list[float] = []
        for email, serial, size in holders:
            client = login(app, email)
            client.get(f"/certificates/{serial}/pdf")  # warm-up
            for _ in range(3):
                start = time.perf_counter()
                response = client.get(f"/certificates/{serial}/pdf")
                download_t.append(time.perf_counter() - start)
                if response.status_code != 200 or len(response.data) != size:
                    raise SystemExit(f"download of {serial}: {response.status_code}, {len(response.data)} bytes")

    issue_m, issue_p = stats(issue_t)
    bare_m, bare_p = stats(bare_t)
    down_m, down_p = stats(download_t)
    sizes = [h[2] for h in holders]
    print(f"\nCertificate issue on {database} ({args.trainees} trainees), {len(issue_t)} issues, "
          f"PDF {min(sizes):,}-{max(sizes):,} bytes")
    print(f"{'measurement':<44} {'runs':>5} {'median ms':>10} {'p95 ms':>8}")
    print(f"{'issue_certificate + commit':<44} {len(issue_t):>5} {issue_m:>10.1f} {issue_p:>8.1f}")
    print(f"{'bare WeasyPrint render (same HTML)':<44} {len(bare_t):>5} {bare_m:>10.1f} {bare_p:>8.1f}")
    print(f"{'GET /certificates/<serial>/pdf (holder)':<44} {len(download_t):>5} {down_m:>10.2f} {down_p:>8.2f}")
    ratio_issue, ratio_down = issue_m / bare_m, issue_m / down_m
    print(f"\nissue / bare render   {ratio_issue:6.2f}x   target <= 1.5x   "
          f"{'ok' if ratio_issue <= 1.5 else 'MISSES'}")
    print(f"issue / download      {ratio_down:6.0f}x   target >= 20x    {'ok' if ratio_down >= 20 else 'MISSES'}")


if __name__ == "__main__":
    main()
