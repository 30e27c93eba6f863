"""Mass assignment: fields a form or JSON body does not offer (a role, a supervisor, an owner, a status, a score, a
reviewer or approver, a serial, an active flag...) sent along with the ones it does. Pages ignore them and the JSON
API refuses the body with 422 naming them; either way the database shows they did not change, while the fields the
request may set did (the control that the request was not simply refused)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lms.accounts import services as accounts
from lms.accounts.models import ApiToken, Role, User
from lms.certification.models import Certificate, CertificationRequest, EntryStatus, PracticumEntry, RequestStatus
from lms.db import db, utcnow
from lms.groups.models import Group, GroupMember, GroupStatus
from lms.quizzes.models import Attempt
from tests.certification_support import GOOD_SCORES, REFLECTION, make_cert_tree, make_eligible, make_request
from tests.conftest import Browser
from tests.content_tree import make_quiz_tree
from tests.groups_support import ZOOM, make_group

YESTERDAY = (utcnow().date() - timedelta(days=1)).isoformat()


def forged(**fields) -> dict:
    """Fields the request does not offer, as a form posts them (text) or a JSON body sends them."""
    return {k: v if isinstance(v, list | dict | bool) else str(v) for k, v in fields.items()}


def columns(app, model, key, *names) -> dict:
    with app.app_context():
        obj = db.session.get(model, key)
        return {n: getattr(obj, n) for n in names}


def count(app, model, *where) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def bearer(app, user_id: int) -> dict:
    with app.app_context():
        user = db.session.get(User, user_id)
        secret = accounts.create_api_token(user, actor=user, name="mass assignment").secret
        db.session.commit()
    return {"Authorization": f"Bearer {secret}"}


def refused_naming(response, fields) -> None:
    """The API's answer to a body with fields it does not take: 422, each named."""
    assert response.status_code == 422, response.get_data(as_text=True)
    named = set(response.get_json()["errors"])
    assert set(fields) <= named, f"{set(fields) - named} not named in {named}"


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


USER_COLUMNS = ("email", "role", "active", "supervisor_id", "password_hash", "accommodation_factor", "display_name",
                "certificate_name")


# ---------------------------------------------------------------- people


def test_profile_edit_sets_the_names_and_nothing_else(app, people, login_as):
    before = columns(app, User, people.trainee.id, *USER_COLUMNS)
    others = {u.id: columns(app, User, u.id, *USER_COLUMNS) for u in (people.admin, people.other_trainee)}
    r = login_as("trainee").submit("/settings", "/settings/profile", data={
        "display_name": "Tess Renamed", "certificate_name": "Tess R. Trainee",
        **forged(role="admin", supervisor=people.other_supervisor.id, supervisor_id=people.other_supervisor.id,
                 active="0", is_active="0", email="tess@evil.example", password_hash="plain", accommodation_factor=3,
                 id=people.admin.id, user_id=people.other_trainee.id)})
    assert r.status_code == 302
    after = columns(app, User, people.trainee.id, *USER_COLUMNS)
    assert (after["display_name"], after["certificate_name"]) == ("Tess Renamed", "Tess R. Trainee")
    assert {k: v for k, v in after.items() if k not in ("display_name", "certificate_name")} == {
        k: v for k, v in before.items() if k not in ("display_name", "certificate_name")}
    assert {u: columns(app, User, u, *USER_COLUMNS) for u in others} == others


def test_accepting_an_invitation_sets_the_password_and_nothing_else(app, people, outbox):
    with app.app_context():
        ivy = accounts.invite_user(actor=None, email="ivy@example.org", display_name="Ivy Invited", role=Role.TRAINEE)
        db.session.commit()
        ivy_id = ivy.id
    token = outbox.link_in_last_to("ivy@example.org").rsplit("/", 1)[1]
    before = columns(app, User, ivy_id, *USER_COLUMNS)
    admin_before = columns(app, User, people.admin.id, *USER_COLUMNS)
    r = Browser(app.test_client()).submit(f"/invitation/{token}", data={
        "password": "a new passphrase for ivy", "confirm": "a new passphrase for ivy",
        **forged(role="admin", supervisor_id=people.supervisor.id, supervisor=people.supervisor.id,
                 email="ivy@evil.example", display_name="Forged", certificate_name="Forged", active="1",
                 user_id=people.admin.id, accommodation_factor=3)})
    assert r.status_code == 302
    after = columns(app, User, ivy_id, *USER_COLUMNS)
    assert after.pop("password_hash") and not before.pop("password_hash")
    assert after == before
    assert columns(app, User, people.admin.id, *USER_COLUMNS) == admin_before
    assert Browser(app.test_client()).login("ivy@example.org", "a new passphrase for ivy").status_code == 302


def test_a_password_reset_sets_the_password_and_nothing_else(app, people, outbox):
    with app.app_context():
        accounts.request_password_reset(people.trainee.email)
        db.session.commit()
    token = outbox.link_in_last_to(people.trainee.email).rsplit("/", 1)[1]
    before = columns(app, User, people.trainee.id, *USER_COLUMNS)
    r = Browser(app.test_client()).submit(f"/password/reset/{token}", data={
        "password": "another passphrase for tess", "confirm": "another passphrase for tess",
        **forged(role="admin", email="tess@evil.example", user_id=people.admin.id, supervisor_id="")})
    assert r.status_code == 302
    after = columns(app, User, people.trainee.id, *USER_COLUMNS)
    assert after.pop("password_hash") != before.pop("password_hash")
    assert after == before


def test_administrators_forms_change_only_what_they_name(app, people, login_as):
    admin = login_as("admin")
    before = columns(app, User, people.supervisor.id, *USER_COLUMNS)
    r = admin.submit(f"/admin/users/{people.supervisor.id}", f"/admin/users/{people.supervisor.id}/role", data={
        "role": "admin", **forged(supervisor=people.other_supervisor.id, supervisor_id=people.other_supervisor.id,
                                  active="0", email="sam@evil.example", display_name="Forged")})
    assert r.status_code == 302
    assert columns(app, User, people.supervisor.id, *USER_COLUMNS) == {**before, "role": Role.ADMIN}
    r = admin.submit("/admin/users/new", data={
        "email": "new@example.org", "display_name": "Nia New", "role": "trainee", "supervisor": "",
        "send_invitation": "y", **forged(active="0", password_hash="plain", accommodation_factor=3, is_admin="1")})
    assert r.status_code == 302
    with app.app_context():
        new = accounts.find_user_by_email("new@example.org")
        assert (new.role, new.active, new.password_hash, new.accommodation_factor) == (Role.TRAINEE, True, None, 1.0)


def test_the_users_api_refuses_fields_it_does_not_take(app, client, people):
    api = bearer(app, people.admin.id)
    before = {u.id: columns(app, User, u.id, *USER_COLUMNS) for u in (people.trainee, people.admin)}
    extra = forged(email="tess@evil.example", password="a passphrase", password_hash="plain", id=people.admin.id,
                   accommodation_factor=3)
    refused_naming(client.patch(f"/api/v1/users/{people.trainee.id}", headers=api,
                                json={"display_name": "Forged", **extra}), extra)
    extra = forged(active=False, password="a passphrase", accommodation_factor=3, created_at="2001-01-01")
    refused_naming(client.post("/api/v1/users", headers=api,
                               json={"email": "api@example.org", "display_name": "Api", **extra}), extra)
    assert {u: columns(app, User, u, *USER_COLUMNS) for u in before} == before
    assert count(app, User, User.email == "api@example.org") == 0
    r = client.patch(f"/api/v1/users/{people.trainee.id}", headers=api, json={"display_name": "Tess Again"})
    assert r.status_code == 200  # the control: the same call without them
    assert columns(app, User, people.trainee.id, "display_name") == {"display_name": "Tess Again"}


def test_a_new_api_token_is_its_makers_and_unscoped(app, people, login_as):
    r = login_as("trainee").submit("/settings", "/settings/tokens", data={
        "name": "my script", **forged(user_id=people.admin.id, scopes="facilitators:read", revoked_at="2001-01-01",
                                      token_hash="0" * 64)})
    assert r.status_code == 200
    with app.app_context():
        token = db.session.scalar(select(ApiToken).where(ApiToken.name == "my script"))
        assert (token.user_id, token.scope_set, token.revoked_at) == (people.trainee.id, frozenset(), None)
        assert token.token_hash != "0" * 64


def test_extra_time_is_set_for_the_trainee_of_the_address_only(app, people, login_as):
    r = login_as("supervisor").submit(f"/people/{people.trainee.id}/attempts", data={
        "factor": "1.5", **forged(user_id=people.other_trainee.id, trainee_id=people.other_trainee.id)})
    assert r.status_code == 302
    assert columns(app, User, people.trainee.id, "accommodation_factor") == {"accommodation_factor": 1.5}
    assert columns(app, User, people.other_trainee.id, "accommodation_factor") == {"accommodation_factor": 1.0}


# ---------------------------------------------------------------- practicum and certification


ENTRY_COLUMNS = ("user_id", "status", "reviewer_id", "reviewed_at", "review_note", "rubric_scores", "rubric_passed",
                 "source", "kind")


def test_a_practicum_entry_is_the_loggers_and_pending(app, people, login_as, client, tree):
    trainee = login_as("trainee")
    extra = forged(status="confirmed", reviewer_id=people.supervisor.id, reviewer=people.supervisor.id,
                   user_id=people.other_trainee.id, rubric_scores='{"opening": 4}', rubric_passed="1", counts="1",
                   source="group", reviewed_at="2001-01-01", review_note="fine", id=1)
    r = trainee.submit("/practicum", data={"kind": "observed", "session_date": YESTERDAY, "group_name": "Tuesday",
                                           "reflection": REFLECTION, **extra})
    assert r.status_code == 302
    with app.app_context():
        entry = db.session.scalars(select(PracticumEntry)).one()
        assert {n: getattr(entry, n) for n in ENTRY_COLUMNS} == {
            "user_id": people.trainee.id, "status": EntryStatus.PENDING, "reviewer_id": None, "reviewed_at": None,
            "review_note": None, "rubric_scores": None, "rubric_passed": None, "source": "trainee", "kind": "observed"}
    api = bearer(app, people.trainee.id)
    body = {"kind": "observed", "session_date": YESTERDAY, "group_name": "API", "reflection": REFLECTION}
    extra = forged(status="confirmed", reviewer_id=people.supervisor.id, user_id=people.other_trainee.id,
                   rubric_scores={"opening": 4}, source="group", counts=True)
    refused_naming(client.post("/api/v1/practicum", headers=api, json={**body, **extra}), extra)
    assert count(app, PracticumEntry) == 1
    assert client.post("/api/v1/practicum", headers=api, json=body).status_code == 201  # the control


def test_a_review_records_its_reviewer_and_keeps_the_entry(app, people, login_as, client, tree):
    from lms.certification import services as certification

    with app.app_context():
        trainee = db.session.get(User, people.trainee.id)
        ids = [certification.log_practicum(trainee, kind=kind, session_date=utcnow().date() - timedelta(days=2),
                                           group_name="Tuesday", reflection=REFLECTION).id
               for kind in ("observed", "led_observed")]
        db.session.commit()
    before = columns(app, PracticumEntry, ids[0], "user_id", "kind", "session_date", "reflection", "group_name")
    r = login_as("supervisor").submit(f"/practicum/{ids[0]}/review", data={
        "confirm": "Confirm this entry", **forged(reviewer_id=people.admin.id, reviewer=people.admin.id,
                                                  user_id=people.other_trainee.id, status="rejected", kind="led",
                                                  session_date="2001-01-01", reflection="Forged", source="group")})
    assert r.status_code == 302
    assert columns(app, PracticumEntry, ids[0], *before) == before
    assert columns(app, PracticumEntry, ids[0], "status", "reviewer_id") == {
        "status": EntryStatus.CONFIRMED, "reviewer_id": people.supervisor.id}
    api = bearer(app, people.supervisor.id)
    extra = forged(reviewer_id=people.admin.id, status="confirmed", rubric_passed=True, user_id=people.other_trainee.id)
    refused_naming(client.post(f"/api/v1/practicum/{ids[1]}/confirm", headers=api,
                               json={"scores": GOOD_SCORES, **extra}), extra)
    assert columns(app, PracticumEntry, ids[1], "status", "reviewer_id") == {"status": EntryStatus.PENDING,
                                                                             "reviewer_id": None}


REQUEST_COLUMNS = ("user_id", "status", "decided_by_id", "decided_at", "decision_reason")


def test_a_certification_request_is_the_requesters_and_pending(app, people, login_as, client, tree):
    make_eligible(app, people.trainee.id, people.supervisor.id)
    api = bearer(app, people.trainee.id)
    extra = forged(status="approved", decided_by_id=people.supervisor.id, user_id=people.other_trainee.id,
                   certificate_serial="PND-2026-000001", eligibility={}, program_version_id=999)
    refused_naming(client.post("/api/v1/certification-requests", headers=api, json={"message": "Hi", **extra}), extra)
    assert count(app, CertificationRequest) == 0
    r = login_as("trainee").submit("/certification", "/certification/request", data={
        "message": "Please look at my record.",
        **forged(status="approved", decided_by_id=people.supervisor.id, decided_by=people.supervisor.id,
                 user_id=people.other_trainee.id, decision_reason="Forged", certificate_serial="PND-2026-000001",
                 requested_at="2001-01-01", program_version_id=999)})
    assert r.status_code == 302
    with app.app_context():
        req = db.session.scalars(select(CertificationRequest)).one()
        assert {n: getattr(req, n) for n in REQUEST_COLUMNS} == {
            "user_id": people.trainee.id, "status": RequestStatus.PENDING, "decided_by_id": None, "decided_at": None,
            "decision_reason": None}
        assert req.message == "Please look at my record." and req.certificate is None


def test_approval_and_issue_take_their_people_and_facts_from_the_record(app, people, login_as, client, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    r = login_as("supervisor").submit(f"/certification/requests/{request_id}", f"/certification/requests/"
                                      f"{request_id}/approve", data={
        "note": "Well done.", **forged(decided_by_id=people.admin.id, approver_id=people.admin.id, status="issued",
                                       user_id=people.other_trainee.id, decided_at="2001-01-01",
                                       certificate_serial="PND-FORGED")})
    assert r.status_code == 302
    approved = columns(app, CertificationRequest, request_id, *REQUEST_COLUMNS)
    assert (approved["status"], approved["decided_by_id"], approved["user_id"]) == (
        RequestStatus.APPROVED, people.supervisor.id, people.trainee.id)
    assert approved["decided_at"].year == utcnow().year
    api = bearer(app, people.admin.id)
    extra = forged(serial="PND-FORGED-1", holder_name="Forged", valid_until="2099-12-31",
                   approved_by_id=people.admin.id, verification_code="forged")
    refused_naming(client.post("/api/v1/certificates", headers=api, json={"request_id": request_id, **extra}), extra)
    assert count(app, Certificate) == 0
    r = login_as("admin").submit(f"/certification/requests/{request_id}", f"/certification/requests/{request_id}"
                                 f"/issue", data=forged(serial="PND-FORGED-2", holder_name="Forged",
                                                        valid_until="2099-12-31", approved_by_id=people.admin.id,
                                                        issued_by_id=people.supervisor.id, pdf_sha256="0" * 64,
                                                        verification_code="forged", user_id=people.other_trainee.id))
    assert r.status_code == 302
    with app.app_context():
        cert = db.session.scalars(select(Certificate)).one()
        trainee = db.session.get(User, people.trainee.id)
        assert cert.serial.startswith("PND-") and "FORGED" not in cert.serial
        assert (cert.user_id, cert.holder_name, cert.approved_by_id) == (
            people.trainee.id, trainee.certificate_name, people.supervisor.id)
        assert cert.valid_until < utcnow().date().replace(year=utcnow().year + 3)
        assert cert.verification_code != "forged" and cert.pdf_sha256 != "0" * 64


def test_an_approval_by_api_takes_its_approver_from_the_token(app, people, client, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    api = bearer(app, people.supervisor.id)
    before = columns(app, CertificationRequest, request_id, *REQUEST_COLUMNS)
    extra = forged(decided_by_id=people.admin.id, status="issued", decided_at="2001-01-01")
    refused_naming(client.post(f"/api/v1/certification-requests/{request_id}/approve", headers=api,
                               json={"note": "Well done.", **extra}), extra)
    assert columns(app, CertificationRequest, request_id, *REQUEST_COLUMNS) == before
    r = client.post(f"/api/v1/certification-requests/{request_id}/approve", headers=api, json={"note": "Well done."})
    assert r.status_code == 200  # the control
    assert columns(app, CertificationRequest, request_id, "status", "decided_by_id") == {
        "status": RequestStatus.APPROVED, "decided_by_id": people.supervisor.id}


# ---------------------------------------------------------------- quiz attempts


def test_an_attempts_grade_is_the_servers(app, people, login_as, client, tmp_path):
    from lms.quizzes import services as quizzes

    make_quiz_tree(app, tmp_path / "content")
    with app.app_context():
        attempts = {who.id: quizzes.start_attempt(db.session.get(User, who.id), quizzes.get_quiz("alpha"))[0].id
                    for who in (people.trainee, people.other_trainee)}
        db.session.commit()
    first = attempts[people.trainee.id]
    wrong = {"q-pick-a": "b", "q-safe": "false", "q-both": "c", "q-name-it": "aspirin"}
    r = login_as("trainee").submit(f"/attempts/{first}", f"/attempts/{first}/submit", data={
        **wrong, **forged(score=100, passed="1", status="submitted", user_id=people.other_trainee.id,
                          critical_failed="0", number=9, deadline="2099-01-01T00:00:00", quiz_version_id=999)})
    assert r.status_code == 302
    graded = columns(app, Attempt, first, "score", "passed", "user_id", "critical_failed", "number")
    assert graded["score"] < 75 and graded["passed"] is False and graded["user_id"] == people.trainee.id
    assert graded["number"] == 1
    second = attempts[people.other_trainee.id]
    api = bearer(app, people.other_trainee.id)
    extra = forged(score=100, passed=True)
    refused_naming(client.put(f"/api/v1/attempts/{second}/answers", headers=api,
                              json={"answers": {"pick-a": "b"}, **extra}), extra)
    # submitting says it ignores everything but the answers: the grade is still the server's
    r = client.post(f"/api/v1/attempts/{second}/submit", headers=api, json={
        "answers": {"pick-a": "b", "safe": False, "both": ["c"], "name-it": "aspirin"},
        **forged(score=100, passed=True, critical_failed=False, user_id=people.trainee.id, status="submitted")})
    assert r.status_code == 200
    graded = columns(app, Attempt, second, "score", "passed", "user_id")
    assert graded["score"] < 75 and graded["passed"] is False and graded["user_id"] == people.other_trainee.id
    assert count(app, Attempt) == 2


# ---------------------------------------------------------------- groups


GROUP_FORM = dict(name="Thursday evening group", description="Weekly.", weekday="3", start_time="19:00",
                  duration_minutes="90", timezone="Europe/London", meeting_url=ZOOM, capacity="12")


def test_group_forms_set_the_group_fields_and_nothing_else(app, people, login_as, client):
    admin = login_as("admin")
    other_id = make_group(app, people.admin.id, name="Other group")
    r = admin.submit("/groups/new", data={**GROUP_FORM, **forged(
        status="closed", lead_id=people.trainee.id, lead=people.trainee.id, created_by_id=people.supervisor.id,
        created_at="2001-01-01", id=other_id, co_facilitator_ids=people.other_trainee.id)})
    assert r.status_code == 302
    with app.app_context():
        group = db.session.scalar(select(Group).where(Group.name == GROUP_FORM["name"]))
        group_id = group.id
        assert (group.status, group.created_by_id, group.members) == (GroupStatus.ACTIVE, people.admin.id, [])
        assert group.created_at.year == utcnow().year
    r = admin.submit(f"/groups/{group_id}/edit", data={**GROUP_FORM, "capacity": "15", **forged(
        status="paused", lead_id=people.trainee.id, id=other_id, needs_lead="0", created_by_id=people.supervisor.id)})
    assert r.status_code == 302
    assert columns(app, Group, group_id, "capacity", "status", "created_by_id") == {
        "capacity": 15, "status": GroupStatus.ACTIVE, "created_by_id": people.admin.id}
    assert columns(app, Group, other_id, "name", "capacity") == {"name": "Other group", "capacity": 12}
    assert count(app, GroupMember) == 0
    api = bearer(app, people.admin.id)
    extra = forged(lead_id=people.trainee.id, created_by_id=people.supervisor.id, id=other_id, needs_lead=False)
    refused_naming(client.patch(f"/api/v1/groups/{group_id}", headers=api, json={"capacity": 20, **extra}), extra)
    extra = forged(lead_id=people.trainee.id, co_facilitator_ids=[people.other_trainee.id], created_at="2001-01-01")
    refused_naming(client.post("/api/v1/groups", headers=api, json={
        **{k: GROUP_FORM[k] for k in ("name", "start_time", "timezone", "meeting_url")}, "name": "API group",
        "weekday": 3, "duration_minutes": 90, "capacity": 12, **extra}), extra)
    assert columns(app, Group, group_id, "capacity") == {"capacity": 15}
    assert count(app, Group) == 2 and count(app, GroupMember) == 0

