"""Real concurrency on certification decisions: threads released together by a barrier, each with its own app
context, session and connection. However many admins press "issue" at the same moment, one certificate exists;
however many reviewers decide at once, one decision stands; one open request per trainee.

On PostgreSQL (CI) a row lock and the unique keys do the work; on SQLite the single writer lock does."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lms.accounts.models import Role, User
from lms.audit import AuditEvent
from lms.certification import services
from lms.certification.models import Certificate, CertificationRequest, RequestStatus
from lms.db import db
from lms.learning.models import LearningEvent, Verb
from tests import factories
from tests.certification_support import make_approved, make_cert_tree, make_eligible, make_request
from tests.concurrency import N, count, outcome, together


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def test_simultaneous_issues_give_one_certificate(app, people, tree):
    request_id = make_approved(app, people.trainee.id, people.supervisor.id)
    with app.app_context():
        admins = [people.admin.id] + [factories.make_user(Role.ADMIN).id for _ in range(N - 1)]

    def issue(i: int) -> str:
        return outcome(app, lambda: services.issue_certificate(db.session.get(CertificationRequest, request_id),
                                                               issuer=db.session.get(User, admins[i])))

    results = together(issue)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        assert count(Certificate) == 1
        assert count(AuditEvent, AuditEvent.action == "certificate.issued") == 1
        assert count(LearningEvent, LearningEvent.verb == Verb.EARNED) == 1
        assert db.session.get(CertificationRequest, request_id).status is RequestStatus.ISSUED


def test_simultaneous_decisions_leave_one(app, people, tree):
    request_id = make_request(app, people.trainee.id, people.supervisor.id)
    reviewers = [people.supervisor.id, people.admin.id] * (N // 2)

    def decide(i: int) -> str:
        def work():
            req = db.session.get(CertificationRequest, request_id)
            reviewer = db.session.get(User, reviewers[i])
            if i % 2:
                services.reject_request(req, approver=reviewer, reason="Not yet: one more observed session.")
            else:
                services.approve_request(req, approver=reviewer)
        return outcome(app, work)

    results = together(decide)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        req = db.session.get(CertificationRequest, request_id)
        assert req.status in (RequestStatus.APPROVED, RequestStatus.REJECTED)
        decided = db.session.scalars(select(AuditEvent.action).where(
            AuditEvent.action.in_(("certification.approved", "certification.rejected")))).all()
        assert decided == [f"certification.{req.status.value}"]


def test_simultaneous_requests_give_one(app, people, tree):
    make_eligible(app, people.trainee.id, people.supervisor.id)

    def ask(_: int) -> str:
        return outcome(app, lambda: services.request_certification(db.session.get(User, people.trainee.id)))

    results = together(ask)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        assert count(CertificationRequest) == 1
        assert count(AuditEvent, AuditEvent.action == "certification.requested") == 1


def test_simultaneous_revocations_revoke_once(app, people, tree):
    from tests.certification_support import make_certificate

    serial = make_certificate(app, people.trainee.id, people.supervisor.id, people.admin.id)

    def revoke(_: int) -> str:
        def work():
            cert = services.get_certificate(serial, db.session.get(User, people.admin.id))
            services.revoke_certificate(cert, actor=db.session.get(User, people.admin.id),
                                        reason="Breach of the code of conduct.")
        return outcome(app, work)

    results = together(revoke)
    assert sorted(results) == ["Conflict"] * (N - 1) + ["ok"], results
    with app.app_context():
        assert count(AuditEvent, AuditEvent.action == "certificate.revoked") == 1
