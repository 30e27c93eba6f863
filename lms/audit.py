"""The append-only audit trail: `record(actor, action, subject, **data)` for every state change.

Rows are never updated or deleted: the ORM refuses, and a database trigger (see the migrations) refuses too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.db import Base, db, utcnow


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_occurred_at", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Who acted, as they were called at the time ("system" for maintenance and CLI work without a user).
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(40))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    subject_label: Mapped[str | None] = mapped_column(String(254))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    actor = relationship("User", foreign_keys=[actor_id])


class AuditImmutableError(RuntimeError):
    pass


@event.listens_for(AuditEvent, "before_update")
def _no_update(*_: Any) -> None:
    raise AuditImmutableError("audit events are append-only")


@event.listens_for(AuditEvent, "before_delete")
def _no_delete(*_: Any) -> None:
    raise AuditImmutableError("audit events are append-only")


def _describe(subject: Any) -> tuple[str | None, str | None, str | None]:
    if subject is None:
        return None, None, None
    subject_type = getattr(subject, "__tablename__", type(subject).__name__.lower())
    subject_id = getattr(subject, "id", None)
    label = getattr(subject, "email", None) or getattr(subject, "name", None) or getattr(subject, "title", None)
    return subject_type, None if subject_id is None else str(subject_id), label


def record(actor: Any, action: str, subject: Any = None, **data: Any) -> AuditEvent:
    """Append one entry. `actor` is a User or None (the system). Call inside the service's transaction."""
    if subject is not None and getattr(subject, "id", 0) is None:
        db.session.flush()  # give a new subject its id
    subject_type, subject_id, subject_label = _describe(subject)
    entry = AuditEvent(
        actor_id=getattr(actor, "id", None),
        actor_label=getattr(actor, "email", None) or "system",
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        subject_label=subject_label,
        data={k: _jsonable(v) for k, v in data.items()},
    )
    db.session.add(entry)
    db.session.flush()
    return entry


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value  # enums
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def query_events(*, action: str | None = None, actor_id: int | None = None,
                 subject_type: str | None = None, subject_id: str | None = None):
    """A select() of events, newest first, narrowed by whichever filters are given."""
    stmt = select(AuditEvent).order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor_id:
        stmt = stmt.where(AuditEvent.actor_id == actor_id)
    if subject_type:
        stmt = stmt.where(AuditEvent.subject_type == subject_type)
    if subject_id:
        stmt = stmt.where(AuditEvent.subject_id == subject_id)
    return stmt
