"""Groups and their sessions. A group meets weekly (weekday, local start time, duration, IANA time zone); one
lead facilitator and any number of co-facilitators are its members; sessions are materialised rows, one per
group and local date, carrying the lead of record and, once held, what the lead recorded. The database keeps
the invariants: one membership per person and group, one lead per group, one session per group and date, and
a held session always has a lead, a recorder and an attendance count. No participant names anywhere."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lms.accounts.models import User, _enum
from lms.db import Base, utcnow
from lms.groups import schedule as schedule_mod


class GroupStatus(enum.StrEnum):
    ACTIVE = "active"  # meets every week
    PAUSED = "paused"  # not meeting for now; may resume
    CLOSED = "closed"  # for good; its records stay

    @property
    def label(self) -> str:
        return {"active": "Active", "paused": "Paused", "closed": "Closed"}[self.value]


GROUP_TRANSITIONS: dict[GroupStatus, frozenset[GroupStatus]] = {
    GroupStatus.ACTIVE: frozenset({GroupStatus.PAUSED, GroupStatus.CLOSED}),
    GroupStatus.PAUSED: frozenset({GroupStatus.ACTIVE, GroupStatus.CLOSED}),
    GroupStatus.CLOSED: frozenset(),
}


class Group(Base):
    """A PND community-session group meeting weekly on Zoom."""

    __tablename__ = "groups"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("duration_minutes >= 15 AND duration_minutes <= 240", name="duration_range"),
        CheckConstraint("capacity >= 1 AND capacity <= 300", name="capacity_range"),
        CheckConstraint("meeting_url LIKE 'https://%'", name="meeting_url_https"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    weekday: Mapped[int]  # 0 Monday ... 6 Sunday, in the group's time zone
    start_time: Mapped[time] = mapped_column(Time)  # local wall-clock time
    duration_minutes: Mapped[int]
    timezone: Mapped[str] = mapped_column(String(64))  # an IANA key, e.g. America/New_York
    meeting_url: Mapped[str] = mapped_column(String(500))  # for the group's facilitators and admins only
    capacity: Mapped[int]
    status: Mapped[GroupStatus] = mapped_column(_enum(GroupStatus, "group_status"), default=GroupStatus.ACTIVE)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[GroupMember]] = relationship(back_populates="group", order_by="GroupMember.id",
                                                      cascade="all, delete-orphan")

    @property
    def schedule(self) -> schedule_mod.Schedule:
        return schedule_mod.Schedule(weekday=self.weekday, start_time=self.start_time,
                                     duration_minutes=self.duration_minutes, timezone=self.timezone)

    @property
    def lead_member(self) -> GroupMember | None:
        return next((m for m in self.members if m.role is GroupRole.LEAD), None)

    @property
    def lead(self) -> User | None:
        member = self.lead_member
        return member.user if member else None

    @property
    def co_facilitators(self) -> list[User]:
        return [m.user for m in self.members if m.role is GroupRole.CO_FACILITATOR]

    @property
    def needs_lead(self) -> bool:
        """An active group without a lead: computed, so it cannot go stale."""
        return self.status is GroupStatus.ACTIVE and self.lead_member is None

    def role_of(self, user: User | None) -> GroupRole | None:
        if user is None:
            return None
        return next((m.role for m in self.members if m.user_id == user.id), None)


class GroupRole(enum.StrEnum):
    LEAD = "lead"
    CO_FACILITATOR = "co_facilitator"

    @property
    def label(self) -> str:
        return {"lead": "Lead facilitator", "co_facilitator": "Co-facilitator"}[self.value]


class GroupMember(Base):
    """A facilitator's role in a group. One row per person and group; at most one lead per group (a partial
    unique index, so two administrators assigning at once cannot make two)."""

    __tablename__ = "group_members"
    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        Index("uq_group_members_one_lead", "group_id", unique=True,
              sqlite_where=text("role = 'lead'"), postgresql_where=text("role = 'lead'")),
        Index("ix_group_members_user_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    role: Mapped[GroupRole] = mapped_column(_enum(GroupRole, "group_role"))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    group: Mapped[Group] = relationship(back_populates="members")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class SessionStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    HELD = "held"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {"scheduled": "Scheduled", "held": "Held", "cancelled": "Cancelled"}[self.value]


SESSION_TRANSITIONS: dict[SessionStatus, frozenset[SessionStatus]] = {
    SessionStatus.SCHEDULED: frozenset({SessionStatus.HELD, SessionStatus.CANCELLED}),
    SessionStatus.CANCELLED: frozenset({SessionStatus.SCHEDULED}),
    SessionStatus.HELD: frozenset(),
}


class GroupSession(Base):
    """One weekly occurrence of a group, on a local date. `starts_at` is the UTC instant of the local start
    time on that date (it moves with daylight saving; the wall-clock time does not). `lead_id` is the lead of
    record: set from the group's lead while the session is ahead, kept as it was once it has started."""

    __tablename__ = "group_sessions"
    __table_args__ = (
        UniqueConstraint("group_id", "session_date"),
        Index("ix_group_sessions_starts_at", "starts_at"),
        Index("ix_group_sessions_lead_id", "lead_id"),
        CheckConstraint("attendance_count IS NULL OR attendance_count >= 0", name="attendance_non_negative"),
        CheckConstraint("held_minutes IS NULL OR held_minutes > 0", name="held_minutes_positive"),
        CheckConstraint("status <> 'held' OR (lead_id IS NOT NULL AND recorded_by_id IS NOT NULL AND "
                        "recorded_at IS NOT NULL AND attendance_count IS NOT NULL AND held_minutes IS NOT NULL)",
                        name="held_is_recorded"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    session_date: Mapped[date] = mapped_column(Date)  # the local date in the group's time zone
    starts_at: Mapped[datetime]
    duration_minutes: Mapped[int]  # as planned when the row was made
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[SessionStatus] = mapped_column(_enum(SessionStatus, "session_status"),
                                                  default=SessionStatus.SCHEDULED)
    # what the lead recorded: how long it ran, how many took part (a number, never names), a short note
    held_minutes: Mapped[int | None]
    attendance_count: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime | None]
    lead_entry_id: Mapped[int | None] = mapped_column(ForeignKey("practicum_entries.id"))  # the lead's LED entry

    group: Mapped[Group] = relationship()
    lead: Mapped[User | None] = relationship(foreign_keys=[lead_id])
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])
    co_facilitations: Mapped[list[SessionCoFacilitator]] = relationship(
        back_populates="session", order_by="SessionCoFacilitator.id", cascade="all, delete-orphan")

    @property
    def title(self) -> str:
        """For the audit trail: the group and the day."""
        return f"{self.group.name}, {self.session_date.isoformat()}"


class SessionCoFacilitator(Base):
    """A co-facilitator of a held session, as its lead recorded, and the practicum entry it made for them."""

    __tablename__ = "session_co_facilitators"
    __table_args__ = (UniqueConstraint("session_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("group_sessions.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    practicum_entry_id: Mapped[int | None] = mapped_column(ForeignKey("practicum_entries.id"))

    session: Mapped[GroupSession] = relationship(back_populates="co_facilitations")
    user: Mapped[User] = relationship()


class CalendarFeed(Base):
    """A facilitator's calendar subscription: the secret in the address is shown once; only its SHA-256 is kept.
    Rotating replaces the row's hash, so the old address stops working at once."""

    __tablename__ = "calendar_feeds"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
