"""The certification API: the checklist, the practicum log and its review, requests and their decision, issue,
certificates and their PDF, revocation, and public verification. The services are tested on their own
(tests/services/test_certification.py); here: wiring, permissions, status codes, what the bodies show and hide."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lms.accounts import services as accounts
from lms.accounts.models import User
from lms.certification.models import EntryStatus, PracticumEntry
from lms.db import db, utcnow
from tests.certification_support import (
    GOOD_SCORES,
    REFLECTION,
    acknowledge,
    make_approved,
    make_cert_tree,
    make_certificate,
    make_eligible,
    make_request,
)
from tests.conftest import csrf_from
from tests.content_tree import finish_alpha

PROBLEM = "application/problem+json"
PUBLIC_KEYS = {"status", "holder_name", "credential", "program_version", "serial", "issued_on", "valid_from",
               "valid_until", "expiring_soon", "revoked_on", "superseded_by", "pdf_sha256"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
A_REASON = "The practicum log does not show enough sessions led yet."


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


class Caller:
    """One person's bearer token on a test client: caller.get(path), caller.post(path, json=...)."""

    def __init__(self, client, secret: str) -> None:
        self.client, self.headers = client, {"Authorization": f"Bearer {secret}"}

    def get(self, path: str, **kw):
        return self.client.get(path, headers=self.headers, **kw)

    def post(self, path: str, **kw):
        return self.client.post(path, headers=self.headers, **kw)


@pytest.fixture
def api(app, people):
    """api('supervisor') -> a Caller with a fresh bearer token of that person."""
    client = app.test_client()

    def as_(who: str) -> Caller:
        with app.app_context():
            user = db.session.get(User, getattr(people, who).id)
            secret = accounts.create_api_token(user, actor=user, name="tests").secret
            db.session.commit()
        return Caller(client, secret)

    return as_


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json()
    assert body["status"] == status and body["instance"] == response.request.path
    return body


def practicum_body(kind: str = "observed", **changes) -> dict:
    day = (utcnow().date() - timedelta(days=2)).isoformat()
    return {"kind": kind, "session_date": day, "group_name": "Tuesday evening group", "reflection": REFLECTION,
            **changes}


def entries_of(app, user_id: int) -> list[PracticumEntry]:
    with app.app_context():
        return list(db.session.scalars(select(PracticumEntry).where(PracticumEntry.user_id == user_id)))


def code_of(verification_url: str) -> str:
    return verification_url.rstrip("/").rsplit("/", 1)[1]


# ---------------------------------------------------------------- the whole way through


def test_from_practicum_to_a_verified_and_then_revoked_certificate(app, api, people, tree):
    trainee, supervisor, admin = api("trainee"), api("supervisor"), api("admin")
    finish_alpha(app, people.trainee.id)

    before = trainee.get("/api/v1/me/eligibility")
    assert before.status_code == 200
    checklist = before.get_json()
    assert checklist["eligible"] is False and checklist["may_request"] is False and checklist["blockers"]
    assert checklist["program"] == {"slug": "pnd-facilitator", "title": "PND Community Session Facilitator",
                                    "version": "2026.1"}
    unmet = {r["key"] for r in checklist["requirements"] if not r["met"]}
    assert unmet == {"practicum:observed", "practicum:co_facilitated", "practicum:led_observed",
                     "practicum:crisis_roleplay", "code_of_conduct"}
    assert set(checklist["requirements"][0]) == {"key", "group", "title", "met", "progress", "next_step", "action"}

    # the trainee logs one session of each kind
    ids = {}
    for kind in ("observed", "co_facilitated", "led_observed", "crisis_roleplay"):
        r = trainee.post("/api/v1/practicum", json=practicum_body(kind))
        assert r.status_code == 201, r.get_json()
        entry = r.get_json()
        assert entry["status"] == "pending" and entry["kind"] == kind and entry["counts"] is False
        assert entry["trainee"] == {"id": people.trainee.id, "display_name": "Tess Trainee"}
        assert r.headers["Location"].endswith(f"/api/v1/practicum/{entry['id']}")
        ids[kind] = entry["id"]
    mine = trainee.get("/api/v1/practicum").get_json()["items"]
    assert sorted(e["id"] for e in mine) == sorted(ids.values())

    # their supervisor confirms them, scoring the led session on the rubric
    for kind, entry_id in ids.items():
        body = {"scores": GOOD_SCORES} if kind == "led_observed" else {"note": "Well observed."}
        r = supervisor.post(f"/api/v1/practicum/{entry_id}/confirm", json=body)
        assert r.status_code == 200, r.get_json()
        entry = r.get_json()
        assert entry["status"] == "confirmed" and entry["counts"] is True
        assert entry["reviewer"] == {"id": people.supervisor.id, "display_name": "Sam Supervisor"}
        if kind == "led_observed":
            assert entry["rubric_scores"] == GOOD_SCORES and entry["rubric_passed"] is True
    acknowledge(app, people.trainee.id)

    checklist = trainee.get("/api/v1/me/eligibility").get_json()
    assert checklist["eligible"] is True and checklist["may_request"] is True and checklist["blockers"] == []
    assert all(r["met"] for r in checklist["requirements"])

    # request, approve, issue
    r = trainee.post("/api/v1/certification-requests", json={"message": "Ready when you are."})
    assert r.status_code == 201, r.get_json()
    req = r.get_json()
    assert req["status"] == "pending" and req["message"] == "Ready when you are."
    assert req["trainee"] == {"id": people.trainee.id, "display_name": "Tess Trainee"}
    assert req["eligibility"]["eligible"] is True and req["program_version"] == "2026.1"
    assert r.headers["Location"].endswith(f"/api/v1/certification-requests/{req['id']}")
    assert trainee.get("/api/v1/me/eligibility").get_json()["open_request"] == {"id": req["id"], "status": "pending"}

    waiting = supervisor.get("/api/v1/certification-requests?status=pending")
    assert waiting.status_code == 200
    page = waiting.get_json()
    assert [i["id"] for i in page["items"]] == [req["id"]] and page["total"] == 1
    assert page["items"][0]["trainee"]["display_name"] == "Tess Trainee"
    assert not EMAIL.search(waiting.get_data(as_text=True))

    r = supervisor.post(f"/api/v1/certification-requests/{req['id']}/approve")
    assert r.status_code == 200, r.get_json()
    approved = r.get_json()
    assert approved["status"] == "approved" and approved["decided_at"]
    assert approved["decided_by"] == {"id": people.supervisor.id, "display_name": "Sam Supervisor"}

    r = admin.post("/api/v1/certificates", json={"request_id": req["id"]})
    assert r.status_code == 201, r.get_json()
    cert = r.get_json()
    serial = cert["serial"]
    assert re.fullmatch(r"PND-\d{4}-\d{6}", serial)
    assert r.headers["Location"].endswith(f"/api/v1/certificates/{serial}")
    assert cert["status"] == "valid" and cert["holder_name"] == "Tess Trainee"
    assert cert["credential"] == "PND Community Session Facilitator" and cert["program_version"] == "2026.1"
    assert cert["issued_on"] == utcnow().date().isoformat() and cert["valid_until"] > cert["issued_on"]
    assert cert["links"]["pdf"] == f"/api/v1/certificates/{serial}/pdf"
    assert cert["approver_name"] == "Sam Supervisor" and cert["issuer_name"] == "Ada Admin"
    issued = supervisor.get(f"/api/v1/certification-requests/{req['id']}").get_json()
    assert issued["status"] == "issued" and issued["certificate_serial"] == serial

    # the holder, their supervisor and admins read it; the PDF is the same bytes every time
    for caller in (trainee, supervisor, admin):
        r = caller.get(f"/api/v1/certificates/{serial}")
        assert r.status_code == 200 and r.get_json()["serial"] == serial
    first, second = trainee.get(cert["links"]["pdf"]), admin.get(cert["links"]["pdf"])
    for r in (first, second):
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        assert r.headers["Content-Disposition"] == f'attachment; filename="{serial}.pdf"'
    assert first.data.startswith(b"%PDF") and first.data == second.data
    assert hashlib.sha256(first.data).hexdigest() == cert["pdf_sha256"]

    # anyone can verify it, and learns only what the certificate shows
    public = app.test_client()
    path = f"/api/v1/verify/{code_of(cert['verification_url'])}"
    r = public.get(path)
    assert r.status_code == 200, r.get_json()
    shown = r.get_json()
    assert set(shown) == PUBLIC_KEYS
    assert shown["status"] == "valid" and shown["serial"] == serial and shown["revoked_on"] is None
    assert shown["holder_name"] == "Tess Trainee" and shown["pdf_sha256"] == cert["pdf_sha256"]
    assert not EMAIL.search(r.get_data(as_text=True))

    r = admin.post(f"/api/v1/certificates/{serial}/revoke", json={"reason": "Broke the code of conduct at a session."})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "revoked" and r.get_json()["revoked_on"] == utcnow().date().isoformat()
    shown = public.get(path).get_json()
    assert set(shown) == PUBLIC_KEYS
    assert shown["status"] == "revoked" and shown["revoked_on"] == utcnow().date().isoformat()
    assert trainee.get("/api/v1/me/eligibility").get_json()["certificate_serial"] is None
    # the holder is no longer offered the PDF; their supervisor and the admins keep it on record
    problem(trainee.get(f"/api/v1/certificates/{serial}/pdf"), 410)
    assert admin.get(f"/api/v1/certificates/{serial}/pdf").data.startswith(b"%PDF")


# ---------------------------------------------------------------- the practicum log


def test_extra_fields_are_rejected_never_applied(app, api, people, tree):
    forged = practicum_body("led_observed", status="confirmed", user_id=people.other_trainee.id,
                            reviewer_id=people.supervisor.id, rubric_scores=GOOD_SCORES, rubric_passed=True)
    r = api("trainee").post("/api/v1/practicum", json=forged)
    body = problem(r, 422)
    assert {"status", "user_id", "reviewer_id", "rubric_scores", "rubric_passed"} <= set(body["errors"])
    assert entries_of(app, people.trainee.id) == [] and entries_of(app, people.other_trainee.id) == []

    r = api("trainee").post("/api/v1/practicum", json=practicum_body("led_observed"))
    assert r.status_code == 201
    (entry,) = entries_of(app, people.trainee.id)
    assert entry.status is EntryStatus.PENDING and entry.reviewer_id is None and entry.rubric_scores is None
    assert entries_of(app, people.other_trainee.id) == []


@pytest.mark.parametrize(("changes", "fields"), [
    ({"session_date": "2026-02-30"}, {"session_date"}),
    ({"session_date": "last Tuesday"}, {"session_date"}),
    ({"session_date": (utcnow().date() + timedelta(days=2)).isoformat()}, {"session_date"}),
    ({"session_date": (utcnow().date() - timedelta(days=800)).isoformat()}, {"session_date"}),
    ({"kind": "led_unobserved"}, {"kind"}),
    ({"group_name": "   "}, {"group_name"}),
    ({"reflection": "Fine."}, {"reflection"}),
    ({"group_name": 12}, {"group_name"}),
])
def test_bad_practicum_fields_are_422_naming_them(app, api, people, tree, changes, fields):
    body = problem(api("trainee").post("/api/v1/practicum", json=practicum_body(**changes)), 422)
    assert set(body["errors"]) == fields
    assert entries_of(app, people.trainee.id) == []


def test_missing_practicum_fields_are_named(api, tree):
    body = problem(api("trainee").post("/api/v1/practicum", json={}), 422)
    assert set(body["errors"]) == {"kind", "session_date", "group_name", "reflection"}
    problem(api("trainee").post("/api/v1/practicum", data="kind=observed",
                                content_type="application/x-www-form-urlencoded"), 415)


def test_nobody_confirms_their_own_entry_and_only_trainees_log(app, api, people, tree):
    for staff in ("supervisor", "admin"):
        problem(api(staff).post("/api/v1/practicum", json=practicum_body()), 403)
    trainee = api("trainee")
    entry = trainee.post("/api/v1/practicum", json=practicum_body()).get_json()
    problem(trainee.post(f"/api/v1/practicum/{entry['id']}/confirm", json={}), 403)
    assert {e.status for e in entries_of(app, people.trainee.id)} == {EntryStatus.PENDING}
    assert api("supervisor").post(f"/api/v1/practicum/{entry['id']}/confirm", json={}).status_code == 200


def test_strangers_get_404_for_an_entry(api, tree):
    entry = api("trainee").post("/api/v1/practicum", json=practicum_body()).get_json()
    for who in ("other_supervisor", "other_trainee"):
        problem(api(who).get(f"/api/v1/practicum/{entry['id']}"), 404)
        problem(api(who).post(f"/api/v1/practicum/{entry['id']}/confirm", json={}), 404)
    problem(api("supervisor").post("/api/v1/practicum/999999/confirm", json={}), 404)
    assert api("supervisor").get(f"/api/v1/practicum/{entry['id']}").status_code == 200


def test_review_checks_the_rubric_the_note_and_the_state(api, tree):
    trainee, supervisor = api("trainee"), api("supervisor")
    led = trainee.post("/api/v1/practicum", json=practicum_body("led_observed")).get_json()
    path = f"/api/v1/practicum/{led['id']}/confirm"
    assert set(problem(supervisor.post(path, json={}), 422)["errors"]) == {"scores.opening", "scores.safety"}
    body = problem(supervisor.post(path, json={"scores": {"opening": 3, "safety": 9, "charm": 4}}), 422)
    assert set(body["errors"]) == {"scores.safety", "scores.charm"}
    assert "scores.opening" in problem(supervisor.post(path, json={"scores": {"opening": "3", "safety": 3}}),
                                       422)["errors"]
    assert "note" in problem(supervisor.post(path, json={"confirm": False}), 422)["errors"]
    r = supervisor.post(path, json={"scores": {"opening": 2, "safety": 4}})
    assert r.status_code == 200
    assert r.get_json()["status"] == "confirmed" and r.get_json()["rubric_passed"] is False
    assert r.get_json()["counts"] is False
    problem(supervisor.post(path, json={"confirm": False, "note": "Changed my mind."}), 409)

    other = trainee.post("/api/v1/practicum", json=practicum_body("observed")).get_json()
    r = supervisor.post(f"/api/v1/practicum/{other['id']}/confirm", json={"confirm": False, "note": "No session."})
    assert r.status_code == 200 and r.get_json()["status"] == "rejected"
    assert r.get_json()["review_note"] == "No session."


# ---------------------------------------------------------------- requests


def test_a_request_needs_eligibility_and_a_trainee(app, api, people, tree):
    body = problem(api("trainee").post("/api/v1/certification-requests"), 409)
    assert "requirements are not met" in body["detail"]
    problem(api("supervisor").post("/api/v1/certification-requests", json={}), 403)
    make_eligible(app, people.trainee.id, people.supervisor.id)
    problem(api("trainee").post("/api/v1/certification-requests", json={"message": "x", "status": "approved"}), 422)
    r = api("trainee").post("/api/v1/certification-requests")
    assert r.status_code == 201 and r.get_json()["status"] == "pending" and r.get_json()["message"] is None
    body = problem(api("trainee").post("/api/v1/certification-requests", json={}), 409)
    assert "already have a request open" in body["detail"]


def test_the_trainee_cannot_decide_their_own_request(app, api, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    trainee = api("trainee")
    problem(trainee.post(f"/api/v1/certification-requests/{request_id}/approve"), 403)
    problem(trainee.post(f"/api/v1/certification-requests/{request_id}/reject", json={"reason": A_REASON}), 403)
    problem(api("other_trainee").post(f"/api/v1/certification-requests/{request_id}/approve"), 404)
    assert trainee.get(f"/api/v1/certification-requests/{request_id}").get_json()["status"] == "pending"


def test_another_supervisor_neither_sees_nor_decides(app, api, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    other = api("other_supervisor")
    problem(other.get(f"/api/v1/certification-requests/{request_id}"), 404)
    problem(other.post(f"/api/v1/certification-requests/{request_id}/approve"), 404)
    problem(other.post(f"/api/v1/certification-requests/{request_id}/reject", json={"reason": A_REASON}), 404)
    assert other.get("/api/v1/certification-requests").get_json()["items"] == []
    assert api("other_trainee").get("/api/v1/certification-requests").get_json()["total"] == 0
    mine = api("trainee").get("/api/v1/certification-requests").get_json()
    assert [i["id"] for i in mine["items"]] == [request_id]
    assert api("admin").get("/api/v1/certification-requests?status=pending").get_json()["total"] == 1


def test_reject_needs_a_reason_and_the_trainee_may_ask_again(app, api, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    supervisor, path = api("supervisor"), f"/api/v1/certification-requests/{request_id}/reject"
    assert "reason" in problem(supervisor.post(path, json={}), 422)["errors"]
    problem(supervisor.post(path), 400)
    assert "reason" in problem(supervisor.post(path, json={"reason": "No."}), 422)["errors"]
    r = supervisor.post(path, json={"reason": A_REASON})
    assert r.status_code == 200, r.get_json()
    rejected = r.get_json()
    assert rejected["status"] == "rejected" and rejected["decision_reason"] == A_REASON and rejected["decided_at"]
    problem(supervisor.post(f"/api/v1/certification-requests/{request_id}/approve"), 409)

    trainee = api("trainee")
    assert trainee.get("/api/v1/me/eligibility").get_json()["may_request"] is True
    again = trainee.post("/api/v1/certification-requests", json={"message": "I led two more sessions."})
    assert again.status_code == 201 and again.get_json()["id"] != request_id
    statuses = {i["id"]: i["status"] for i in trainee.get("/api/v1/certification-requests").get_json()["items"]}
    assert statuses == {request_id: "rejected", again.get_json()["id"]: "pending"}


def test_request_list_filters_and_pages(app, api, people, tree):
    first = make_request(app, people.trainee.id, people.supervisor.id)
    second = make_request(app, people.other_trainee.id, people.other_supervisor.id)
    admin = api("admin")
    page = admin.get("/api/v1/certification-requests?per_page=1").get_json()
    assert (page["total"], page["pages"], page["per_page"], [i["id"] for i in page["items"]]) == (2, 2, 1, [first])
    page = admin.get("/api/v1/certification-requests?per_page=1&page=2").get_json()
    assert [i["id"] for i in page["items"]] == [second]
    assert admin.get("/api/v1/certification-requests?status=approved").get_json()["items"] == []
    for query in ("status=done", "status=PENDING", "page=0", "per_page=500", "page=two"):
        problem(admin.get(f"/api/v1/certification-requests?{query}"), 400)
    assert "pending" in problem(admin.get("/api/v1/certification-requests?status=done"), 400)["detail"]
    # reviewers get display names, never e-mail addresses
    assert not EMAIL.search(api("supervisor").get("/api/v1/certification-requests").get_data(as_text=True))


def test_approve_takes_an_optional_note_and_nothing_else(app, api, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    supervisor, path = api("supervisor"), f"/api/v1/certification-requests/{request_id}/approve"
    assert "status" in problem(supervisor.post(path, json={"status": "issued"}), 422)["errors"]
    r = supervisor.post(path, json={"note": "Well done."})
    assert r.status_code == 200 and r.get_json()["decision_reason"] == "Well done."
    problem(supervisor.post(path), 409)


# ---------------------------------------------------------------- certificates


def test_only_admins_issue_and_only_approved_requests(app, api, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    for who in ("supervisor", "trainee"):
        problem(api(who).post("/api/v1/certificates", json={"request_id": request_id}), 403)
    admin = api("admin")
    assert "waiting for review" in problem(admin.post("/api/v1/certificates", json={"request_id": request_id}),
                                           409)["detail"]
    problem(admin.post("/api/v1/certificates", json={"request_id": 999999}), 404)
    assert "request_id" in problem(admin.post("/api/v1/certificates", json={}), 422)["errors"]
    problem(admin.post("/api/v1/certificates", json={"request_ids": [request_id]}), 422)


def test_issuing_twice_is_a_conflict(app, api, people, tree):
    request_id = make_approved(app, people.trainee.id, people.supervisor.id)
    admin = api("admin")
    first = admin.post("/api/v1/certificates", json={"request_id": request_id})
    assert first.status_code == 201, first.get_json()
    body = problem(admin.post("/api/v1/certificates", json={"request_id": request_id}), 409)
    assert "already issued" in body["detail"]
    assert admin.get(f"/api/v1/certificates/{first.get_json()['serial']}").status_code == 200


def test_certificates_and_pdfs_are_for_holder_supervisor_and_admins(app, api, people, tree):
    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    for who in ("other_supervisor", "other_trainee"):
        problem(api(who).get(f"/api/v1/certificates/{serial}"), 404)
        problem(api(who).get(f"/api/v1/certificates/{serial}/pdf"), 404)
    problem(api("admin").get("/api/v1/certificates/PND-2000-999999"), 404)
    problem(api("admin").get("/api/v1/certificates/PND-2000-999999/pdf"), 404)
    assert api("supervisor").get(f"/api/v1/certificates/{serial}/pdf").data.startswith(b"%PDF")


def test_only_admins_revoke_with_a_reason_and_once(app, api, people, tree):
    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    path = f"/api/v1/certificates/{serial}/revoke"
    for who in ("supervisor", "trainee", "other_supervisor"):
        problem(api(who).post(path, json={"reason": A_REASON}), 403)
    admin = api("admin")
    assert "reason" in problem(admin.post(path, json={}), 422)["errors"]
    assert "reason" in problem(admin.post(path, json={"reason": "bad"}), 422)["errors"]
    problem(admin.post("/api/v1/certificates/PND-2000-999999/revoke", json={"reason": A_REASON}), 404)
    assert admin.get(f"/api/v1/certificates/{serial}").get_json()["status"] == "valid"
    r = admin.post(path, json={"reason": A_REASON})
    assert r.status_code == 200 and r.get_json()["revocation_reason"] == A_REASON
    problem(admin.post(path, json={"reason": A_REASON}), 409)


# ---------------------------------------------------------------- verification


def test_unknown_and_malformed_codes_get_the_same_404(client, tree):
    bodies = []
    for code in ("A" * 32, "x" * 31, "not a code!", "%00", "y" * 500, "abc/def", "-" * 33):
        r = client.get(f"/api/v1/verify/{code}")
        body = problem(r, 404)
        body.pop("instance")
        bodies.append(body)
    assert all(b == bodies[0] for b in bodies), bodies
    assert set(bodies[0]) == {"type", "title", "status", "detail"}


def test_verification_is_public_and_rate_limited(app, api, people, tree):
    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    url = api("admin").get(f"/api/v1/certificates/{serial}").get_json()["verification_url"]
    path = f"/api/v1/verify/{code_of(url)}"
    public = app.test_client()
    for _ in range(30):
        assert public.get(path, environ_base={"REMOTE_ADDR": "10.9.0.1"}).status_code == 200
    r = public.get(path, environ_base={"REMOTE_ADDR": "10.9.0.1"})
    problem(r, 429)
    assert int(r.headers["Retry-After"]) > 0
    problem(public.get("/api/v1/verify/" + "B" * 32, environ_base={"REMOTE_ADDR": "10.9.0.1"}), 429)
    assert public.get(path, environ_base={"REMOTE_ADDR": "10.9.0.2"}).status_code == 200


# ---------------------------------------------------------------- authentication and the document

ENDPOINTS = [
    ("GET", "/api/v1/me/eligibility"), ("POST", "/api/v1/practicum"), ("GET", "/api/v1/practicum"),
    ("GET", "/api/v1/practicum/1"), ("POST", "/api/v1/practicum/1/confirm"),
    ("POST", "/api/v1/certification-requests"), ("GET", "/api/v1/certification-requests"),
    ("GET", "/api/v1/certification-requests/1"), ("POST", "/api/v1/certification-requests/1/approve"),
    ("POST", "/api/v1/certification-requests/1/reject"), ("POST", "/api/v1/certificates"),
    ("GET", "/api/v1/certificates/PND-2026-000001"), ("GET", "/api/v1/certificates/PND-2026-000001/pdf"),
    ("POST", "/api/v1/certificates/PND-2026-000001/revoke"),
]


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_everything_but_verification_needs_authentication(client, people, tree, method, path):
    r = client.open(path, method=method, json={})
    problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_token_is_401_even_on_verification(client, tree):
    problem(client.get("/api/v1/verify/" + "A" * 32, headers={"Authorization": "Bearer nonsense"}), 401)


def test_cookie_calls_need_the_csrf_header(app, login_as, people, tree):
    trainee = login_as("trainee")
    problem(trainee.client.post("/api/v1/practicum", json=practicum_body()), 400)
    assert entries_of(app, people.trainee.id) == []
    token = csrf_from(trainee.get("/settings").get_data(as_text=True))
    r = trainee.client.post("/api/v1/practicum", json=practicum_body(), headers={"X-CSRFToken": token})
    assert r.status_code == 201
    assert trainee.client.get("/api/v1/me/eligibility").status_code == 200


def test_the_openapi_document_describes_certification(client):
    from openapi_spec_validator import OpenAPIV31SpecValidator, validate

    doc = client.get("/api/v1/openapi.json").get_json()
    validate(doc, cls=OpenAPIV31SpecValidator)
    paths = doc["paths"]
    expected = {
        "/me/eligibility": {"get"}, "/practicum": {"get", "post"}, "/practicum/{entry_id}": {"get"},
        "/practicum/{entry_id}/confirm": {"post"}, "/certification-requests": {"get", "post"},
        "/certification-requests/{request_id}": {"get"}, "/certification-requests/{request_id}/approve": {"post"},
        "/certification-requests/{request_id}/reject": {"post"}, "/certificates": {"post"},
        "/certificates/{serial}": {"get"}, "/certificates/{serial}/pdf": {"get"},
        "/certificates/{serial}/revoke": {"post"}, "/verify/{code}": {"get"},
    }
    for path, methods in expected.items():
        assert set(paths.get(path, {})) == methods, path
        for op in paths[path].values():
            assert op["tags"] == ["Certification"] and op["summary"]
    verify = paths["/verify/{code}"]["get"]
    assert verify["security"] == [] and {"200", "404", "429"} <= set(verify["responses"])
    assert "401" not in verify["responses"]
    assert verify["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/VerificationOut")
    assert paths["/practicum"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/PracticumIn")
    assert {"201", "422"} <= set(paths["/practicum"]["post"]["responses"])
    assert {"403", "409"} <= set(paths["/certificates"]["post"]["responses"])
    assert "application/pdf" in paths["/certificates/{serial}/pdf"]["get"]["description"]
    schemas = doc["components"]["schemas"]
    assert set(schemas["VerificationOut"]["properties"]) == PUBLIC_KEYS
    assert schemas["PracticumIn"].get("additionalProperties") is False
    assert "user_id" not in schemas["PracticumIn"]["properties"]
    pdf = paths["/certificates/{serial}/pdf"]["get"]["responses"]["200"]["content"]
    assert pdf == {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
    assert paths["/certification-requests"]["post"]["requestBody"]["required"] is False
    assert paths["/certification-requests/{request_id}/reject"]["post"]["requestBody"]["required"] is True
