"""Certification in Chromium, with three people in their own browser contexts and the public in a fourth: the
trainee works through the checklist (a led session logged, the code of conduct accepted) and requests
certification; the supervisor scores the led session on the rubric and approves; the administrator issues the
certificate; the trainee downloads the PDF; anyone verifies it as valid; the administrator revokes it; the
verification page then says revoked. Every page visited is checked with axe-core."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from lms.accounts.models import User
from lms.certification import services
from lms.certification.models import Certificate, PracticumKind
from lms.db import db, utcnow
from tests.browser.support import Pages, follow, log_in, submit, visit
from tests.certification_support import REFLECTION, make_cert_tree
from tests.content_tree import finish_alpha
from tests.factories import PASSWORD, People


@pytest.fixture
def nearly_there(app, people: People, tmp_path) -> None:
    """Course alpha done; observed, co-facilitated and crisis role-play sessions confirmed. Still missing: a led
    session and the code of conduct."""
    make_cert_tree(app, tmp_path / "content")
    finish_alpha(app, people.trainee.id)
    with app.app_context():
        trainee = db.session.get(User, people.trainee.id)
        sup = db.session.get(User, people.supervisor.id)
        for kind in (PracticumKind.OBSERVED, PracticumKind.CO_FACILITATED, PracticumKind.CRISIS_ROLEPLAY):
            entry = services.log_practicum(trainee, kind=kind, session_date=utcnow().date() - timedelta(days=5),
                                           group_name="Monday online group", reflection=REFLECTION)
            services.review_entry(entry, reviewer=sup, confirm=True)
        db.session.commit()


def requirement(page: Page, text: str):
    return page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=re.compile(text)))


def test_from_checklist_to_a_verified_then_revoked_certificate(app, pages: Pages, people: People, nearly_there):
    trainee, supervisor, admin, public = pages.new(), pages.new(), pages.new(), pages.new()

    # --- the trainee: the checklist says what is missing, and where to go
    log_in(trainee, people.trainee.email, PASSWORD)
    follow(trainee, trainee.get_by_role("navigation").get_by_role("link", name="Certification"))
    expect(trainee.get_by_role("heading", level=1)).to_have_text("Your certification")
    expect(trainee.get_by_text("4 of 6")).to_be_visible()
    led = requirement(trainee, "Lead 1 session")
    expect(led).to_contain_text("Not done yet")
    expect(requirement(trainee, "Course alpha")).to_contain_text("Done")
    expect(trainee.get_by_role("button", name="Request certification")).to_have_count(0)

    # log the led session
    follow(trainee, led.get_by_role("link"))
    expect(trainee.get_by_role("heading", level=1)).to_have_text("Your practicum log")
    trainee.get_by_label("Led a session while observed").check()
    trainee.get_by_label("Date of the session").fill((utcnow().date() - timedelta(days=1)).isoformat())
    trainee.get_by_label("Group or session").fill("Thursday online group")
    trainee.get_by_label("Your reflection").fill("I opened the session, read the guidelines and kept time.")
    submit(trainee, trainee.get_by_role("button", name="Log this session"))
    expect(trainee.get_by_role("status").first).to_contain_text("logged")
    expect(trainee.get_by_role("region", name="Sessions you have logged").last).to_contain_text("Waiting for review")

    # accept the code of conduct
    visit(trainee, "/certification")
    follow(trainee, requirement(trainee, "code of conduct").get_by_role("link"))
    expect(trainee.get_by_text("I will be kind.")).to_be_visible()
    trainee.get_by_label("I have read the code of conduct and agree to follow it").check()
    submit(trainee, trainee.get_by_role("button", name="Accept version 1.0"))
    expect(trainee.get_by_role("status").first).to_contain_text("You accepted version 1.0 of the code of conduct.")

    # --- the supervisor: the led session waits on the dashboard; score it on the rubric
    log_in(supervisor, people.supervisor.email, PASSWORD)
    waiting = supervisor.get_by_role("region", name="Reviews waiting")
    expect(waiting).to_contain_text("Led a session while observed")
    follow(supervisor, waiting.get_by_role("link", name=re.compile("Review")))
    expect(supervisor.get_by_text("I opened the session, read the guidelines")).to_be_visible()
    supervisor.get_by_role("group", name="Opening statement and confidentiality").get_by_label("3 competent").check()
    supervisor.get_by_role("group", name="Safety").get_by_label("4 strong").check()
    submit(supervisor, supervisor.get_by_role("button", name="Confirm this entry"))
    expect(supervisor.get_by_role("status").first).to_contain_text("onfirmed")

    # --- the trainee: everything met, so the request can go
    visit(trainee, "/certification")
    expect(trainee.get_by_text("6 of 6")).to_be_visible()
    trainee.get_by_label("A note for your reviewer (optional)").fill("Thank you for the observed sessions.")
    submit(trainee, trainee.get_by_role("button", name="Request certification"))
    expect(trainee.get_by_role("status").first).to_contain_text("request")

    # --- the supervisor approves, from the dashboard, with the evidence on the page
    visit(supervisor, "/")
    follow(supervisor, supervisor.get_by_role("region", name="Reviews waiting")
           .get_by_role("link", name=re.compile("certification request")))
    expect(supervisor.get_by_role("heading", level=1)).to_have_text("Certification request of Tess Trainee")
    expect(supervisor.get_by_role("heading", name="Transcript")).to_be_visible()
    expect(supervisor.get_by_text("Thank you for the observed sessions.")).to_be_visible()
    submit(supervisor, supervisor.get_by_role("button", name="Approve certification"))
    expect(supervisor.get_by_role("status").first).to_contain_text("pproved")

    # --- the administrator issues the certificate
    log_in(admin, people.admin.email, PASSWORD)
    visit(admin, "/reviews?status=approved")
    follow(admin, admin.get_by_role("link", name=re.compile("Tess Trainee")).first)
    submit(admin, admin.get_by_role("button", name="Issue certificate"))
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        serial, code, sha = cert.serial, cert.verification_code, cert.pdf_sha256
    expect(admin.get_by_role("heading", level=1)).to_contain_text(serial)

    # --- the trainee downloads the PDF from "My certificate"
    visit(trainee, "/certification")
    follow(trainee, trainee.get_by_role("link", name="See and download your certificate"))
    expect(trainee.get_by_role("main")).to_contain_text(serial)
    expect(trainee.get_by_role("main")).to_contain_text("Valid")
    with trainee.expect_download() as download_info:
        trainee.get_by_role("link", name=re.compile("Download")).first.click()
    download = download_info.value
    assert download.suggested_filename == f"{serial}.pdf"
    data = open(download.path(), "rb").read()  # noqa: SIM115 (Playwright owns the file)
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == sha

    # --- the public: the code printed on the certificate shows it valid, with nothing private
    visit(public, "/verify")
    public.get_by_label(re.compile("code", re.I)).first.fill(code)
    submit(public, public.get_by_role("button", name=re.compile("Verify|Check", re.I)).first)
    main = public.get_by_role("main")
    expect(main).to_contain_text("Valid")
    expect(main).to_contain_text("Tess Trainee")
    expect(main).to_contain_text(serial)
    expect(main).to_contain_text(sha)
    expect(main).not_to_contain_text("@")
    expect(main).not_to_contain_text("Sam Supervisor")

    # --- the administrator revokes it, with a reason
    visit(admin, f"/certificates/{serial}")
    admin.get_by_label(re.compile("Reason")).fill("Issued in error: the practicum was logged twice.")
    admin.get_by_role("checkbox").check()
    submit(admin, admin.get_by_role("button", name=re.compile("Revoke")))
    expect(admin.get_by_role("status").first).to_contain_text("revoked")

    # --- the verification page now says revoked, with the date
    visit(public, f"/verify/{code}")
    expect(public.get_by_role("main")).to_contain_text("Revoked")
    today = utcnow().date()
    expect(public.get_by_role("main")).to_contain_text(f"{today.day} {today:%B %Y}")
    expect(public.get_by_role("main")).not_to_contain_text("practicum was logged twice")
