"""Certificate pages: the holder's own, the registry, the detail page and its PDF, revocation, and the public
verification page with its PDF check and rate limit."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from lms.certification.certificate_forms import PDF_MAX_BYTES
from lms.certification.models import Certificate, CertificateState
from lms.db import db, utcnow
from tests.certification_support import make_cert_tree, make_certificate
from tests.conftest import Browser, csrf_from

REASON = "Conduct outside the program breached the code of conduct."


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


@pytest.fixture
def serial(app, people, tree) -> str:
    """Tess Trainee (supervised by Sam Supervisor) is certified, approved by Sam and issued by Ada Admin."""
    return make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)


@pytest.fixture
def other_serial(app, people, serial) -> str:
    """Theo Trainee (supervised by Sky Supervisor) is certified too."""
    return make_certificate(app, people.other_trainee.id, people.other_supervisor.id, people.admin.id)


def text(response) -> str:
    return response.get_data(as_text=True)


def main_part(html: str) -> str:
    return html.split('<main', 1)[1].split('</main>', 1)[0]


def cert_row(app, serial: str) -> Certificate:
    with app.app_context():
        cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
        assert cert is not None
        db.session.expunge(cert)
        return cert


def issued_pdf(app, serial: str) -> bytes:
    with app.app_context():
        return db.session.scalar(select(Certificate.pdf).where(Certificate.serial == serial))


def revoke(browser: Browser, serial: str, **data):
    page = f"/certificates/{serial}"
    fields = {k: v for k, v in {"reason": REASON, "confirm": "y", **data}.items() if v is not None}
    return browser.submit(page, f"{page}/revoke", data=fields)


# ---------------------------------------------------------------- the holder's page


def test_holder_sees_their_certificate(app, login_as, serial):
    cert = cert_row(app, serial)
    r = login_as("trainee").get("/certificate")
    assert r.status_code == 200
    html = main_part(text(r))
    assert "<h1>Your certificate</h1>" in html
    assert ">Valid</span> until" in html  # the status in words, not only by colour
    for shown in (serial, "PND Community Session Facilitator", "2026.1", cert.valid_from.isoformat(),
                  cert.valid_until.isoformat(), "Sam Supervisor", "Ada Admin", cert.holder_name):
        assert shown in html, shown
    assert f'href="/certificates/{serial}/pdf"' in html and "Download PDF" in html
    assert f'href="http://127.0.0.1:5000/verify/{cert.verification_code}"' in html  # the link to share
    assert "Earlier certificates" not in html and "<script" not in html


def test_no_certificate_says_what_to_do(login_as, tree):
    html = main_part(text(login_as("other_trainee").get("/certificate")))
    assert "You do not have a certificate yet." in html
    assert 'href="/certification"' in html
    assert "Download PDF" not in html


def test_certificate_pages_need_login(client, serial):
    for path in ("/certificate", "/certificates", f"/certificates/{serial}", f"/certificates/{serial}/pdf"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"], path


# ---------------------------------------------------------------- PDF


def test_pdf_download_is_byte_identical(app, login_as, people, serial):
    trainee = login_as("trainee")
    first, second = trainee.get(f"/certificates/{serial}/pdf"), trainee.get(f"/certificates/{serial}/pdf")
    for r in (first, second):
        assert r.status_code == 200
        assert r.headers["Content-Type"] == "application/pdf"
        assert r.headers["Content-Disposition"] == f'attachment; filename="{serial}.pdf"'
        assert r.headers["Cache-Control"] == "no-store"
        assert r.data.startswith(b"%PDF-")
    assert first.data == second.data == issued_pdf(app, serial)
    for who in ("supervisor", "admin"):
        assert login_as(who).get(f"/certificates/{serial}/pdf").data == first.data, who
    for who in ("other_trainee", "other_supervisor"):
        assert login_as(who).get(f"/certificates/{serial}/pdf").status_code == 404, who


# ---------------------------------------------------------------- registry


def test_registry_admin_sees_all(login_as, serial, other_serial):
    r = login_as("admin").get("/certificates")
    assert r.status_code == 200
    html = main_part(text(r))
    assert "<h1>Certificates</h1>" in html and "2 certificates found." in html
    assert serial in html and other_serial in html
    assert "Tess Trainee" in html and "Theo Trainee" in html
    for header in ("Holder", "Serial", "Credential", "Issued on", "Valid until", "Status"):
        assert f'<th scope="col">{header}</th>' in html
    assert f'href="/certificates/{serial}"' in html
    assert ">Valid</span>" in html


def test_registry_supervisor_sees_only_their_trainees(login_as, serial, other_serial):
    html = main_part(text(login_as("supervisor").get("/certificates")))
    assert serial in html and "Tess Trainee" in html
    assert other_serial not in html and "Theo Trainee" not in html
    html = main_part(text(login_as("other_supervisor").get("/certificates")))
    assert other_serial in html and serial not in html


@pytest.mark.parametrize("who", ["trainee", "other_trainee"])
def test_registry_is_not_for_trainees(login_as, serial, who):
    assert login_as(who).get("/certificates").status_code == 403


def test_registry_search_and_filter(login_as, serial, other_serial):
    admin = login_as("admin")

    def found(query: str) -> str:
        r = admin.get(f"/certificates?{query}")
        assert r.status_code == 200, query
        return main_part(text(r))

    html = found(f"q={other_serial}")
    assert other_serial in html and serial not in html and "1 certificate found." in html
    html = found("q=tess")  # the holder's name, any case
    assert serial in html and other_serial not in html
    html = found("q=nobody+at+all")
    assert "0 certificates found." in html and "No certificate matches these filters." in html
    html = found("status=valid")
    assert serial in html and other_serial in html
    for status in ("revoked", "expired", "superseded"):
        assert "0 certificates found." in found(f"status={status}"), status
    assert '<option value="revoked" selected>' in found("status=revoked")
    assert admin.get("/certificates?status=bogus").status_code == 400

    revoke(admin, serial)
    html = found("status=revoked")
    assert serial in html and other_serial not in html and ">Revoked</span>" in html
    html = found("status=valid&q=PND")
    assert other_serial in html and serial not in html
    assert serial in found("status=all")


def test_registry_pages(app_factory, people, serial, other_serial):
    small = app_factory(PAGE_SIZE=1)
    admin = Browser(small.test_client())
    admin.login(people.admin.email)
    html = text(admin.get("/certificates"))
    assert "Page 1 of 2" in html and 'rel="next"' in html
    assert other_serial in html and serial not in html  # newest first
    html = text(admin.get("/certificates?page=2"))
    assert serial in html and 'rel="prev"' in html


# ---------------------------------------------------------------- detail


@pytest.mark.parametrize("who", ["trainee", "supervisor", "admin"])
def test_detail_for_holder_supervisor_admin(app, login_as, serial, who):
    cert = cert_row(app, serial)
    r = login_as(who).get(f"/certificates/{serial}")
    assert r.status_code == 200
    html = main_part(text(r))
    assert f"<h1>Certificate {serial}</h1>" in html
    for shown in (cert.holder_name, "PND Community Session Facilitator", "2026.1", "Sam Supervisor", "Ada Admin",
                  cert.pdf_sha256, f"/verify/{cert.verification_code}", f'href="/certificates/{serial}/pdf"'):
        assert shown in html, shown
    assert ("Revoke this certificate" in html) is (who == "admin")


@pytest.mark.parametrize("who", ["other_trainee", "other_supervisor"])
def test_detail_is_404_for_others(login_as, serial, who):
    browser = login_as(who)
    assert browser.get(f"/certificates/{serial}").status_code == 404
    assert browser.get("/certificates/PND-2000-999999").status_code == 404


# ---------------------------------------------------------------- revocation


def test_supervisor_cannot_revoke(app, login_as, serial):
    sup = login_as("supervisor")
    assert "Revoke" not in main_part(text(sup.get(f"/certificates/{serial}")))
    assert revoke(sup, serial).status_code == 403
    assert revoke(login_as("other_supervisor"), serial).status_code == 404
    assert revoke(login_as("trainee"), serial).status_code == 403
    assert cert_row(app, serial).state.value == "active"


def test_revoke_needs_csrf(app, login_as, serial):
    admin = login_as("admin")
    r = admin.client.post(f"/certificates/{serial}/revoke", data={"reason": REASON, "confirm": "y"})
    assert r.status_code == 400
    assert cert_row(app, serial).state.value == "active"


@pytest.mark.parametrize(("data", "message"), [
    ({"reason": ""}, "Give the reason for revoking."),
    ({"reason": "too short"}, "Give a reason of 10 to 2000 characters."),
    ({"reason": "x" * 2001}, "Give a reason of 10 to 2000 characters."),
    ({"confirm": None}, "Tick the box to confirm"),  # a browser sends nothing for an unticked box
])
def test_revoke_form_errors(app, login_as, outbox, serial, data, message):
    r = revoke(login_as("admin"), serial, **data)
    assert r.status_code == 422
    html = main_part(text(r))
    assert message in html
    assert 'aria-invalid="true"' in html or 'id="confirm-error"' in html
    assert "Please correct the following" in html
    assert cert_row(app, serial).state.value == "active"
    assert not [m for m in outbox.messages() if "revoked" in m["Subject"]]


def test_revoke_end_to_end(app, client, login_as, outbox, people, serial):
    cert = cert_row(app, serial)
    admin = login_as("admin")
    r = revoke(admin, serial)
    assert r.status_code == 302 and r.headers["Location"] == f"/certificates/{serial}"
    html = text(admin.get(r.headers["Location"]))
    assert f"Certificate {serial} is revoked." in html
    revoked = cert_row(app, serial)
    assert revoked.state.value == "revoked"
    on = revoked.revoked_at.date().isoformat()
    main = main_part(html)
    assert ">Revoked</span>" in main and f'datetime="{on}"' in main
    assert REASON in main and "Revoked by</dt><dd>Ada Admin" in main
    assert "Revoke this certificate" not in main  # nothing left to revoke
    r = revoke(admin, serial)  # a second revocation is refused
    assert r.status_code == 409 and "is already revoked" in text(r) and "Revoke this certificate" not in text(r)

    # the holder and their supervisor are told
    mail = outbox.last_to(people.trainee.email)
    assert "revoked" in mail["Subject"] and REASON in outbox.body(mail)
    assert "revoked" in outbox.last_to(people.supervisor.email)["Subject"]

    # the public verification page says so, with the date
    public = main_part(text(client.get(f"/verify/{cert.verification_code}")))
    assert "This certificate was revoked: it is not valid" in public
    assert f'(revoked on <time datetime="{on}">' in public
    assert REASON not in public  # the reason stays between the holder, the supervisor and the admins

    # the holder: no longer offered as valid, the reason visible, the PDF not offered
    holder = login_as("trainee")
    mine = main_part(text(holder.get("/certificate")))
    assert "No valid certificate" in mine and "This certificate is valid" not in mine
    assert ">Valid</span>" not in mine and ">Revoked</span>" in mine and "not valid" in mine
    assert f'href="/certificates/{serial}/pdf"' not in mine and "Not offered: revoked" in mine
    detail = main_part(text(holder.get(f"/certificates/{serial}")))
    assert REASON in detail and f'href="/certificates/{serial}/pdf"' not in detail
    r = holder.get(f"/certificates/{serial}/pdf")
    assert r.status_code == 410 and "was revoked" in text(r)
    # ...while the supervisor and admins keep the record
    for who in ("supervisor", "admin"):
        r = login_as(who).get(f"/certificates/{serial}/pdf")
        assert r.status_code == 200 and r.data == issued_pdf(app, serial), who
        assert REASON in text(login_as(who).get(f"/certificates/{serial}")), who


# ---------------------------------------------------------------- public verification


def test_public_verification_shows_only_public_facts(app, client, people, serial):
    cert = cert_row(app, serial)
    r = client.get(f"/verify/{cert.verification_code}")
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    assert "noindex" in r.headers["X-Robots-Tag"]
    html = text(r)
    assert '<meta name="robots" content="noindex, nofollow">' in html
    main = main_part(html)
    assert "This certificate is valid" in main
    for shown in (cert.holder_name, serial, "PND Community Session Facilitator", "2026.1", cert.pdf_sha256,
                  cert.valid_from.isoformat(), cert.valid_until.isoformat()):
        assert shown in main, shown
    # nothing else: no e-mail address of anyone, no supervisor or issuer, no score, group or internal id
    assert "@" not in html
    for hidden in (people.trainee.email, people.supervisor.email, people.admin.email, "Sam Supervisor",
                   "Ada Admin", "Tuesday evening group", "100%", "score", "Log out"):
        assert hidden not in html, hidden
    assert f"/certificates/{serial}" not in html and "/admin/" not in html


def test_unknown_and_malformed_codes_look_the_same(client, serial):
    """Byte-identical 404 bodies for a well-formed unknown code and for malformed ones; the code is not echoed.
    (An anonymous visitor: a logged-in page carries a time-stamped CSRF token in its log-out form.)"""
    codes = ["A" * 32, "x", "../etc", "a" * 300, "%3Cscript%3E", "abc/def"]
    responses = [client.get(f"/verify/{code}") for code in codes]
    bodies = {r.data for r in responses}
    assert [r.status_code for r in responses] == [404] * len(codes)
    assert len(bodies) == 1
    body = bodies.pop().decode()
    assert "Certificate not found" in body and "AAAA" not in body and "aaaa" not in body and "etc" not in body
    assert all(r.headers["Cache-Control"] == "no-store" and "noindex" in r.headers["X-Robots-Tag"]
               for r in responses)
    assert "Set-Cookie" not in responses[0].headers


def test_verify_form_redirects_to_the_code(app, client, serial):
    code = cert_row(app, serial).verification_code
    r = client.get("/verify")
    assert r.status_code == 200 and '<label for="code">Verification code</label>' in text(r)
    assert "noindex" in r.headers["X-Robots-Tag"]
    r = client.get("/verify", query_string={"code": f"  {code[:10]} {code[10:]}\n"})
    assert r.status_code == 302 and r.headers["Location"] == f"/verify/{code}"
    r = client.get("/verify", query_string={"code": f"http://127.0.0.1:5000/verify/{code}"})
    assert r.headers["Location"] == f"/verify/{code}"
    r = client.get("/verify", query_string={"code": "   "})
    assert r.status_code == 200 and "Enter the verification code." in text(r)


# ---------------------------------------------------------------- checking a PDF


def check(client, code: str, data: bytes | None, filename: str = "certificate.pdf"):
    browser = Browser(client)
    fields = {} if data is None else {"pdf": (io.BytesIO(data), filename, "application/pdf")}
    return browser.submit(f"/verify/{code}", data=fields, content_type="multipart/form-data")


def test_check_pdf(app, client, serial):
    code = cert_row(app, serial).verification_code
    pdf = issued_pdf(app, serial)

    r = check(client, code, pdf)
    assert r.status_code == 200 and "noindex" in r.headers["X-Robots-Tag"]
    assert "This file is exactly the certificate issued." in text(r)
    assert "NOT the certificate" not in text(r)

    altered = bytearray(pdf)
    altered[len(altered) // 2] ^= 0x01
    r = check(client, code, bytes(altered))
    assert r.status_code == 200
    assert "This file is NOT the certificate issued (it may have been altered)." in text(r)
    assert "exactly the certificate" not in text(r)

    for data, message in ((b"", "This file is empty."), (b"GIF89a not a pdf", "This file is not a PDF"),
                          (None, "Choose the PDF file to check.")):
        r = check(client, code, data)
        assert r.status_code == 422 and message in text(r), message
        assert "exactly the certificate" not in text(r) and "NOT the certificate" not in text(r)


def test_check_pdf_refuses_big_files(app, client, serial):
    code = cert_row(app, serial).verification_code
    # just over the file limit, within the request limit: the form says so
    r = check(client, code, b"%PDF-" + b"0" * PDF_MAX_BYTES)
    assert r.status_code == 422 and "larger than 5 MB" in text(r)
    # far bigger: cut off before the body is read
    r = check(client, code, b"%PDF-" + b"0" * (PDF_MAX_BYTES + 200_000))
    assert r.status_code == 413 and "larger than 5 MB" in text(r) and "Nothing was checked." in text(r)


def test_check_pdf_needs_csrf(app, client, serial):
    code = cert_row(app, serial).verification_code
    r = client.post(f"/verify/{code}", data={"pdf": (io.BytesIO(issued_pdf(app, serial)), "c.pdf")},
                    content_type="multipart/form-data")
    assert r.status_code == 400 and "The form expired" in text(r)
    assert "exactly the certificate" not in text(r)


def test_check_pdf_after_revocation_says_not_valid(app, client, login_as, serial):
    code = cert_row(app, serial).verification_code
    revoke(login_as("admin"), serial)
    html = text(check(client, code, issued_pdf(app, serial)))
    assert "This file is exactly the certificate issued." in html and "the certificate is revoked" in html


# ---------------------------------------------------------------- rate limit


def test_verification_is_rate_limited(app_factory, people, serial):
    limited = app_factory(VERIFY_LIMIT_PER_ADDRESS="3 per minute")
    with limited.app_context():
        code = db.session.scalar(select(Certificate.verification_code).where(Certificate.serial == serial))

    def client_at(address: str):
        c = limited.test_client()
        c.environ_base["REMOTE_ADDR"] = address
        return c

    one = client_at("10.9.0.1")
    assert one.get(f"/verify/{code}").status_code == 200
    assert one.get("/verify/unknown-code").status_code == 404  # unknown codes count too: no free guessing
    csrf = csrf_from(text(one.get(f"/verify/{code}")))
    r = one.post(f"/verify/{code}", data={"csrf_token": csrf, "pdf": (io.BytesIO(b"%PDF-1.7"), "x.pdf")},
                 content_type="multipart/form-data")
    assert r.status_code == 429  # the check shares the limit
    r = one.get(f"/verify/{code}")
    assert r.status_code == 429 and "Too many attempts" in text(r) and int(r.headers["Retry-After"]) > 0
    assert re.search(r"<h1>Too many attempts</h1>", text(r))
    assert client_at("10.9.0.2").get(f"/verify/{code}").status_code == 200  # other addresses are not held up


# ---------------------------------------------------------------- expired and superseded


@pytest.mark.parametrize(("change", "status", "headline"), [
    ("expired", "Expired", "This certificate has expired: it is not valid"),
    ("superseded", "Superseded", "This certificate was replaced by a later one: it is not valid"),
])
def test_no_longer_valid_certificates(app, client, login_as, serial, change, status, headline):
    """Expiry is a matter of the date and supersession a state; both leave the certificate on record, not valid."""
    with app.app_context():
        today = utcnow().date()
        values = ({"valid_from": today - timedelta(days=800), "valid_until": today - timedelta(days=1)}
                  if change == "expired" else {"state": CertificateState.SUPERSEDED})
        db.session.execute(update(Certificate).where(Certificate.serial == serial).values(**values))
        db.session.commit()
    code = cert_row(app, serial).verification_code

    mine = main_part(text(login_as("trainee").get("/certificate")))
    assert "No valid certificate" in mine and ">Valid</span>" not in mine
    assert f">{status}</span>" in mine and "not valid" in mine
    assert f'href="/certificates/{serial}/pdf"' in mine and "for your records" in mine  # still downloadable

    public = main_part(text(client.get(f"/verify/{code}")))
    assert headline in public and "This certificate is valid" not in public

    admin = login_as("admin")
    assert serial in main_part(text(admin.get(f"/certificates?status={change}")))
    assert serial not in main_part(text(admin.get("/certificates?status=valid")))
