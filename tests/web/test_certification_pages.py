"""Certification pages: the trainee's checklist and requests, the code of conduct, the practicum log and its
review, the review hub, a request's evidence and decision, issuing one or several certificates. Who may see
what (403/404), form errors next to their fields with nothing saved, CSRF, GETs that change nothing, escaping."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.certification import services
from lms.certification.models import (
    Certificate,
    CertificationRequest,
    ConductAcknowledgement,
    EntryStatus,
    PracticumEntry,
    PracticumKind,
    RequestStatus,
)
from lms.db import db, utcnow
from tests.certification_support import (
    REFLECTION,
    make_approved,
    make_cert_tree,
    make_eligible,
    make_request,
)

FLASH_RE = re.compile(r'<p class="flash flash-(\w+)"[^>]*>(.*?)</p>', re.S)
HOSTILE = "<script>alert(1)</script>"


# ---------------------------------------------------------------- helpers


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def text(response) -> str:
    return response.get_data(as_text=True)


def flashes(page: str) -> list[tuple[str, str]]:
    return [(c, html.unescape(t).strip()) for c, t in FLASH_RE.findall(page)]


def plain(page: str) -> str:
    """The page's text with tags removed and whitespace collapsed, to look for sentences."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def field_error(page: str, field_id: str) -> str:
    m = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>', page, re.S)
    assert m, f"no error shown next to {field_id}"
    return html.unescape(m.group(1)).strip()


def days_ago(n: int) -> str:
    return (utcnow().date() - timedelta(days=n)).isoformat()


def log_entry(app, trainee_id: int, kind: PracticumKind = PracticumKind.LED_OBSERVED,
              reflection: str = REFLECTION) -> int:
    with app.app_context():
        entry = services.log_practicum(db.session.get(User, trainee_id), kind=kind,
                                       session_date=utcnow().date() - timedelta(days=2),
                                       group_name="Thursday online group", reflection=reflection)
        db.session.commit()
        return entry.id


def entry_of(app, entry_id: int) -> PracticumEntry:
    with app.app_context():
        entry = db.session.get(PracticumEntry, entry_id)
        db.session.expunge(entry)
        return entry


def request_of(app, request_id: int) -> CertificationRequest:
    with app.app_context():
        req = db.session.get(CertificationRequest, request_id)
        db.session.expunge(req)
        return req


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def counts(app) -> dict[str, int]:
    return {m.__name__: count(app, m) for m in (PracticumEntry, CertificationRequest, Certificate,
                                                 ConductAcknowledgement, AuditEvent)}


def states(app) -> dict:
    with app.app_context():
        return {"entries": db.session.execute(select(PracticumEntry.id, PracticumEntry.status)).all(),
                "requests": db.session.execute(select(CertificationRequest.id, CertificationRequest.status)).all()}


def subjects_to(outbox, address: str) -> list[str]:
    return [m["Subject"] for m in outbox.messages() if m["To"] == address]


# ---------------------------------------------------------------- the trainee's checklist


def test_checklist_says_what_is_done_and_links_the_next_steps(login_as, tree):
    trainee = login_as("trainee")
    r = trainee.get("/certification")
    assert r.status_code == 200
    page = text(r)
    assert re.search(r'href="/certification" aria-current="page">Certification</a>', page)
    assert 'href="/certificate"' in page  # "My certificate" in the trainee's menu
    for heading in ("Required courses", "Supervised practicum", "Code of conduct"):
        assert re.search(rf"<h3[^>]*>{heading}</h3>", page)
    words = plain(page)
    assert "0 of 6 requirements done" in words
    assert "Not done yet" in words and "Finish the lessons, then pass the quiz." in words  # status in words
    assert 'href="/courses/alpha"' in page and 'href="/practicum"' in page
    assert 'href="/certification/code-of-conduct"' in page
    assert "You cannot request certification just yet" in words and "6 of 6 requirements are not met yet." in words
    assert 'action="/certification/request"' not in page
    assert "<script" not in page


def test_staff_are_sent_to_the_review_hub(login_as, tree):
    sup = login_as("supervisor")
    for path in ("/certification", "/practicum"):
        r = sup.get(path)
        assert r.status_code == 302 and r.headers["Location"].endswith("/reviews")
    r = sup.submit("/certification/code-of-conduct", "/practicum", data={
        "kind": "observed", "session_date": days_ago(1), "group_name": "A group", "reflection": REFLECTION})
    assert r.status_code == 403
    assert sup.submit("/certification/code-of-conduct", "/certification/request").status_code == 403
    page = text(sup.get("/reviews"))
    assert 'href="/reviews" aria-current="page">Reviews</a>' in page and 'href="/certificates"' in page


def test_request_when_eligible_tells_the_supervisor(app, login_as, people, tree, outbox):
    make_eligible(app, people.trainee.id, people.supervisor.id)
    trainee = login_as("trainee")
    page = text(trainee.get("/certification"))
    assert "6 of 6" in plain(page) and 'action="/certification/request"' in page
    r = trainee.submit("/certification", "/certification/request", data={"message": "I am ready, I think."})
    assert r.status_code == 302 and r.headers["Location"].endswith("/certification")
    with app.app_context():
        req = db.session.scalar(select(CertificationRequest))
        assert req.status is RequestStatus.PENDING and req.message == "I am ready, I think."
    assert "Certification request to review: Tess Trainee" in subjects_to(outbox, people.supervisor.email)
    page = text(trainee.get("/certification"))
    words = plain(page)
    assert ("success", "Your request is sent. Your supervisor will look at your record and let you know by e-mail."
            ) in flashes(page)
    assert "Status: Waiting for review" in words and "You already have a request open." in words
    assert f'action="/certification/requests/{req.id}/withdraw"' in page


def test_request_when_not_eligible_is_refused_with_the_reason(app, login_as, tree):
    trainee = login_as("trainee")
    r = trainee.submit("/certification", "/certification/request", data={"message": "please"})
    assert r.status_code == 409
    messages = flashes(text(r))
    assert messages and messages[0][0] == "error"
    assert messages[0][1].startswith("You cannot request certification now: 6 of 6 requirements are not met yet.")
    assert count(app, CertificationRequest) == 0


def test_withdraw_a_pending_request(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    r = login_as("supervisor").submit(f"/certification/requests/{request_id}",
                                      f"/certification/requests/{request_id}/withdraw")
    assert r.status_code == 403  # only its trainee withdraws
    trainee = login_as("trainee")
    r = trainee.submit("/certification", f"/certification/requests/{request_id}/withdraw")
    assert r.status_code == 302
    assert request_of(app, request_id).status is RequestStatus.WITHDRAWN
    page = text(trainee.get("/certification"))
    assert "Withdrawn" in page and 'action="/certification/request"' in page  # may ask again
    r = trainee.submit("/certification", f"/certification/requests/{request_id}/withdraw")
    category, message = flashes(text(trainee.get("/certification")))[0]
    assert category == "error" and message.startswith("This request is withdrawn")


# ---------------------------------------------------------------- code of conduct


def test_code_of_conduct_is_shown_and_accepted(app, login_as, people, tree):
    trainee = login_as("trainee")
    page = text(trainee.get("/certification/code-of-conduct"))
    words = plain(page)
    assert "<h1>Code</h1>" in page and "Version 1.0" in words and "In force from 2026-12-01" in words
    assert "<p>I will be kind.</p>" in page  # the Markdown body, rendered
    assert "Not accepted yet." in words
    assert 'type="checkbox"' in page and "I have read the code of conduct and agree to follow it" in page
    assert 'name="version" type="hidden" value="1.0"' in page

    r = trainee.submit("/certification/code-of-conduct", data={"version": "1.0"})  # box not ticked
    assert r.status_code == 422
    assert "Tick the box" in field_error(text(r), "agree")
    assert count(app, ConductAcknowledgement) == 0

    r = trainee.submit("/certification/code-of-conduct", data={"version": "0.9", "agree": "y"})  # a stale page
    assert r.status_code == 409 and "please read version 1.0" in plain(text(r))
    assert count(app, ConductAcknowledgement) == 0

    r = trainee.submit("/certification/code-of-conduct", data={"version": "1.0", "agree": "y"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/certification/code-of-conduct")
    assert count(app, ConductAcknowledgement) == 1
    page = text(trainee.get("/certification/code-of-conduct"))
    assert ("success", "Thank you. You accepted version 1.0 of the code of conduct.") in flashes(page)
    assert "You accepted this version" in page and 'name="agree"' not in page
    assert 'href="/certification">Back to your certification checklist' in page
    r = trainee.submit("/certification/code-of-conduct", data={"version": "1.0", "agree": "y"})  # again: no harm
    assert ("success", "You had already accepted this version of the code of conduct.") in flashes(
        text(trainee.get(r.headers["Location"])))
    assert count(app, ConductAcknowledgement) == 1
    assert "Accepted" in plain(text(trainee.get("/certification")))


def test_code_of_conduct_page_without_content(login_as, people):
    r = login_as("trainee").get("/certification/code-of-conduct")
    assert r.status_code == 200 and "not loaded yet" in text(r)
    page = text(login_as("trainee").get("/certification"))
    assert "The certification program is not loaded yet" in page


# ---------------------------------------------------------------- practicum log


def test_practicum_form_is_accessible_and_logs_an_entry(app, login_as, people, tree, outbox):
    trainee = login_as("trainee")
    page = text(trainee.get("/practicum"))
    assert re.search(r'<fieldset class="radio-group[^"]*" id="kind"[^>]*>\s*<legend>What did you do\?</legend>', page)
    for kind in PracticumKind:
        if kind is PracticumKind.LED:  # sessions led alone: offered once certified, toward renewal
            assert f'value="{kind.value}"' not in page
        else:
            assert f'value="{kind.value}"' in page and kind.label in page
    assert '<label for="session_date">' in page and '<label for="group_name">' in page
    assert ("Describe what you did and learned. Do not name participants or include anything that could identify "
            "them.") in html.unescape(page)
    assert "Nothing logged yet." in page

    r = trainee.submit("/practicum", data={"kind": "co_facilitated", "session_date": days_ago(3),
                                           "group_name": "Monday group", "reflection": REFLECTION})
    assert r.status_code == 302 and r.headers["Location"].endswith("/practicum")
    assert "Practicum entry to review: Tess Trainee" in subjects_to(outbox, people.supervisor.email)
    page = text(trainee.get("/practicum"))
    assert ("success", "Session logged. Your supervisor has been asked to review it.") in flashes(page)
    row = page[page.find("<tbody>"):]
    assert "Co-facilitated a session" in row and "Monday group" in row and "Waiting for review" in row


def test_practicum_errors_are_shown_next_to_the_fields_and_nothing_is_saved(app, login_as, tree):
    trainee = login_as("trainee")
    r = trainee.submit("/practicum", data={"kind": "", "session_date": "", "group_name": " ", "reflection": "short"})
    assert r.status_code == 422
    page = text(r)
    assert field_error(page, "kind") == "Choose what kind of session it was."
    assert field_error(page, "session_date") == "Give the date of the session."
    assert field_error(page, "group_name") == "Name the group or session."
    assert "at least 20 characters" in field_error(page, "reflection")
    assert 'class="error-summary"' in page and 'href="#kind"' in page
    assert "short</textarea>" in page  # what was typed is kept

    # what only the service knows: the date may not be in the future
    future = (utcnow().date() + timedelta(days=2)).isoformat()
    r = trainee.submit("/practicum", data={"kind": "observed", "session_date": future, "group_name": "Group",
                                           "reflection": REFLECTION})
    assert r.status_code == 422
    assert field_error(text(r), "session_date") == "a session in the future cannot be logged yet"
    assert count(app, PracticumEntry) == 0


# ---------------------------------------------------------------- reviewing an entry


def test_confirm_a_led_session_with_the_rubric(app, login_as, people, tree, outbox):
    entry_id = log_entry(app, people.trainee.id)
    sup = login_as("supervisor")
    page = text(sup.get(f"/practicum/{entry_id}/review"))
    words = plain(page)
    assert "Practicum entry of Tess Trainee" in words and REFLECTION in words
    assert re.search(r'<fieldset class="radio-group[^"]*" id="score_opening"[^>]*>\s*<legend>Opening statement '
                     r'and confidentiality</legend>', page)
    for label in ("1 not yet", "2 developing", "3 competent", "4 strong"):
        assert label in page
    assert "every criterion reaches 3" in words

    url = f"/practicum/{entry_id}/review"
    r = sup.submit(url, data={"confirm": "Confirm this entry", "score_opening": "3"})  # safety not scored
    assert r.status_code == 422
    assert field_error(text(r), "score_safety") == "Give a whole score from 1 to 4"
    assert entry_of(app, entry_id).status is EntryStatus.PENDING

    r = sup.submit(url, data={"confirm": "Confirm this entry", "score_opening": "3", "score_safety": "4",
                              "note": "A calm, clear session."})
    assert r.status_code == 302 and r.headers["Location"].endswith("/reviews")
    entry = entry_of(app, entry_id)
    assert entry.status is EntryStatus.CONFIRMED and entry.rubric_scores == {"opening": 3, "safety": 4}
    assert entry.rubric_passed is True and entry.reviewer_id == people.supervisor.id
    assert "Your practicum entry was confirmed" in subjects_to(outbox, people.trainee.email)
    log = text(login_as("trainee").get("/practicum"))
    assert "Passed" in log and "Safety: 4 strong" in log and "A calm, clear session." in log


def test_not_confirming_needs_a_note(app, login_as, people, tree, outbox):
    entry_id = log_entry(app, people.trainee.id, PracticumKind.OBSERVED)
    sup = login_as("supervisor")
    url = f"/practicum/{entry_id}/review"
    r = sup.submit(url, data={"reject": "Do not confirm", "note": "  "})
    assert r.status_code == 422
    assert field_error(text(r), "note").startswith("Say why the entry is not confirmed")
    assert entry_of(app, entry_id).status is EntryStatus.PENDING

    r = sup.submit(url, data={"reject": "Do not confirm", "note": "I was not at this session; let us talk."})
    assert r.status_code == 302
    assert entry_of(app, entry_id).status is EntryStatus.REJECTED
    assert "Your practicum entry was not confirmed" in subjects_to(outbox, people.trainee.email)
    page = text(login_as("trainee").get(f"/practicum/{entry_id}/review"))
    assert "Not confirmed" in page and "I was not at this session; let us talk." in page


def test_who_may_open_an_entry(app, login_as, people, tree):
    entry_id = log_entry(app, people.trainee.id)
    url = f"/practicum/{entry_id}/review"
    for who in ("other_supervisor", "other_trainee"):
        assert login_as(who).get(url).status_code == 404
    assert login_as("admin").get(url).status_code == 200
    assert login_as("supervisor").get("/practicum/999999/review").status_code == 404
    trainee = login_as("trainee")
    page = text(trainee.get(url))  # the trainee's own entry: read-only
    assert "Your practicum entry" in page and "Confirm this entry" not in page and 'name="score_opening"' not in page
    r = trainee.submit("/practicum", url, data={"confirm": "Confirm this entry", "score_opening": "4",
                                                "score_safety": "4"})
    assert r.status_code == 403
    assert entry_of(app, entry_id).status is EntryStatus.PENDING


def test_hostile_reflection_is_escaped_on_the_review_page(app, login_as, people, tree):
    entry_id = log_entry(app, people.trainee.id, PracticumKind.OBSERVED,
                         reflection=f"We talked about {HOSTILE} and it went well overall.")
    for who in ("supervisor", "trainee"):
        page = text(login_as(who).get(f"/practicum/{entry_id}/review"))
        assert HOSTILE not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# ---------------------------------------------------------------- the review hub


def test_review_hub_lists_entries_and_requests_of_ones_trainees(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    entry_id = log_entry(app, people.trainee.id, PracticumKind.OBSERVED)
    other_entry = log_entry(app, people.other_trainee.id, PracticumKind.OBSERVED)
    page = text(login_as("supervisor").get("/reviews"))
    assert f'href="/practicum/{entry_id}/review"' in page and f'href="/practicum/{other_entry}/review"' not in page
    assert f'href="/certification/requests/{request_id}"' in page
    assert "1 request with the status “waiting for review”" in html.unescape(plain(page))
    page = text(login_as("other_supervisor").get("/reviews"))
    assert f'href="/practicum/{entry_id}/review"' not in page and f'/certification/requests/{request_id}"' not in page
    page = text(login_as("admin").get("/reviews"))
    assert f'href="/practicum/{entry_id}/review"' in page and f'href="/practicum/{other_entry}/review"' in page
    for status, shown in (("approved", False), ("all", True), ("withdrawn", False)):
        page = text(login_as("supervisor").get(f"/reviews?status={status}"))
        assert (f'href="/certification/requests/{request_id}"' in page) is shown, status
    assert login_as("supervisor").get("/reviews?status=nonsense").status_code == 400
    assert login_as("trainee").get("/reviews").status_code == 403


def test_review_hub_pages_through_entries(app, login_as, people, tree):
    with app.app_context():
        trainee = db.session.get(User, people.trainee.id)
        for n in range(27):
            services.log_practicum(trainee, kind=PracticumKind.OBSERVED, session_date=utcnow().date(),
                                   group_name=f"Group {n}", reflection=REFLECTION)
        db.session.commit()
    sup = login_as("supervisor")
    page = text(sup.get("/reviews"))
    assert "27 entries are waiting" in page and "Page 1 of 2" in page and "entries_page=2" in page
    assert "Group 0<" in page and "Group 26<" not in page
    page = text(sup.get("/reviews?entries_page=2"))
    assert "Group 26<" in page and "Group 0<" not in page


# ---------------------------------------------------------------- a request: evidence and decision


def test_request_page_shows_the_evidence_to_the_reviewer(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    with app.app_context():
        db.session.get(CertificationRequest, request_id).message = "Thank you for the support."
        db.session.commit()
    page = text(login_as("supervisor").get(f"/certification/requests/{request_id}"))
    words = plain(page)
    assert "Certification request of Tess Trainee" in words and "Thank you for the support." in words
    assert "Requirements now" in words and "Requirements when the request was made" in words
    assert "Tess Trainee meets every requirement today." in words
    assert "Alpha quiz" in words and "Course alpha" in words  # the transcript, with the attempts
    assert "Led a session while observed" in words and "Opening statement and confidentiality: 3 competent" in words
    assert "Sam Supervisor" in words  # who reviewed the practicum
    assert f'action="/certification/requests/{request_id}/approve"' in page
    assert f'action="/certification/requests/{request_id}/reject"' in page
    assert f'action="/certification/requests/{request_id}/issue"' not in page


def test_who_may_open_a_request(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    url = f"/certification/requests/{request_id}"
    for who in ("other_supervisor", "other_trainee"):
        assert login_as(who).get(url).status_code == 404
        assert login_as(who).submit("/settings", f"{url}/approve").status_code == 404
    assert login_as("admin").get(url).status_code == 200
    assert login_as("supervisor").get("/certification/requests/999999").status_code == 404
    page = text(login_as("trainee").get(url))  # their own: status and decision only
    assert "Your certification request" in page and "Waiting for review" in page
    assert "/approve" not in page and "/reject" not in page and "Alpha quiz" not in page
    assert "nobody decides on their own request" in page


def test_nobody_approves_their_own_request(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    trainee = login_as("trainee")
    r = trainee.submit(f"/certification/requests/{request_id}", f"/certification/requests/{request_id}/approve")
    assert r.status_code == 403 and "Nobody can approve certification for themselves." in text(r)
    assert request_of(app, request_id).status is RequestStatus.PENDING


def test_approve(app, login_as, people, tree, outbox):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    sup = login_as("supervisor")
    url = f"/certification/requests/{request_id}"
    r = sup.submit(url, f"{url}/approve", data={"note": "Well done: a thoughtful practicum."})
    assert r.status_code == 302 and r.headers["Location"].endswith(url)
    req = request_of(app, request_id)
    assert req.status is RequestStatus.APPROVED and req.decided_by_id == people.supervisor.id
    assert "Your certification was approved" in subjects_to(outbox, people.trainee.email)
    assert "Certificate to issue: Tess Trainee" in subjects_to(outbox, people.admin.email)
    page = text(sup.get(url))
    assert "Approved" in page and "/approve" not in page and "/issue" not in page  # supervisors do not issue
    r = sup.submit(url, f"{url}/approve")  # a second time, from a stale page
    assert r.status_code == 409
    category, message = flashes(text(r))[0]
    assert category == "error" and message.startswith("This request is approved")


def test_approve_refused_when_no_longer_eligible(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    with app.app_context():  # the acceptance of the code is gone (as after a new version of the code)
        db.session.execute(ConductAcknowledgement.__table__.delete())
        db.session.commit()
    url = f"/certification/requests/{request_id}"
    r = login_as("supervisor").submit(url, f"{url}/approve")
    assert r.status_code == 409 and "no longer meets every requirement" in plain(text(r))
    assert request_of(app, request_id).status is RequestStatus.PENDING


def test_reject_needs_a_reason_which_the_trainee_then_reads(app, login_as, people, tree, outbox):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    sup = login_as("supervisor")
    url = f"/certification/requests/{request_id}"
    r = sup.submit(url, f"{url}/reject", data={"reason": ""})
    assert r.status_code == 422 and field_error(text(r), "reason") == "Give the trainee a reason."
    r = sup.submit(url, f"{url}/reject", data={"reason": "too short"})
    assert r.status_code == 422 and "10 to 2000 characters" in field_error(text(r), "reason")
    assert request_of(app, request_id).status is RequestStatus.PENDING

    reason = "Let us do one more co-facilitated session together first."
    r = sup.submit(url, f"{url}/reject", data={"reason": reason})
    assert r.status_code == 302
    assert request_of(app, request_id).status is RequestStatus.REJECTED
    assert "Your certification request was not approved" in subjects_to(outbox, people.trainee.email)
    words = plain(text(login_as("trainee").get("/certification")))
    assert "Not approved" in words and reason in words and "by Sam Supervisor" in words


# ---------------------------------------------------------------- issuing


def test_admin_issues_one_certificate(app, login_as, people, tree, outbox):
    request_id = make_approved(app, people.trainee.id, people.supervisor.id)
    url = f"/certification/requests/{request_id}"
    assert login_as("supervisor").submit(url, f"{url}/issue").status_code == 403
    admin = login_as("admin")
    page = text(admin.get(url))
    assert f'action="{url}/issue"' in page
    r = admin.submit(url, f"{url}/issue")
    assert r.status_code == 302
    with app.app_context():
        cert = db.session.scalar(select(Certificate))
        assert cert.request_id == request_id
        assert r.headers["Location"].endswith(f"/certificates/{cert.serial}")
    assert request_of(app, request_id).status is RequestStatus.ISSUED
    assert "Your facilitator certificate" in subjects_to(outbox, people.trainee.email)
    page = text(login_as("trainee").get("/certification"))
    assert f"Your certificate {cert.serial} is valid" in plain(page) and 'href="/certificate"' in page


def test_admin_bulk_issue_reports_each_result(app, login_as, people, tree):
    first = make_approved(app, people.trainee.id, people.supervisor.id)
    second = make_approved(app, people.other_trainee.id, people.other_supervisor.id)
    admin = login_as("admin")
    page = text(admin.get("/reviews?status=approved"))
    assert f'name="request_ids" value="{first}"' in page and f'name="request_ids" value="{second}"' in page
    assert 'action="/certification/requests/issue"' in page and "Issue selected certificates" in page
    assert 'name="request_ids"' not in text(admin.get("/reviews"))  # only on the "approved" view
    assert 'name="request_ids"' not in text(login_as("supervisor").get("/reviews?status=approved"))

    r = admin.submit("/reviews?status=approved", "/certification/requests/issue",
                     data={"request_ids": [str(first), "999999", str(second)]})
    assert r.status_code == 302 and r.headers["Location"].endswith("/reviews?status=approved")
    messages = dict(flashes(text(admin.get("/reviews?status=approved"))))
    assert messages["success"].startswith("Issued 2 certificates: PND-")
    assert "for Tess Trainee" in messages["success"] and "for Theo Trainee" in messages["success"]
    assert messages["error"] == "Not issued (1): request 999999: No such request."
    assert count(app, Certificate) == 2
    r = admin.submit("/reviews?status=approved", "/certification/requests/issue", data={"request_ids": [str(first)]})
    assert "A certificate was already issued for this request." in dict(flashes(text(admin.get("/reviews"))))["error"]
    r = admin.submit("/reviews", "/certification/requests/issue", data={})
    assert ("error", "Select at least one approved request to issue.") in flashes(text(admin.get("/reviews")))
    assert login_as("supervisor").submit("/reviews", "/certification/requests/issue",
                                         data={"request_ids": [str(first)]}).status_code == 403


# ---------------------------------------------------------------- CSRF and safe GETs


def test_posts_without_a_csrf_token_are_refused_and_change_nothing(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    entry_id = log_entry(app, people.trainee.id, PracticumKind.OBSERVED)
    trainee, sup, admin = login_as("trainee"), login_as("supervisor"), login_as("admin")
    before = (counts(app), states(app))
    posts = [
        (trainee, "/practicum", {"kind": "observed", "session_date": days_ago(1), "group_name": "G",
                                 "reflection": REFLECTION}),
        (trainee, "/certification/code-of-conduct", {"agree": "y", "version": "1.0"}),
        (trainee, f"/certification/requests/{request_id}/withdraw", {}),
        (trainee, "/certification/request", {}),
        (sup, f"/practicum/{entry_id}/review", {"reject": "Do not confirm", "note": "Not at this session."}),
        (sup, f"/certification/requests/{request_id}/approve", {}),
        (sup, f"/certification/requests/{request_id}/reject", {"reason": "A reason that is long enough."}),
        (admin, "/certification/requests/issue", {"request_ids": [str(request_id)]}),
    ]
    for browser, url, data in posts:
        r = browser.client.post(url, data=data)
        assert r.status_code == 400 and "The form expired" in text(r), url
    assert (counts(app), states(app)) == before


def test_get_never_changes_state(app, login_as, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    entry_id = log_entry(app, people.trainee.id)
    browsers = {who: login_as(who) for who in ("trainee", "supervisor", "admin")}
    before = (counts(app), states(app))
    pages = ["/certification", "/certification/code-of-conduct", "/practicum", "/reviews", "/reviews?status=all",
             f"/practicum/{entry_id}/review", f"/certification/requests/{request_id}",
             f"/certification/requests/{request_id}/approve", f"/certification/requests/{request_id}/withdraw",
             "/certification/requests/issue", f"/certification/requests/{request_id}/issue"]
    for who, browser in browsers.items():
        for url in pages:
            assert browser.get(url).status_code in (200, 302, 403, 405), (who, url)
    assert (counts(app), states(app)) == before
