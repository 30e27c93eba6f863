"""Periodic certification work for `lms run-maintenance`: note certificates that have expired (audit trail, the
holder and supervisor told) and send the reminders before expiry. Whether a certificate has expired is computed
from the date everywhere; this only records and announces it.

Each notice goes out once: a `certificate_notices` row is inserted first, in a savepoint, and its unique key
(certificate, kind) refuses a second one, whether from a second run or from another host at the same moment; the
e-mails are queued on the same transaction and leave only when it commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from lms import audit, mail
from lms.certification import signals
from lms.certification.eligibility import current_program, renewal_window
from lms.certification.models import Certificate, CertificateNotice, CertificateState
from lms.dates import long_date
from lms.db import db, utcnow
from lms.urls import external_url


@dataclass(frozen=True)
class MaintenanceResult:
    expired: int
    reminders: int

    def summary(self) -> str:
        return (f"Noted {self.expired} certificate(s) that expired; sent {self.reminders} expiry reminder(s).")


def _claim(cert: Certificate, kind: str, now: datetime) -> bool:
    """Record that the notice `kind` of `cert` goes out now; False if it already went (or is going) elsewhere."""
    try:
        with db.session.begin_nested():
            db.session.add(CertificateNotice(certificate_id=cert.id, kind=kind, sent_at=now))
    except IntegrityError:
        return False
    return True


def _not_sent(kind: str):
    return ~exists().where(CertificateNotice.certificate_id == Certificate.id, CertificateNotice.kind == kind)


def _tell(cert: Certificate, subject: str, template: str, **context) -> None:
    holder = cert.user
    context |= {"cert": cert, "verify": external_url("certification.verify_code", code=cert.verification_code),
                "renew": external_url("certification.status")}
    mail.send(holder.email, subject, template, person=holder, holder=holder, own=True, **context)
    supervisor = holder.supervisor
    if supervisor is not None and supervisor.active:
        mail.send(supervisor.email, f"{subject}: {holder.display_name}", template, person=supervisor, holder=holder,
                  own=False, **context)


def expire_certificates(*, now: datetime | None = None) -> int:
    """Note each active certificate whose last valid day has passed: once in the audit trail, once by e-mail."""
    now = now or utcnow()
    today = now.date()
    program = current_program()
    due = db.session.scalars(select(Certificate).where(
        Certificate.state == CertificateState.ACTIVE, Certificate.valid_until < today, _not_sent("expired"))
        .order_by(Certificate.id))
    count = 0
    for cert in due:
        if not _claim(cert, "expired", now):
            continue
        audit.record(None, "certificate.expired", cert, serial=cert.serial, valid_until=cert.valid_until.isoformat())
        signals.certificate_lapsed.send(cert, reason="expired", actor=None, now=now)
        closes = renewal_window(program.rules, cert)[1] if program is not None else None
        _tell(cert, "Your facilitator certificate has expired", "certificate_expired",
              grace_until=long_date(closes) if closes and closes >= today else None)
        count += 1
    return count


def send_reminders(*, now: datetime | None = None) -> int:
    """The reminders of the program file (`reminder_days`, e.g. 60, 30 and 7 days before expiry), each once. A
    run that finds a certificate inside several thresholds sends only the nearest: nobody gets a "60 days left"
    letter with a week to go."""
    now = now or utcnow()
    today = now.date()
    program = current_program()
    days = sorted({int(d) for d in (program.rules.get("reminder_days") or []) if int(d) >= 0}) if program else []
    if not days:
        return 0
    candidates = list(db.session.scalars(select(Certificate).where(
        Certificate.state == CertificateState.ACTIVE, Certificate.valid_until >= today,
        Certificate.valid_until <= today + timedelta(days=days[-1])).order_by(Certificate.id)))
    sent = {(cid, kind) for cid, kind in db.session.execute(select(
        CertificateNotice.certificate_id, CertificateNotice.kind).where(
        CertificateNotice.certificate_id.in_([c.id for c in candidates])))}
    count = 0
    for cert in candidates:
        left = (cert.valid_until - today).days
        nearest = next(d for d in days if left <= d)
        kind = f"reminder-{nearest}"
        if (cert.id, kind) in sent or not _claim(cert, kind, now):
            continue
        opens, _closes = renewal_window(program.rules, cert)
        _tell(cert, f"Your facilitator certificate expires in {left} day{'s' if left != 1 else ''}",
              "certificate_reminder", days_left=left, renewal_opens=long_date(opens) if opens > today else None)
        audit.record(None, "certificate.reminded", cert, serial=cert.serial, days_left=left, threshold=nearest)
        count += 1
    return count


def run(*, now: datetime | None = None) -> MaintenanceResult:
    now = now or utcnow()
    return MaintenanceResult(expired=expire_certificates(now=now), reminders=send_reminders(now=now))
