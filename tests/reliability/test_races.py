"""Races through the HTTP layer, where the real user path is a page: each client logs in (its own login session),
fetches its page's CSRF token, and then all post at the same moment (tests/concurrency.together: threads behind a
barrier, each request with its own app context, session and database connection). The service-level races of
tests/services/test_*_concurrency.py and tests/api/test_quizzes_concurrency.py are not repeated here; these add
what people actually do at once:

- six tabs of one trainee submitting the same attempt (half with right answers, half with wrong ones);
- supervisors and administrators approving and rejecting one request while its trainee withdraws it;
- administrators issuing a renewal while others revoke the certificate it replaces;
- administrators assigning a facilitator as a group's lead while others revoke their certificate, or
  deactivate their account: nobody ends up leading without a valid certificate and an active account.

Each test checks the final state: one of each, the audit trail agreeing with the rows, no orphan rows, and the
e-mail that went out. PostgreSQL (row locks, READ COMMITTED) is the database that matters; SQLite serialises
writers and must give the same answers."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.certification import services as certification
from lms.certification.models import Certificate, CertificateState, CertificationRequest, RequestStatus
from lms.db import db, utcnow
from lms.groups.models import GroupMember, GroupRole, GroupSession
from lms.learning.models import CourseCompletion, LearningEvent, Verb
from lms.quizzes import services as quizzes
from lms.quizzes.models import Attempt, AttemptAnswer, AttemptStatus
from tests import factories
from tests.certification_support import (
    log_and_confirm_practicum,
    make_approved,
    make_cert_tree,
    make_certificate,
    make_request,
)
from tests.concurrency import N, count, together
from tests.conftest import Browser
from tests.groups_support import make_group
from tests.reliability.support import complete_lessons, token_for

RIGHT = {"q-pick-a": "a", "q-safe": "true", "q-both": ["a", "b"], "q-name-it": "Naloxone"}
WRONG = {"q-pick-a": "b", "q-safe": "false", "q-both": ["c"], "q-name-it": "aspirin"}
REASON = "Breach of the code of conduct at a session."


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def client_of(app, email: str) -> FlaskClient:
    """A browser of its own, logged in: its own cookie, login session and CSRF token."""
    browser = Browser(app.test_client())
    assert browser.login(email).status_code == 302
    return browser.client


def extra_admins(app, n: int) -> list[str]:
    with app.app_context():
        return [factories.make_user(Role.ADMIN).email for _ in range(n)]


def actions(app) -> Counter:
    with app.app_context():
        rows = db.session.execute(select(AuditEvent.action, func.count()).group_by(AuditEvent.action)).all()
        return Counter(dict(rows))


def mail_subjects(outbox, since: int) -> list[tuple[str, str]]:
    return sorted((m["To"], m["Subject"]) for m in outbox.messages()[since:])


def lands_on(response, path_end: str) -> bool:
    return response.status_code == 302 and response.headers["Location"].endswith(path_end)


# ---------------------------------------------------------------- one attempt, six tabs


def test_six_tabs_submitting_one_attempt_grade_it_once(app, people, tree, outbox):
    """Alpha's lessons are done, so a pass completes the course: whichever tab comes first is graded, once, and
    the course is completed once if that tab had the right answers."""
    complete_lessons(app, people.trainee.id)
    with app.app_context():
        attempt, _ = quizzes.start_attempt(db.session.get(User, people.trainee.id), quizzes.get_quiz("alpha"))
        db.session.commit()
        aid = attempt.id
    clients = [client_of(app, "trainee@example.org") for _ in range(N)]
    tokens = [token_for(c, f"/attempts/{aid}") for c in clients]
    before = actions(app)

    def submit(i: int):
        return clients[i].post(f"/attempts/{aid}/submit", data={"csrf_token": tokens[i], **(RIGHT if i % 2 else WRONG)})

    responses = together(submit)

    assert all(lands_on(r, f"/attempts/{aid}/result") for r in responses), [r.status_code for r in responses]
    with app.app_context():
        row = db.session.get(Attempt, aid)
        assert row.status is AttemptStatus.SUBMITTED and row.score in (0, 100) and row.passed is (row.score == 100)
        # graded on one tab's answers, whole: every question right, or every one wrong, never a mixture
        assert set(row.results.values()) == ({1.0} if row.passed else {0.0}), row.results
        assert count(AttemptAnswer, AttemptAnswer.attempt_id == aid) == len(row.question_ids)
        graded = [e for e in db.session.scalars(select(LearningEvent).where(
            LearningEvent.verb.in_((Verb.PASSED, Verb.FAILED)))) if e.result["attempt_id"] == aid]
        assert [(e.verb, e.result["score"]) for e in graded] == [(Verb.PASSED if row.passed else Verb.FAILED,
                                                                  row.score)]
        completed = int(row.passed)
        assert count(CourseCompletion) == completed
        assert count(LearningEvent, LearningEvent.verb == Verb.COMPLETED, LearningEvent.object_type == "course") \
            == completed
    assert actions(app) - before == Counter({"attempt.submitted": 1, "course.completed": completed})


# ---------------------------------------------------------------- one request, six decisions


def test_approve_reject_and_withdraw_at_once_leave_one_decision(app, people, tree, outbox):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    admins = extra_admins(app, 2)
    page = f"/certification/requests/{request_id}"
    plan = [("sup@example.org", "approve"), ("admin@example.org", "reject"), ("trainee@example.org", "withdraw"),
            (admins[0], "approve"), ("sup@example.org", "reject"), (admins[1], "approve")]
    clients = [client_of(app, email) for email, _ in plan]
    tokens = [token_for(c, "/certification" if verb == "withdraw" else page)
              for c, (_, verb) in zip(clients, plan, strict=True)]
    fields = {"approve": {"note": "Well done."}, "reject": {"reason": "Not yet: one more observed session."},
              "withdraw": {}}
    before, mails = actions(app), len(outbox.messages())

    def decide(i: int):
        verb = plan[i][1]
        return clients[i].post(f"{page}/{verb}", data={"csrf_token": tokens[i], **fields[verb]})

    responses = together(decide)

    with app.app_context():
        req = db.session.get(CertificationRequest, request_id)
        status, decided_by = req.status, req.decided_by.email if req.decided_by else None
    assert status in (RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN)
    verb = {RequestStatus.APPROVED: "approve", RequestStatus.REJECTED: "reject",
            RequestStatus.WITHDRAWN: "withdraw"}[status]
    decisions = [(plan[i], r.status_code) for i, r in enumerate(responses) if plan[i][1] != "withdraw"]
    if status is RequestStatus.WITHDRAWN:
        assert all(code == 409 for _, code in decisions), decisions
    else:
        winners = [who for who, code in decisions if code == 302]
        assert winners == [(decided_by, verb)], decisions
        assert sorted(code for _, code in decisions) == [302] + [409] * (len(decisions) - 1)
    assert all(r.status_code in (302, 409) for r in responses)
    assert actions(app) - before == Counter({f"certification.{status.value}": 1})
    told = [subject for to, subject in mail_subjects(outbox, mails) if to == "trainee@example.org"]
    assert told == {"approve": ["Your certification was approved"],
                    "reject": ["Your certification request was not approved"], "withdraw": []}[verb]


# ---------------------------------------------------------------- issue while the previous certificate is revoked


def test_issuing_a_renewal_while_the_old_certificate_is_revoked(app, people, tree, outbox):
    """Tess's first certificate lapsed long ago; her new request is approved. Three administrators issue it while
    three others revoke the old certificate. Whatever the order: one new certificate, active; the old one revoked
    (superseded by the new one first, or not, and the trail says which); one issue and one revocation."""
    old_request = make_approved(app, people.trainee.id, people.supervisor.id)
    with app.app_context():
        old = certification.issue_certificate(db.session.get(CertificationRequest, old_request),
                                              issuer=db.session.get(User, people.admin.id),
                                              now=utcnow() - timedelta(days=850))
        db.session.commit()
        old_id, old_serial = old.id, old.serial
    log_and_confirm_practicum(app, people.trainee.id, people.supervisor.id)  # a new practicum, after the lapse
    with app.app_context():
        req = certification.request_certification(db.session.get(User, people.trainee.id))
        certification.approve_request(req, approver=db.session.get(User, people.supervisor.id))
        db.session.commit()
        request_id = req.id
    emails = ["admin@example.org", *extra_admins(app, N - 1)]
    clients = [client_of(app, e) for e in emails]
    issue_page, cert_page = f"/certification/requests/{request_id}", f"/certificates/{old_serial}"
    tokens = [token_for(c, issue_page if i % 2 else cert_page) for i, c in enumerate(clients)]
    before, mails = actions(app), len(outbox.messages())

    def act(i: int):
        if i % 2:
            return clients[i].post(f"{issue_page}/issue", data={"csrf_token": tokens[i]})
        return clients[i].post(f"{cert_page}/revoke", data={"csrf_token": tokens[i], "reason": REASON, "confirm": "y"})

    responses = together(act)

    issues, revokes = responses[1::2], responses[0::2]
    assert sorted(r.headers["Location"].split("/")[-2] for r in issues) == ["certificates", "requests", "requests"]
    assert sorted(r.status_code for r in revokes) == [302, 409, 409]
    with app.app_context():
        certs = db.session.scalars(select(Certificate).order_by(Certificate.id)).all()
        assert [c.id for c in certs][0] == old_id and len(certs) == 2
        old, new = certs
        assert old.state is CertificateState.REVOKED and new.state is CertificateState.ACTIVE
        assert new.request_id == request_id
        assert db.session.get(CertificationRequest, request_id).status is RequestStatus.ISSUED
        superseded = count(AuditEvent, AuditEvent.action == "certificate.superseded")
        assert old.superseded_by_id == (new.id if superseded else None)
        assert count(LearningEvent, LearningEvent.verb == Verb.EARNED) == 2  # the old one's and the new one's
    assert actions(app) - before == Counter({"certificate.issued": 1, "certificate.revoked": 1,
                                             "certificate.superseded": superseded})
    told = [subject for to, subject in mail_subjects(outbox, mails) if to == "trainee@example.org"]
    assert told == ["Your facilitator certificate", "Your facilitator certificate was revoked"]


# ---------------------------------------------------------------- the leadership gate under a race


def _no_one_leads(app, group_id: int, user_id: int) -> None:
    with app.app_context():
        assert count(GroupMember, GroupMember.group_id == group_id, GroupMember.role == GroupRole.LEAD) == 0
        assert count(GroupSession, GroupSession.lead_id == user_id, GroupSession.starts_at > utcnow()) == 0


def _leads_assigned_were_removed(app, before: Counter) -> None:
    """Every lead assignment that stood for a moment was followed by the step-down: the trail has one per one."""
    done = actions(app) - before
    assert done["group.lead_assigned"] <= 1
    assert done["group.lead_removed"] == done["group.lead_assigned"]


def test_assigning_a_lead_while_their_certificate_is_revoked(app, people, tree, outbox):
    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    group_id = make_group(app, people.admin.id)
    emails = ["admin@example.org", *extra_admins(app, N - 1)]
    clients = [client_of(app, e) for e in emails]
    group_page, cert_page = f"/groups/{group_id}", f"/certificates/{serial}"
    tokens = [token_for(c, group_page if i % 2 else cert_page) for i, c in enumerate(clients)]
    before = actions(app)

    def act(i: int):
        if i % 2:
            return clients[i].post(f"{group_page}/lead", data={"csrf_token": tokens[i],
                                                                "lead-user_id": str(people.trainee.id)})
        return clients[i].post(f"{cert_page}/revoke", data={"csrf_token": tokens[i], "reason": REASON, "confirm": "y"})

    responses = together(act)

    assert sorted(r.status_code for r in responses[0::2]) == [302, 409, 409]  # one revocation
    assert all(r.status_code in (302, 409) for r in responses[1::2])
    _no_one_leads(app, group_id, people.trainee.id)
    _leads_assigned_were_removed(app, before)
    assert (actions(app) - before)["certificate.revoked"] == 1


def test_assigning_a_lead_while_their_account_is_deactivated(app, people, tree, outbox):
    make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)
    group_id = make_group(app, people.admin.id)
    emails = ["admin@example.org", *extra_admins(app, N - 1)]
    clients = [client_of(app, e) for e in emails]
    group_page, user_page = f"/groups/{group_id}", f"/admin/users/{people.trainee.id}"
    tokens = [token_for(c, group_page if i % 2 else user_page) for i, c in enumerate(clients)]
    before = actions(app)

    def act(i: int):
        if i % 2:
            return clients[i].post(f"{group_page}/lead", data={"csrf_token": tokens[i],
                                                                "lead-user_id": str(people.trainee.id)})
        return clients[i].post(f"{user_page}/deactivate", data={"csrf_token": tokens[i]})

    responses = together(act)

    assert all(lands_on(r, user_page) for r in responses[0::2])  # the outcome is flashed on the person's page
    # an assignment is made (302) or refused: by the gate (409), or by the form when the list of people it offers
    # was drawn after the deactivation (422)
    assert all(r.status_code in (302, 409, 422) for r in responses[1::2]), [r.status_code for r in responses]
    with app.app_context():
        assert db.session.get(User, people.trainee.id).active is False
    _no_one_leads(app, group_id, people.trainee.id)
    _leads_assigned_were_removed(app, before)
    assert (actions(app) - before)["user.deactivated"] == 1
