"""The certification steps, one function per verb: accept the code of conduct, log and review practicum sessions,
request, withdraw, approve and reject certification, issue and revoke certificates. Each takes the acting user
explicitly, checks the allowed transition, writes the audit trail, queues its e-mail and flushes; the caller
commits. Also the reads that pages, API and CLI share: who may see what, verification by code, the registry."""

from __future__ import annotations

import calendar
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.exc import IntegrityError

from lms import audit, mail
from lms.accounts import services as accounts
from lms.accounts.models import Role, User
from lms.certification import eligibility, signals
from lms.certification import pdf as rendering
from lms.certification.eligibility import current_program
from lms.certification.models import (
    CERTIFICATE_TRANSITIONS,
    ENTRY_TRANSITIONS,
    REQUEST_TRANSITIONS,
    Certificate,
    CertificateState,
    CertificateStatus,
    CertificationRequest,
    ConductAcknowledgement,
    EntryStatus,
    PracticumEntry,
    PracticumKind,
    RequestStatus,
    check_transition,
)
from lms.dates import long_date
from lms.db import db, lock_row, utcnow
from lms.errors import Conflict, Gone, NotFound, PermissionDenied, ValidationFailed
from lms.learning.models import CodeOfConductVersion, LearningEvent, ProgramVersion, Verb
from lms.records import reports
from lms.urls import external_url

log = logging.getLogger(__name__)

REFLECTION_MAX = 2000
GROUP_NAME_MAX = 120
REASON_MIN = 10
REASON_MAX = 2000
PRACTICUM_HISTORY_DAYS = 730  # a session logged must have happened in the last two years
# secrets.token_urlsafe(24): 24 random bytes (192 bits), 32 URL-safe characters.
CODE_BYTES = 24
CODE_PATTERN = re.compile(r"[A-Za-z0-9_-]{32}")


# ---------------------------------------------------------------- helpers


def is_reviewer_of(viewer: User, trainee: User) -> bool:
    """The trainee's own supervisor, or an administrator; never the trainee themselves."""
    if viewer.id == trainee.id or not viewer.active:
        return False
    return viewer.role is Role.ADMIN or (viewer.role is Role.SUPERVISOR and trainee.supervisor_id == viewer.id)


def _require_reviewer(viewer: User, trainee: User, what: str) -> None:
    if viewer.id == trainee.id:
        raise PermissionDenied(f"Nobody can {what} for themselves.")
    if not is_reviewer_of(viewer, trainee):
        raise PermissionDenied(f"Only {trainee.display_name}'s supervisor or an administrator can {what}.")


def _reviewers_of(trainee: User) -> list[User]:
    """Who is told when the trainee asks for a review: their supervisor, or every administrator if they have none."""
    if trainee.supervisor is not None and trainee.supervisor.active:
        return [trainee.supervisor]
    return accounts.active_admins()


def _clean_text(value: str | None) -> str:
    return (value or "").replace("\r\n", "\n").strip()


def add_months(day: date, months: int) -> date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------- code of conduct


def current_code() -> CodeOfConductVersion | None:
    return db.session.scalar(select(CodeOfConductVersion).where(CodeOfConductVersion.current.is_(True)))


def acknowledged_at(user: User, code: CodeOfConductVersion | None) -> datetime | None:
    """When `user` accepted this version of the code, if they did."""
    if code is None:
        return None
    return db.session.scalar(select(ConductAcknowledgement.acknowledged_at).where(
        ConductAcknowledgement.user_id == user.id, ConductAcknowledgement.code_version_id == code.id))


def acknowledge_code(user: User, *, version: str | None = None) -> tuple[ConductAcknowledgement, bool]:
    """Accept the code of conduct in force. `version`, when given, must be the one in force (the page the person
    read may be stale). Idempotent: accepting again returns the first acceptance and False."""
    code = current_code()
    if code is None:
        raise NotFound("No code of conduct is loaded.")
    if version is not None and version != code.version:
        raise Conflict(f"Version {version} is not the code of conduct in force; please read version {code.version}.")
    existing = db.session.scalar(select(ConductAcknowledgement).where(
        ConductAcknowledgement.user_id == user.id, ConductAcknowledgement.code_version_id == code.id))
    if existing is not None:
        return existing, False
    ack = ConductAcknowledgement(user_id=user.id, code_version_id=code.id)
    try:
        with db.session.begin_nested():
            db.session.add(ack)
    except IntegrityError:
        found = db.session.scalar(select(ConductAcknowledgement).where(
            ConductAcknowledgement.user_id == user.id, ConductAcknowledgement.code_version_id == code.id))
        assert found is not None
        return found, False
    db.session.add(LearningEvent(user_id=user.id, verb=Verb.ACKNOWLEDGED, object_type="code_of_conduct",
                                 object_id=code.version, object_title=code.title, content_version=code.digest,
                                 occurred_at=ack.acknowledged_at))
    audit.record(user, "code_of_conduct.acknowledged", user, version=code.version)
    return ack, True


# ---------------------------------------------------------------- practicum


@dataclass(frozen=True)
class Rubric:
    criteria: tuple[dict[str, str], ...]  # id, title, description
    low: int
    high: int
    pass_score: int

    @property
    def scale(self) -> range:
        return range(self.low, self.high + 1)


def rubric(program: ProgramVersion | None = None) -> Rubric:
    program = program or current_program()
    if program is None:
        return Rubric(criteria=(), low=1, high=4, pass_score=3)
    rules = program.rules
    low, high = rules.get("rubric_scale") or (1, 4)
    return Rubric(criteria=tuple(rules.get("rubric") or ()), low=int(low), high=int(high),
                  pass_score=int(rules.get("rubric_pass_score") or high))


def log_practicum(user: User, *, kind: PracticumKind | str, session_date: date | None, group_name: str,
                  reflection: str, today: date | None = None, source: str = "trainee",
                  actor: User | None = None) -> PracticumEntry:
    """A trainee records a session they observed, co-facilitated or led, or a crisis role-play. `actor` is who
    made the entry when it was not the trainee (a group's lead recording a session: `source="group"`)."""
    if user.role is not Role.TRAINEE:
        raise PermissionDenied("Only trainee facilitators keep a practicum log.")
    today = today or utcnow().date()
    errors: dict[str, list[str]] = {}
    try:
        kind = PracticumKind(kind)
    except ValueError:
        errors["kind"] = [f"must be one of {', '.join(k.value for k in PracticumKind)}"]
    if session_date is None:
        errors["session_date"] = ["give the date of the session"]
    elif session_date > today:
        errors["session_date"] = ["a session in the future cannot be logged yet"]
    elif session_date < today - timedelta(days=PRACTICUM_HISTORY_DAYS):
        errors["session_date"] = ["sessions more than two years old do not count"]
    group_name = " ".join((group_name or "").split())
    if not group_name:
        errors["group_name"] = ["name the group or session"]
    elif len(group_name) > GROUP_NAME_MAX:
        errors["group_name"] = [f"at most {GROUP_NAME_MAX} characters"]
    reflection = _clean_text(reflection)
    if len(reflection) < 20:
        errors["reflection"] = ["write a short reflection (at least 20 characters)"]
    elif len(reflection) > REFLECTION_MAX:
        errors["reflection"] = [f"at most {REFLECTION_MAX} characters"]
    if errors:
        raise ValidationFailed("The practicum entry is not complete: " + ", ".join(sorted(errors)) + ".",
                               errors=errors)
    if kind is PracticumKind.LED and eligibility.latest_certificate(user) is None:
        errors["kind"] = ["sessions led on your own count once you are certified; until then, log a session led "
                          "while your supervisor observes"]
    if errors:
        raise ValidationFailed("The practicum entry is not complete: " + ", ".join(sorted(errors)) + ".",
                               errors=errors)
    assert isinstance(kind, PracticumKind) and session_date is not None
    entry = PracticumEntry(user_id=user.id, kind=kind, session_date=session_date, group_name=group_name,
                           reflection=reflection, source=source, status=EntryStatus.PENDING)
    db.session.add(entry)
    db.session.flush()
    audit.record(actor or user, "practicum.logged", entry, kind=kind, session_date=session_date.isoformat(),
                 trainee=user.email, source=source)
    for reviewer in _reviewers_of(user):
        mail.send(reviewer.email, f"Practicum entry to review: {user.display_name}", "practicum_logged",
                  reviewer=reviewer, trainee=user, entry=entry,
                  link=external_url("certification.review_entry", entry_id=entry.id))
    return entry


def get_entry(entry_id: int, viewer: User) -> PracticumEntry:
    """The entry, for its trainee, their supervisor or an admin; anyone else gets not-found."""
    entry = db.session.get(PracticumEntry, entry_id)
    if entry is None or not (entry.user_id == viewer.id or is_reviewer_of(viewer, entry.user)):
        raise NotFound("No such practicum entry.")
    return entry


def review_entry(entry: PracticumEntry, *, reviewer: User, confirm: bool, note: str | None = None,
                 scores: dict[str, Any] | None = None, now: datetime | None = None) -> PracticumEntry:
    """Confirm or reject a practicum entry. A led session is confirmed with a score on every rubric criterion;
    it counts toward eligibility only when every score reaches the program's pass score."""
    now = now or utcnow()
    _require_reviewer(reviewer, entry.user, "review this practicum entry")
    lock_row(entry, "status")
    target = EntryStatus.CONFIRMED if confirm else EntryStatus.REJECTED
    check_transition(ENTRY_TRANSITIONS, entry.status, target, "practicum entry", "reviewed again")
    note = _clean_text(note) or None
    errors: dict[str, list[str]] = {}
    clean_scores: dict[str, int] | None = None
    passed: bool | None = None
    if not confirm and not note:
        errors["note"] = ["say why the entry is not confirmed"]
    if note and len(note) > REASON_MAX:
        errors["note"] = [f"at most {REASON_MAX} characters"]
    if confirm and entry.kind.scored:
        r = rubric()
        clean_scores = {}
        given = scores or {}
        for unknown in sorted(set(given) - {c["id"] for c in r.criteria}):
            errors[f"scores.{unknown}"] = ["not a criterion of the rubric"]
        for criterion in r.criteria:
            raw = given.get(criterion["id"])
            try:
                value = int(raw) if raw not in (None, "") and not isinstance(raw, bool) else None
            except (TypeError, ValueError):
                value = None
            if value is None or value not in r.scale or str(raw).strip() != str(value):
                errors[f"scores.{criterion['id']}"] = [f"give a whole score from {r.low} to {r.high}"]
            else:
                clean_scores[criterion["id"]] = value
        passed = not errors and all(v >= r.pass_score for v in clean_scores.values())
    if errors:
        raise ValidationFailed("The review is not complete: " + ", ".join(sorted(errors)) + ".", errors=errors)
    entry.status, entry.reviewer_id, entry.reviewed_at, entry.review_note = target, reviewer.id, now, note
    entry.rubric_scores, entry.rubric_passed = clean_scores, passed
    db.session.flush()
    audit.record(reviewer, f"practicum.{target.value}", entry, trainee=entry.user.email, kind=entry.kind,
                 scores=clean_scores, rubric_passed=passed, note=note)
    mail.send(entry.user.email, f"Your practicum entry was {'confirmed' if confirm else 'not confirmed'}",
              "practicum_reviewed", trainee=entry.user, entry=entry, reviewer=reviewer,
              link=external_url("certification.practicum"))
    return entry


def practicum_of(user: User) -> list[PracticumEntry]:
    return list(db.session.scalars(select(PracticumEntry).where(PracticumEntry.user_id == user.id)
                                   .order_by(PracticumEntry.session_date.desc(), PracticumEntry.id.desc())))


def entries_to_review(reviewer: User) -> Select:
    """Pending practicum entries of the reviewer's trainees (all of them for an admin), oldest first."""
    stmt = (select(PracticumEntry).join(User, PracticumEntry.user_id == User.id)
            .where(PracticumEntry.status == EntryStatus.PENDING, PracticumEntry.user_id != reviewer.id)
            .order_by(PracticumEntry.created_at, PracticumEntry.id))
    if reviewer.role is not Role.ADMIN:
        stmt = stmt.where(User.supervisor_id == reviewer.id)
    return stmt


# ---------------------------------------------------------------- requests


def request_certification(user: User, *, message: str | None = None, today: date | None = None
                          ) -> CertificationRequest:
    """Ask to be certified. Only when every requirement is met, no request is open and no certificate is valid."""
    if user.role is not Role.TRAINEE:
        raise PermissionDenied("Only trainee facilitators request certification.")
    state = eligibility.evaluate(user, today=today)
    if not state.may_request:
        raise Conflict("You cannot request certification now: " + " ".join(state.blockers),
                       errors={"eligibility": state.blockers})
    message = _clean_text(message) or None
    if message and len(message) > REASON_MAX:
        raise ValidationFailed(f"The message is too long (at most {REASON_MAX} characters).",
                               errors={"message": [f"at most {REASON_MAX} characters"]})
    req = CertificationRequest(user_id=user.id, program_version_id=state.program_id, status=RequestStatus.PENDING,
                               message=message, eligibility=state.as_dict(), path=state.path,
                               renews_id=state.renews_id)
    try:
        with db.session.begin_nested():
            db.session.add(req)
    except IntegrityError:
        raise Conflict("You already have a request open.") from None
    audit.record(user, "certification.requested", req, program=state.program_slug, version=state.program_version,
                 path=state.path, renews=state.renews_serial)
    for reviewer in _reviewers_of(user):
        mail.send(reviewer.email, f"Certification request to review: {user.display_name}", "certification_requested",
                  reviewer=reviewer, trainee=user, req=req,
                  link=external_url("certification.request_detail", request_id=req.id))
    return req


def get_request(request_id: int, viewer: User) -> CertificationRequest:
    """The request, for its trainee, their supervisor or an admin; anyone else gets not-found."""
    req = db.session.get(CertificationRequest, request_id)
    if req is None or not (req.user_id == viewer.id or is_reviewer_of(viewer, req.user)):
        raise NotFound("No such certification request.")
    return req


def withdraw_request(req: CertificationRequest, *, user: User) -> CertificationRequest:
    if req.user_id != user.id:
        raise PermissionDenied("Only the person who asked can withdraw a request.")
    lock_row(req, "status")
    check_transition(REQUEST_TRANSITIONS, req.status, RequestStatus.WITHDRAWN, "request", "withdrawn")
    req.status = RequestStatus.WITHDRAWN
    db.session.flush()
    audit.record(user, "certification.withdrawn", req)
    for reviewer in _reviewers_of(user):
        mail.send(reviewer.email, f"Certification request withdrawn: {user.display_name}", "certification_withdrawn",
                  reviewer=reviewer, trainee=user, req=req)
    return req


def approve_request(req: CertificationRequest, *, approver: User, note: str | None = None,
                    now: datetime | None = None) -> CertificationRequest:
    """The trainee's supervisor or an admin approves. The requirements are checked again: a new code of conduct or
    program version since the request must be met first."""
    now = now or utcnow()
    _require_reviewer(approver, req.user, "approve certification")
    lock_row(req, "status")
    check_transition(REQUEST_TRANSITIONS, req.status, RequestStatus.APPROVED, "request", "approved")
    state = eligibility.evaluate(req.user, today=now.date())
    if not state.eligible:
        unmet = "; ".join(r.title for r in state.unmet) or "no program is loaded"
        raise Conflict(f"{req.user.display_name} no longer meets every requirement: {unmet}.")
    note = _clean_text(note) or None
    req.status, req.decided_by_id, req.decided_at, req.decision_reason = RequestStatus.APPROVED, approver.id, now, note
    db.session.flush()
    audit.record(approver, "certification.approved", req, trainee=req.user.email, note=note)
    mail.send(req.user.email, "Your certification was approved", "certification_approved", trainee=req.user,
              req=req, approver=approver, link=external_url("certification.status"))
    for admin in accounts.active_admins():
        if admin.id not in (req.user_id, approver.id):
            mail.send(admin.email, f"Certificate to issue: {req.user.display_name}", "certification_to_issue",
                      admin=admin, trainee=req.user, approver=approver,
                      link=external_url("certification.request_detail", request_id=req.id))
    return req


def reject_request(req: CertificationRequest, *, approver: User, reason: str,
                   now: datetime | None = None) -> CertificationRequest:
    """Not approved, with a written reason the trainee reads. They can request again later."""
    now = now or utcnow()
    _require_reviewer(approver, req.user, "decide on certification")
    reason = _clean_text(reason)
    if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
        raise ValidationFailed(f"Give the trainee a reason of {REASON_MIN} to {REASON_MAX} characters.",
                               errors={"reason": [f"{REASON_MIN} to {REASON_MAX} characters"]})
    lock_row(req, "status")
    check_transition(REQUEST_TRANSITIONS, req.status, RequestStatus.REJECTED, "request", "rejected")
    req.status, req.decided_by_id, req.decided_at = RequestStatus.REJECTED, approver.id, now
    req.decision_reason = reason
    db.session.flush()
    audit.record(approver, "certification.rejected", req, trainee=req.user.email, reason=reason)
    mail.send(req.user.email, "Your certification request was not approved", "certification_rejected",
              trainee=req.user, req=req, approver=approver, link=external_url("certification.status"))
    return req


def requests_for(viewer: User, *, status: RequestStatus | None = None) -> Select:
    """Requests the viewer may review (their trainees'; every one for an admin), oldest open first."""
    stmt = select(CertificationRequest).join(User, CertificationRequest.user_id == User.id)
    if viewer.role is Role.SUPERVISOR:
        stmt = stmt.where(User.supervisor_id == viewer.id)
    elif viewer.role is not Role.ADMIN:
        stmt = stmt.where(CertificationRequest.user_id == viewer.id)
    if status is not None:
        stmt = stmt.where(CertificationRequest.status == status)
    return stmt.order_by(CertificationRequest.requested_at, CertificationRequest.id)


def requests_of(user: User) -> list[CertificationRequest]:
    return list(db.session.scalars(select(CertificationRequest).where(CertificationRequest.user_id == user.id)
                                   .order_by(CertificationRequest.requested_at.desc(), CertificationRequest.id.desc())))


# ---------------------------------------------------------------- certificates


def new_verification_code() -> str:
    return secrets.token_urlsafe(CODE_BYTES)


def verification_url(code: str) -> str:
    return external_url("certification.verify_code", code=code)


def issue_certificate(req: CertificationRequest, *, issuer: User, now: datetime | None = None) -> Certificate:
    """Issue the certificate of an approved request: snapshot the names and program, render the PDF once and keep
    its bytes and SHA-256. A second issue of the same request meets the unique key and is refused."""
    now = now or utcnow()
    if issuer.role is not Role.ADMIN or not issuer.active:
        raise PermissionDenied("Only an administrator issues certificates.")
    if req.user_id == issuer.id:
        raise PermissionDenied("Nobody can issue their own certificate.")
    lock_row(req, "status")
    if req.status is RequestStatus.ISSUED:
        raise Conflict("A certificate was already issued for this request.")
    check_transition(REQUEST_TRANSITIONS, req.status, RequestStatus.ISSUED, "request", "issued")
    program = req.program_version
    approver = req.decided_by
    assert approver is not None  # an approved request has a decider (a CHECK constraint says so)
    valid_from = now.date()
    months = int(program.rules.get("validity_months") or 24)
    # A renewal before expiry loses no time: the new validity runs on from the old one's last day.
    replaced = list(db.session.scalars(select(Certificate).where(
        Certificate.user_id == req.user_id, Certificate.state == CertificateState.ACTIVE).with_for_update()))
    start = max([valid_from, *(c.valid_until + timedelta(days=1) for c in replaced if c.valid_until >= valid_from)])
    code = new_verification_code()
    cert = Certificate(serial=f"pending-{secrets.token_hex(8)}", verification_code=code, request_id=req.id,
                       user_id=req.user_id, holder_name=req.user.certificate_name, program_slug=program.slug,
                       program_title=program.title, program_version=program.version, issued_at=now,
                       valid_from=valid_from, valid_until=add_months(start, months) - timedelta(days=1),
                       approved_by_id=approver.id, approver_name=approver.display_name, issued_by_id=issuer.id,
                       issuer_name=issuer.display_name, state=CertificateState.ACTIVE, pdf=b"", pdf_sha256="",
                       subject_salt=secrets.token_hex(16))
    try:
        with db.session.begin_nested():
            db.session.add(cert)
    except IntegrityError:
        raise Conflict("A certificate was already issued for this request.") from None
    # The serial counts certificates: the row's id, never reused, so no two issues can draw the same number.
    cert.serial = f"PND-{valid_from.year}-{cert.id:06d}"
    pdf = rendering.render_certificate(rendering.CertificateDocument(
        holder_name=cert.holder_name, credential=cert.program_title, program_version=cert.program_version,
        serial=cert.serial, issued_on=cert.valid_from, valid_until=cert.valid_until, supervisor_name=cert.approver_name,
        issuer_name=cert.issuer_name, verification_url=verification_url(code)))
    cert.pdf, cert.pdf_sha256 = pdf, hashlib.sha256(pdf).hexdigest()
    req.status = RequestStatus.ISSUED
    db.session.flush()
    for old in replaced:  # the holder's earlier certificates now point at this one
        check_transition(CERTIFICATE_TRANSITIONS, old.state, CertificateState.SUPERSEDED, "certificate",
                         "superseded")
        old.state, old.superseded_by_id = CertificateState.SUPERSEDED, cert.id
        audit.record(issuer, "certificate.superseded", old, serial=old.serial, by=cert.serial)
    db.session.flush()
    db.session.add(LearningEvent(user_id=req.user_id, verb=Verb.EARNED, object_type="certificate",
                                 object_id=cert.serial, object_title=cert.program_title,
                                 content_version=cert.program_version, occurred_at=now,
                                 result={"valid_until": cert.valid_until.isoformat()}))
    audit.record(issuer, "certificate.issued", cert, serial=cert.serial, holder=req.user.email,
                 request=req.id, valid_until=cert.valid_until.isoformat(), sha256=cert.pdf_sha256)
    holder = req.user
    mail.send(holder.email, "Your facilitator certificate", "certificate_issued", holder=holder, cert=cert,
              link=external_url("certification.my_certificate"), verify=verification_url(code))
    if holder.supervisor is not None and holder.supervisor.active:
        mail.send(holder.supervisor.email, f"Certificate issued: {holder.display_name}",
                  "certificate_issued_supervisor", supervisor=holder.supervisor, holder=holder, cert=cert,
                  link=external_url("certification.certificate_detail", serial=cert.serial))
    return cert


@dataclass(frozen=True)
class IssueResult:
    request_id: int
    certificate: Certificate | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.certificate is not None


def issue_certificates(request_ids: list[int], *, issuer: User, now: datetime | None = None) -> list[IssueResult]:
    """Issue several at once. Each request stands alone: one that cannot be issued (not approved, the issuer's own,
    already issued) is reported and the others still go ahead."""
    results = []
    for request_id in dict.fromkeys(request_ids):  # each once, in the order given
        req = db.session.get(CertificationRequest, request_id)
        if req is None:
            results.append(IssueResult(request_id, None, "No such request."))
            continue
        try:
            with db.session.begin_nested():
                cert = issue_certificate(req, issuer=issuer, now=now)
            results.append(IssueResult(request_id, cert, None))
        except (Conflict, PermissionDenied) as exc:
            results.append(IssueResult(request_id, None, exc.detail))
        except Exception:  # one certificate that cannot be rendered must not hold up the others
            log.exception("could not issue the certificate of request %s", request_id)
            results.append(IssueResult(request_id, None, "The certificate could not be made; the error is logged."))
    return results


def revoke_certificate(cert: Certificate, *, actor: User, reason: str, now: datetime | None = None) -> Certificate:
    """An administrator withdraws a certificate, with a reason; verification shows it revoked from then on."""
    now = now or utcnow()
    if actor.role is not Role.ADMIN or not actor.active:
        raise PermissionDenied("Only an administrator revokes certificates.")
    reason = _clean_text(reason)
    if len(reason) < REASON_MIN or len(reason) > REASON_MAX:
        raise ValidationFailed(f"Give a reason of {REASON_MIN} to {REASON_MAX} characters; it is kept in the record.",
                               errors={"reason": [f"{REASON_MIN} to {REASON_MAX} characters"]})
    lock_row(cert, "state")
    if cert.state is CertificateState.REVOKED:
        raise Conflict(f"Certificate {cert.serial} is already revoked.")
    check_transition(CERTIFICATE_TRANSITIONS, cert.state, CertificateState.REVOKED, "certificate", "revoked")
    cert.state, cert.revoked_at, cert.revoked_by_id, cert.revocation_reason = (CertificateState.REVOKED, now,
                                                                               actor.id, reason)
    db.session.flush()
    audit.record(actor, "certificate.revoked", cert, serial=cert.serial, holder=cert.user.email, reason=reason)
    signals.certificate_lapsed.send(cert, reason="revoked", actor=actor, now=now)
    holder = cert.user
    mail.send(holder.email, "Your facilitator certificate was revoked", "certificate_revoked", holder=holder,
              cert=cert, link=external_url("certification.status"))
    if holder.supervisor is not None and holder.supervisor.active and holder.supervisor.id != actor.id:
        mail.send(holder.supervisor.email, f"Certificate revoked: {holder.display_name}",
                  "certificate_revoked_supervisor", supervisor=holder.supervisor, holder=holder, cert=cert)
    return cert


def status_of(cert: Certificate, *, today: date | None = None) -> CertificateStatus:
    return cert.status_on(today or utcnow().date())


def get_certificate(serial: str, viewer: User) -> Certificate:
    """The certificate, for its holder, their supervisor or an admin; anyone else gets not-found."""
    cert = db.session.scalar(select(Certificate).where(Certificate.serial == serial))
    if cert is None or not (cert.user_id == viewer.id or is_reviewer_of(viewer, cert.user)):
        raise NotFound("No such certificate.")
    return cert


def certificate_pdf(cert: Certificate, viewer: User | None = None) -> bytes:
    """The bytes rendered at issue, checked against the fingerprint kept with them. A revoked certificate is no
    longer offered to its holder; its supervisor and administrators keep it on record, to compare a copy that
    is still going round."""
    if viewer is not None and viewer.id == cert.user_id and cert.state is CertificateState.REVOKED:
        raise Gone(f"Certificate {cert.serial} was revoked, so its PDF is no longer offered for download. Its "
                   "verification page shows it as revoked.")
    data = db.session.scalar(select(Certificate.pdf).where(Certificate.id == cert.id))
    if data is None or hashlib.sha256(data).hexdigest() != cert.pdf_sha256:
        raise Conflict(f"The stored PDF of {cert.serial} does not match its fingerprint; ask an administrator.")
    return data


def certificates_of(user: User) -> list[Certificate]:
    return list(db.session.scalars(select(Certificate).where(Certificate.user_id == user.id)
                                   .order_by(Certificate.issued_at.desc(), Certificate.id.desc())))


def find_by_code(code: str) -> Certificate | None:
    """The certificate a verification code names. A malformed code is not looked up: it answers like an unknown
    one, so the public cannot tell the two apart."""
    if not isinstance(code, str) or not CODE_PATTERN.fullmatch(code):
        return None
    cert = db.session.scalar(select(Certificate).where(Certificate.verification_code == code))
    # the lookup is by an index; compare again in constant time so the match itself leaks nothing
    if cert is None or not secrets.compare_digest(cert.verification_code, code):
        return None
    return cert


def pdf_matches(cert: Certificate, data: bytes) -> bool:
    """Whether `data` is, byte for byte, the PDF issued for `cert`."""
    return secrets.compare_digest(hashlib.sha256(data).hexdigest(), cert.pdf_sha256)


def registry(viewer: User, *, search: str = "", status: CertificateStatus | None = None,
             today: date | None = None) -> Select:
    """Certificates the viewer may list: a supervisor their trainees', an admin all; searched by holder name or
    serial and filtered by status (expiry is a matter of the date, so it is a condition, not a column)."""
    if viewer.role not in (Role.ADMIN, Role.SUPERVISOR):
        raise PermissionDenied("Only supervisors and administrators see the certificate registry.")
    today = today or utcnow().date()
    stmt = select(Certificate).join(User, Certificate.user_id == User.id)
    if viewer.role is Role.SUPERVISOR:
        stmt = stmt.where(User.supervisor_id == viewer.id)
    search = " ".join(search.split())[:120]
    if search:
        stmt = stmt.where(or_(Certificate.holder_name.icontains(search, autoescape=True),
                              Certificate.serial.icontains(search, autoescape=True),
                              User.display_name.icontains(search, autoescape=True)))
    active = Certificate.state == CertificateState.ACTIVE
    if status is CertificateStatus.VALID:
        stmt = stmt.where(active, Certificate.valid_until >= today)
    elif status is CertificateStatus.EXPIRED:
        stmt = stmt.where(active, Certificate.valid_until < today)
    elif status is CertificateStatus.REVOKED:
        stmt = stmt.where(Certificate.state == CertificateState.REVOKED)
    elif status is CertificateStatus.SUPERSEDED:
        stmt = stmt.where(Certificate.state == CertificateState.SUPERSEDED)
    return stmt.order_by(Certificate.issued_at.desc(), Certificate.id.desc())


EXPIRING_SOON_DAYS = 60  # without a program file's reminder_days


def current_successor(cert: Certificate) -> Certificate | None:
    """The certificate that replaces `cert` now: the end of its chain of renewals (None if not superseded)."""
    successor, seen = cert.superseded_by, {cert.id}
    while successor is not None and successor.superseded_by is not None and successor.id not in seen:
        seen.add(successor.id)
        successor = successor.superseded_by
    return successor


def public_view(cert: Certificate, *, today: date | None = None) -> dict[str, Any]:
    """Everything the public verification page and API may show, and nothing more: no e-mail, scores, groups or
    internal ids. A superseded certificate names its current successor, whose page the holder would show too."""
    today = today or utcnow().date()
    status = status_of(cert, today=today)
    program = current_program()
    soon = max((int(d) for d in (program.rules.get("reminder_days") or []) if program), default=EXPIRING_SOON_DAYS)
    successor = current_successor(cert) if cert.state is CertificateState.SUPERSEDED else None
    return {"status": status.value, "holder_name": cert.holder_name, "credential": cert.program_title,
            "program_version": cert.program_version, "serial": cert.serial,
            "issued_on": cert.valid_from.isoformat(), "valid_from": cert.valid_from.isoformat(),
            "valid_until": cert.valid_until.isoformat(),
            "expiring_soon": status is CertificateStatus.VALID and (cert.valid_until - today).days < soon,
            "revoked_on": cert.revoked_at.date().isoformat() if cert.revoked_at else None,
            "superseded_by": None if successor is None else {
                "serial": successor.serial, "status": status_of(successor, today=today).value,
                "verification_url": verification_url(successor.verification_code)},
            "pdf_sha256": cert.pdf_sha256}


# ---------------------------------------------------------------- the supervisor's dashboard


@reports.register_pending_source
def _pending_practicum(supervisor: User) -> list[reports.PendingReview]:
    rows = db.session.execute(
        select(PracticumEntry.id, PracticumEntry.kind, PracticumEntry.session_date, PracticumEntry.created_at,
               User.id, User.display_name)
        .join(User, PracticumEntry.user_id == User.id)
        .where(User.supervisor_id == supervisor.id, PracticumEntry.status == EntryStatus.PENDING)
        .order_by(PracticumEntry.created_at))
    return [reports.PendingReview(kind="Practicum entry", trainee_id=uid, trainee_name=name,
                                  summary=f"{kind.label}, {long_date(day)}", waiting_since=created,
                                  endpoint="certification.review_entry", args=(("entry_id", entry_id),))
            for entry_id, kind, day, created, uid, name in rows]


@reports.register_pending_source
def _pending_requests(supervisor: User) -> list[reports.PendingReview]:
    rows = db.session.execute(
        select(CertificationRequest.id, CertificationRequest.requested_at, User.id, User.display_name)
        .join(User, CertificationRequest.user_id == User.id)
        .where(User.supervisor_id == supervisor.id, CertificationRequest.status == RequestStatus.PENDING)
        .order_by(CertificationRequest.requested_at))
    return [reports.PendingReview(kind="Certification request", trainee_id=uid, trainee_name=name,
                                  summary="asks to be certified", waiting_since=requested,
                                  endpoint="certification.request_detail", args=(("request_id", request_id),))
            for request_id, requested, uid, name in rows]
