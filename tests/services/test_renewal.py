"""A living credential, with a controllable clock: expiry computed everywhere and noted once by maintenance;
reminders 60, 30 and 7 days before expiry, each once, also with maintenance running twice at the same moment;
renewal by the short path inside the window, which supersedes the old certificate; the full path after the grace
period."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy import func, select, update

from lms.accounts.models import User
from lms.audit import AuditEvent
from lms.certification import eligibility, maintenance, services
from lms.certification.models import (
    Certificate,
    CertificateNotice,
    CertificateState,
    CertificateStatus,
    CertificationRequest,
    PracticumEntry,
    PracticumKind,
    RequestPath,
    RequestStatus,
)
from lms.db import db, utcnow
from tests.certification_support import REFLECTION, make_approved, make_cert_tree
from tests.concurrency import together


@pytest.fixture
def tree(app, tmp_path):
    return make_cert_tree(app, tmp_path / "content")


def user(user_id: int) -> User:
    return db.session.get(User, user_id)


def at(day) -> datetime:
    """Noon UTC on `day`: maintenance's clock."""
    return datetime.combine(day, time(12), tzinfo=UTC)


def certify(app, people, *, days_ago: int) -> int:
    """Tess certified `days_ago` days ago (through the whole path); returns the certificate's id."""
    request_id = make_approved(app, people.trainee.id, people.supervisor.id)
    with app.app_context():
        req = db.session.get(CertificationRequest, request_id)
        cert = services.issue_certificate(req, issuer=user(people.admin.id),
                                          now=utcnow() - timedelta(days=days_ago))
        db.session.commit()
        return cert.id


def cert_of(cert_id: int) -> Certificate:
    return db.session.get(Certificate, cert_id)


def mails_to(outbox, address: str, subject_part: str) -> list[str]:
    return [m["Subject"] for m in outbox.messages() if m["To"] == address and subject_part in m["Subject"]]


# ---------------------------------------------------------------- expiry


def test_expiry_changes_the_status_everywhere_and_is_noted_once(app, people, tree, outbox):
    cert_id = certify(app, people, days_ago=10)
    with app.app_context():
        cert = cert_of(cert_id)
        last, after = cert.valid_until, cert.valid_until + timedelta(days=1)
        assert services.status_of(cert, today=last) is CertificateStatus.VALID
        assert services.status_of(cert, today=after) is CertificateStatus.EXPIRED
        assert services.public_view(cert, today=after)["status"] == "expired"
        assert eligibility.valid_certificate(user(people.trainee.id), today=after) is None
        assert eligibility.evaluate(user(people.trainee.id), today=after).certificate_serial is None
        in_registry = db.session.scalars(services.registry(user(people.admin.id), status=CertificateStatus.EXPIRED,
                                                           today=after)).all()
        assert [c.id for c in in_registry] == [cert_id]

        assert maintenance.expire_certificates(now=at(last)) == 0  # its last day: still valid
        assert maintenance.expire_certificates(now=at(after)) == 1
        db.session.commit()
        assert maintenance.expire_certificates(now=at(after + timedelta(days=3))) == 0
        db.session.commit()
        expired = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate.expired")).all()
        assert [(e.actor_id, e.subject_id) for e in expired] == [(None, str(cert_id))]
    assert len(mails_to(outbox, "trainee@example.org", "has expired")) == 1
    assert len(mails_to(outbox, "sup@example.org", "has expired")) == 1
    body = outbox.body(outbox.last_to("trainee@example.org"))
    assert "short path" in body  # the grace period is still open


def test_reminders_go_out_at_60_30_and_7_days_once_each(app, people, tree, outbox):
    cert_id = certify(app, people, days_ago=1)
    with app.app_context():
        last = cert_of(cert_id).valid_until
        day = last - timedelta(days=70)
        sent = []
        while day <= last + timedelta(days=2):
            for _ in range(2):  # maintenance runs twice a day
                n = maintenance.send_reminders(now=at(day))
                db.session.commit()
                if n:
                    sent.append((last - day).days)
            day += timedelta(days=1)
        assert sent == [60, 30, 7]
        kinds = db.session.scalars(select(CertificateNotice.kind).order_by(CertificateNotice.id)).all()
        assert kinds == ["reminder-60", "reminder-30", "reminder-7"]
    subjects = mails_to(outbox, "trainee@example.org", "expires in")
    assert subjects == ["Your facilitator certificate expires in 60 days",
                        "Your facilitator certificate expires in 30 days",
                        "Your facilitator certificate expires in 7 days"]
    assert len(mails_to(outbox, "sup@example.org", "expires in")) == 3


def test_a_late_first_run_sends_only_the_nearest_reminder(app, people, tree, outbox):
    cert_id = certify(app, people, days_ago=1)
    with app.app_context():
        last = cert_of(cert_id).valid_until
        assert maintenance.send_reminders(now=at(last - timedelta(days=5))) == 1
        db.session.commit()
    assert mails_to(outbox, "trainee@example.org", "expires in") == ["Your facilitator certificate expires in 5 days"]


def test_revoked_and_superseded_certificates_get_no_reminders(app, people, tree, outbox):
    cert_id = certify(app, people, days_ago=1)
    with app.app_context():
        cert = cert_of(cert_id)
        services.revoke_certificate(cert, actor=user(people.admin.id), reason="Left the program for good.")
        db.session.commit()
        assert maintenance.run(now=at(cert.valid_until - timedelta(days=7))).reminders == 0
        assert maintenance.run(now=at(cert.valid_until + timedelta(days=1))).expired == 0


def test_two_maintenance_runs_at_the_same_moment_send_each_notice_once(app, app_factory, people, tree, outbox):
    """Two hosts, each with its own app and connection, run maintenance released together by a barrier."""
    cert_id = certify(app, people, days_ago=1)
    with app.app_context():
        last = cert_of(cert_id).valid_until
    hosts = [app, app_factory()]
    for moment in (at(last - timedelta(days=7)), at(last + timedelta(days=1))):

        def run(i: int, moment=moment):
            with hosts[i].app_context():
                result = maintenance.run(now=moment)
                db.session.commit()
                return result

        results = together(run, 2)
        assert sorted(r.reminders + r.expired for r in results) == [0, 1], results
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(CertificateNotice)) == 2
        assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action.in_(("certificate.reminded", "certificate.expired")))) == 2
    assert len(mails_to(outbox, "trainee@example.org", "expires in")) == 1
    assert len(mails_to(outbox, "trainee@example.org", "has expired")) == 1


# ---------------------------------------------------------------- renewal


def log_led_sessions(app, trainee_id: int, reviewer_id: int, n: int, *, on) -> None:
    with app.app_context():
        trainee, reviewer = user(trainee_id), user(reviewer_id)
        for _ in range(n):
            entry = services.log_practicum(trainee, kind=PracticumKind.LED, session_date=on,
                                           group_name="Wednesday online group", reflection=REFLECTION)
            services.review_entry(entry, reviewer=reviewer, confirm=True)
        db.session.commit()


def test_renewal_inside_the_window_supersedes_the_old_certificate(app, people, tree, outbox):
    cert_id = certify(app, people, days_ago=700)  # valid for 24 months: about 30 days left
    with app.app_context():
        old = cert_of(cert_id)
        # the practicum of the first certification came before it
        db.session.execute(update(PracticumEntry).values(session_date=old.valid_from - timedelta(days=5)))
        db.session.commit()
        today = utcnow().date()
        assert old.valid_until - timedelta(days=90) <= today <= old.valid_until
        state = eligibility.evaluate(user(people.trainee.id))
        assert state.path is RequestPath.RENEWAL and state.renews_serial == old.serial
        assert state.certificate_serial == old.serial and state.blockers == ["1 of 3 requirements are not met yet."]
        keys = {r.key: r for r in state.requirements}
        assert list(keys) == ["course:alpha", "practicum:led", "code_of_conduct"]
        assert keys["course:alpha"].met  # the refresher's quiz was passed while the certificate was valid
        assert keys["practicum:led"].progress.startswith("0 of 6 confirmed since")
        old_serial, old_until = old.serial, old.valid_until
    log_led_sessions(app, people.trainee.id, people.supervisor.id, 6, on=utcnow().date() - timedelta(days=20))
    with app.app_context():
        state = eligibility.evaluate(user(people.trainee.id))
        assert state.eligible and state.may_request
        req = services.request_certification(user(people.trainee.id))
        assert (req.path, req.renews_id) == (RequestPath.RENEWAL, cert_id)
        services.approve_request(req, approver=user(people.supervisor.id))
        new = services.issue_certificate(req, issuer=user(people.admin.id))
        db.session.commit()
        old = cert_of(cert_id)
        assert old.state is CertificateState.SUPERSEDED and old.superseded_by_id == new.id
        assert new.valid_from == utcnow().date()
        assert new.valid_until == services.add_months(old_until + timedelta(days=1), 24) - timedelta(days=1)
        view = services.public_view(old)
        assert view["status"] == "superseded"
        assert view["superseded_by"] == {"serial": new.serial, "status": "valid",
                                         "verification_url": services.verification_url(new.verification_code)}
        assert services.public_view(new)["superseded_by"] is None
        assert [c.serial for c in services.certificates_of(user(people.trainee.id))] == [new.serial, old_serial]
        superseded = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "certificate.superseded")).all()
        assert [e.data["by"] for e in superseded] == [new.serial]
        # no reminder for the superseded one, and the new one is far from expiry
        assert maintenance.run(now=at(old_until - timedelta(days=7))).reminders == 0


def test_renewal_needs_sessions_led_while_the_certificate_was_valid(app, people, tree):
    cert_id = certify(app, people, days_ago=700)
    with app.app_context():
        valid_from = cert_of(cert_id).valid_from
        db.session.execute(update(PracticumEntry).values(session_date=valid_from - timedelta(days=5)))
        db.session.commit()
    log_led_sessions(app, people.trainee.id, people.supervisor.id, 6, on=valid_from - timedelta(days=1))
    with app.app_context():
        item = {r.key: r for r in eligibility.evaluate(user(people.trainee.id)).requirements}["practicum:led"]
        assert not item.met and item.progress.startswith("0 of 6")


def test_before_the_window_a_valid_certificate_blocks_a_new_request(app, people, tree):
    cert_id = certify(app, people, days_ago=10)
    with app.app_context():
        opens = cert_of(cert_id).valid_until - timedelta(days=90)
        state = eligibility.evaluate(user(people.trainee.id))
        assert state.path is RequestPath.INITIAL and not state.may_request
        assert f"Renewal opens on {eligibility.long_date(opens)}." in state.blockers[0]
        assert eligibility.evaluate(user(people.trainee.id), today=opens).path is RequestPath.RENEWAL


def test_after_the_grace_period_the_full_path_applies_again(app, people, tree):
    cert_id = certify(app, people, days_ago=850)  # expired about 120 days ago: beyond the 90 days of grace
    with app.app_context():
        cert = cert_of(cert_id)
        # the practicum done for the first certificate happened before it lapsed
        db.session.execute(update(PracticumEntry).values(session_date=cert.valid_from - timedelta(days=5)))
        db.session.commit()
        state = eligibility.evaluate(user(people.trainee.id))
        assert state.path is RequestPath.LAPSED and state.renews_serial == cert.serial
        keys = {r.key: r for r in state.requirements}
        assert list(keys) == ["course:alpha", "practicum:observed", "practicum:co_facilitated",
                              "practicum:led_observed", "practicum:crisis_roleplay", "code_of_conduct"]
        assert keys["course:alpha"].met and keys["code_of_conduct"].met
        since = eligibility.long_date(cert.valid_until + timedelta(days=1))
        assert all(not keys[k].met and f"since {since}" in keys[k].progress
                   for k in keys if k.startswith("practicum:"))
        assert not state.may_request
        # on the last day of grace, the short path still held
        closes = cert.valid_until + timedelta(days=90)
        assert eligibility.evaluate(user(people.trainee.id), today=closes).path is RequestPath.RENEWAL
        assert eligibility.evaluate(user(people.trainee.id),
                                    today=closes + timedelta(days=1)).path is RequestPath.LAPSED


def test_a_request_after_a_lapse_supersedes_the_expired_certificate(app, people, tree):
    cert_id = certify(app, people, days_ago=850)
    from tests.certification_support import log_and_confirm_practicum

    log_and_confirm_practicum(app, people.trainee.id, people.supervisor.id)  # a new practicum, dated this week
    with app.app_context():
        state = eligibility.evaluate(user(people.trainee.id))
        assert state.path is RequestPath.LAPSED and state.eligible
        req = services.request_certification(user(people.trainee.id))
        services.approve_request(req, approver=user(people.supervisor.id))
        new = services.issue_certificate(req, issuer=user(people.admin.id))
        db.session.commit()
        assert new.valid_until == services.add_months(utcnow().date(), 24) - timedelta(days=1)
        assert cert_of(cert_id).state is CertificateState.SUPERSEDED
        assert db.session.get(CertificationRequest, req.id).status is RequestStatus.ISSUED


def test_sessions_led_alone_are_logged_only_once_certified(app, people, tree):
    from lms.errors import ValidationFailed

    with app.app_context():
        with pytest.raises(ValidationFailed) as caught:
            services.log_practicum(user(people.trainee.id), kind=PracticumKind.LED, session_date=utcnow().date(),
                                   group_name="Wednesday online group", reflection=REFLECTION)
        assert list(caught.value.errors) == ["kind"]


def test_lead_status_follows_the_certificate_and_lapses_are_signalled(app, people, tree):
    from lms.certification.signals import certificate_lapsed

    with app.app_context():
        status = eligibility.lead_status(user(people.trainee.id))
        assert not status.may_lead and status.reasons == (
            "Not certified yet: the certification checklist shows what is missing.",)
    cert_id = certify(app, people, days_ago=1)
    heard: list[tuple[int, str]] = []

    def listener(cert, **kw):
        heard.append((cert.id, kw["reason"]))

    certificate_lapsed.connect(listener)
    try:
        with app.app_context():
            cert = cert_of(cert_id)
            status = eligibility.lead_status(user(people.trainee.id))
            assert status.may_lead and status.certificate == cert and status.reasons == ()
            after = cert.valid_until + timedelta(days=1)
            expired = eligibility.lead_status(user(people.trainee.id), today=after)
            assert not expired.may_lead and "expired after" in expired.reasons[0]
            maintenance.expire_certificates(now=at(after))
            services.revoke_certificate(cert, actor=user(people.admin.id), reason="Breach of the code of conduct.")
            db.session.commit()
            revoked = eligibility.lead_status(user(people.trainee.id))
            assert not revoked.may_lead and revoked.reasons[0].startswith(f"Certificate {cert.serial} was revoked on")
    finally:
        certificate_lapsed.disconnect(listener)
    assert heard == [(cert_id, "expired"), (cert_id, "revoked")]


def test_the_bulk_lead_check_agrees_with_lead_status(app, people, tree):
    cert_id = certify(app, people, days_ago=1)
    with app.app_context():
        everyone = [user(i) for i in (people.trainee.id, people.other_trainee.id, people.supervisor.id)]
        last = cert_of(cert_id).valid_until
        for day in (utcnow().date(), last, last + timedelta(days=1)):
            bulk = eligibility.lead_certificates(everyone, today=day)
            assert {u.id for u in everyone if eligibility.lead_status(u, today=day).may_lead} == set(bulk)
        assert eligibility.lead_certificates(everyone)[people.trainee.id].id == cert_id
        services.revoke_certificate(cert_of(cert_id), actor=user(people.admin.id), reason="Left the program for good.")
        assert eligibility.lead_certificates(everyone) == {}
