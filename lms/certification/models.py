"""Certification records: code-of-conduct acknowledgements, the practicum log, certification requests and the
certificates issued from them. Statuses are enums with explicit transition tables; the database keeps the
invariants that matter (one open request per person, one certificate per request, unique serials and codes)."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lms.accounts.models import User, _enum
from lms.db import Base, utcnow
from lms.errors import Conflict
from lms.learning.models import CodeOfConductVersion, ProgramVersion


def check_transition(table: dict[Any, frozenset[Any]], current: Any, target: Any, what: str, done: str) -> None:
    """Raise a 409 unless `table` allows the move from `current` to `target`; `done` says the move in words
    ("approved", "issued"): "This request is waiting for review, so it cannot be issued." """
    if target not in table.get(current, frozenset()):
        raise Conflict(f"This {what} is {current.label.lower()}, so it cannot be {done}.")


class ConductAcknowledgement(Base):
    """A person read and accepted one version of the code of conduct."""

    __tablename__ = "conduct_acknowledgements"
    __table_args__ = (UniqueConstraint("user_id", "code_version_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_version_id: Mapped[int] = mapped_column(ForeignKey("code_of_conduct_versions.id"))
    acknowledged_at: Mapped[datetime] = mapped_column(default=utcnow)

    code_version: Mapped[CodeOfConductVersion] = relationship()


# ---------------------------------------------------------------- practicum


class PracticumKind(enum.StrEnum):
    OBSERVED = "observed"
    CO_FACILITATED = "co_facilitated"
    LED_OBSERVED = "led_observed"
    CRISIS_ROLEPLAY = "crisis_roleplay"
    LED = "led"  # a certified facilitator led a session: counts toward renewal

    @property
    def label(self) -> str:
        return {"observed": "Observed a session", "co_facilitated": "Co-facilitated a session",
                "led_observed": "Led a session while observed", "crisis_roleplay": "Crisis role-play",
                "led": "Led a session as a certified facilitator"}[self.value]

    @property
    def rule_key(self) -> str:
        """The key of this kind's count in the program file's `practicum` section."""
        return {"observed": "observe", "co_facilitated": "co_facilitate", "led_observed": "lead_observed",
                "crisis_roleplay": "crisis_roleplay", "led": "led"}[self.value]

    @property
    def scored(self) -> bool:
        return self is PracticumKind.LED_OBSERVED


class EntryStatus(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        return {"pending": "Waiting for review", "confirmed": "Confirmed", "rejected": "Not confirmed"}[self.value]


ENTRY_TRANSITIONS: dict[EntryStatus, frozenset[EntryStatus]] = {
    EntryStatus.PENDING: frozenset({EntryStatus.CONFIRMED, EntryStatus.REJECTED}),
    EntryStatus.CONFIRMED: frozenset(),
    EntryStatus.REJECTED: frozenset(),
}


class PracticumEntry(Base):
    """One practicum session as the trainee logged it, and the supervisor's review of it. No participant names
    are asked for or kept: the group, the date, the trainee's role and their own reflection."""

    __tablename__ = "practicum_entries"
    __table_args__ = (
        Index("ix_practicum_entries_user_id_status", "user_id", "status"),
        CheckConstraint("reviewer_id IS NULL OR reviewer_id <> user_id", name="not_own_review"),
        CheckConstraint("status = 'pending' OR (reviewer_id IS NOT NULL AND reviewed_at IS NOT NULL)",
                        name="reviewed_has_reviewer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[PracticumKind] = mapped_column(_enum(PracticumKind, "practicum_kind"))
    session_date: Mapped[date] = mapped_column(Date)
    group_name: Mapped[str] = mapped_column(String(120))
    reflection: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(20), default="trainee")  # trainee, or group (issue: groups)
    status: Mapped[EntryStatus] = mapped_column(_enum(EntryStatus, "entry_status"), default=EntryStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_note: Mapped[str | None] = mapped_column(Text)
    rubric_scores: Mapped[dict[str, int] | None] = mapped_column(JSON)  # criterion id -> score, led sessions
    rubric_passed: Mapped[bool | None]

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])

    @property
    def counts(self) -> bool:
        """Whether the entry counts toward eligibility: confirmed, and for a led session, passed on the rubric."""
        if self.status is not EntryStatus.CONFIRMED:
            return False
        return bool(self.rubric_passed) if self.kind.scored else True


# ---------------------------------------------------------------- requests


class RequestPath(enum.StrEnum):
    """Which rules a request was made under: the first certification, the short renewal path (inside the window
    around expiry), or the full path again (a certificate that lapsed beyond the grace period)."""

    INITIAL = "initial"
    RENEWAL = "renewal"
    LAPSED = "lapsed"

    @property
    def label(self) -> str:
        return {"initial": "Certification", "renewal": "Renewal", "lapsed": "Certification after a lapse"}[
            self.value]


class RequestStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    ISSUED = "issued"

    @property
    def label(self) -> str:
        return {"pending": "Waiting for review", "approved": "Approved", "rejected": "Not approved",
                "withdrawn": "Withdrawn", "issued": "Certificate issued"}[self.value]

    @property
    def open(self) -> bool:
        return self in OPEN_REQUEST_STATUSES


OPEN_REQUEST_STATUSES = frozenset({RequestStatus.PENDING, RequestStatus.APPROVED})

REQUEST_TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    RequestStatus.PENDING: frozenset({RequestStatus.APPROVED, RequestStatus.REJECTED, RequestStatus.WITHDRAWN}),
    RequestStatus.APPROVED: frozenset({RequestStatus.ISSUED}),
    RequestStatus.REJECTED: frozenset(),
    RequestStatus.WITHDRAWN: frozenset(),
    RequestStatus.ISSUED: frozenset(),
}


class CertificationRequest(Base):
    """A trainee asks to be certified; a supervisor or admin decides; an admin issues from an approval."""

    __tablename__ = "certification_requests"
    __table_args__ = (
        # One open request per person: two simultaneous requests give one.
        Index("uq_certification_requests_one_open", "user_id", unique=True,
              sqlite_where=text("status IN ('pending', 'approved')"),
              postgresql_where=text("status IN ('pending', 'approved')")),
        Index("ix_certification_requests_status", "status"),
        CheckConstraint("decided_by_id IS NULL OR decided_by_id <> user_id", name="not_own_decision"),
        CheckConstraint("status NOT IN ('approved', 'rejected', 'issued') OR decided_by_id IS NOT NULL",
                        name="decided_has_decider"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    program_version_id: Mapped[int] = mapped_column(ForeignKey("program_versions.id"))
    status: Mapped[RequestStatus] = mapped_column(_enum(RequestStatus, "request_status"),
                                                  default=RequestStatus.PENDING)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    message: Mapped[str | None] = mapped_column(Text)  # the trainee's note to the reviewer
    eligibility: Mapped[dict[str, Any]] = mapped_column(JSON)  # the checklist as it stood when requested
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)
    path: Mapped[RequestPath] = mapped_column(_enum(RequestPath, "request_path"), default=RequestPath.INITIAL,
                                              server_default=RequestPath.INITIAL.value)
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id", use_alter=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    renews: Mapped[Certificate | None] = relationship(foreign_keys=[renews_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    program_version: Mapped[ProgramVersion] = relationship()
    certificate: Mapped[Certificate | None] = relationship(back_populates="request", uselist=False,
                                                           foreign_keys="Certificate.request_id")


# ---------------------------------------------------------------- certificates


class CertificateState(enum.StrEnum):
    """What was done to a certificate. Whether it has expired is a matter of the date: see `status_on`."""

    ACTIVE = "active"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"

    @property
    def label(self) -> str:
        return {"active": "Active", "revoked": "Revoked", "superseded": "Superseded"}[self.value]


CERTIFICATE_TRANSITIONS: dict[CertificateState, frozenset[CertificateState]] = {
    CertificateState.ACTIVE: frozenset({CertificateState.REVOKED, CertificateState.SUPERSEDED}),
    CertificateState.SUPERSEDED: frozenset({CertificateState.REVOKED}),
    CertificateState.REVOKED: frozenset(),
}


class CertificateStatus(enum.StrEnum):
    """What the public sees: the state, with expiry applied on the day asked about."""

    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SUPERSEDED = "superseded"

    @property
    def label(self) -> str:
        return {"valid": "Valid", "expired": "Expired", "revoked": "Revoked", "superseded": "Superseded"}[self.value]


class Certificate(Base):
    """An issued certificate: a snapshot of who, what and by whom at the moment of issue, the PDF rendered then
    (every download returns these bytes) and its SHA-256. One per request, enforced by a unique key."""

    __tablename__ = "certificates"
    __table_args__ = (
        UniqueConstraint("request_id", name="uq_certificates_request_id"),
        CheckConstraint("issued_by_id <> user_id", name="not_own_issue"),
        CheckConstraint("state <> 'revoked' OR (revoked_at IS NOT NULL AND revocation_reason IS NOT NULL)",
                        name="revoked_has_reason"),
        Index("ix_certificates_user_id_issued_at", "user_id", "issued_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(32), unique=True)
    verification_code: Mapped[str] = mapped_column(String(64), unique=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("certification_requests.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    holder_name: Mapped[str] = mapped_column(String(120))
    program_slug: Mapped[str] = mapped_column(String(80))
    program_title: Mapped[str] = mapped_column(String(200))
    program_version: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)  # the last day on which it is valid
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approver_name: Mapped[str] = mapped_column(String(120))
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    issuer_name: Mapped[str] = mapped_column(String(120))
    state: Mapped[CertificateState] = mapped_column(_enum(CertificateState, "certificate_state"),
                                                    default=CertificateState.ACTIVE)
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revocation_reason: Mapped[str | None] = mapped_column(Text)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary))
    # Open Badges: the holder is identified by sha256(e-mail + salt), never the e-mail itself
    subject_salt: Mapped[str | None] = mapped_column(String(64))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    request: Mapped[CertificationRequest] = relationship(back_populates="certificate",
                                                         foreign_keys=[request_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])
    superseded_by: Mapped[Certificate | None] = relationship(remote_side=[id], foreign_keys=[superseded_by_id])

    def status_on(self, day: date) -> CertificateStatus:
        if self.state is CertificateState.REVOKED:
            return CertificateStatus.REVOKED
        if self.state is CertificateState.SUPERSEDED:
            return CertificateStatus.SUPERSEDED
        return CertificateStatus.EXPIRED if day > self.valid_until else CertificateStatus.VALID


class CertificateNotice(Base):
    """A notice about a certificate that must go out once: a reminder so many days before expiry
    (`reminder-60`), or the expiry itself (`expired`). The unique key makes "once" hold when maintenance runs
    twice, or on two hosts at the same moment: the second insert fails and sends nothing."""

    __tablename__ = "certificate_notices"
    __table_args__ = (UniqueConstraint("certificate_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    kind: Mapped[str] = mapped_column(String(32))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
