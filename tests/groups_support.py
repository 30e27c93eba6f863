"""Test data for groups: a group meeting on today's weekday at 19:00 UTC, made at 10:00 UTC today (so today's
session has not started yet), through the same services the application uses."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from lms.accounts.models import User
from lms.db import db, utcnow

ZOOM = "https://us02web.zoom.us/j/81234567890?pwd=abc123"
TODAY = utcnow().date()
T0 = datetime.combine(TODAY, time(10), tzinfo=UTC)  # "now" when the group is made


def session_start(day) -> datetime:
    return datetime.combine(day, time(19), tzinfo=UTC)


def after(day, hours: int = 3) -> datetime:
    """A moment `hours` after the session of `day` started."""
    return session_start(day) + timedelta(hours=hours)


def group_fields(**overrides) -> dict:
    fields = dict(name="Tuesday evening group", description="Weekly online community session.",
                  weekday=TODAY.weekday(), start_time="19:00", duration_minutes=90, timezone="UTC",
                  meeting_url=ZOOM, capacity=12)
    return fields | overrides


def make_group(app, admin_id: int, *, now: datetime = T0, lead_id: int | None = None,
               co_ids: tuple[int, ...] = (), **overrides) -> int:
    """A group (and its lead and co-facilitators, when given); returns its id."""
    from lms.groups import services

    with app.app_context():
        admin = db.session.get(User, admin_id)
        group = services.create_group(actor=admin, now=now, **group_fields(**overrides))
        if lead_id is not None:
            services.assign_lead(group, db.session.get(User, lead_id), actor=admin, now=now)
        for uid in co_ids:
            services.add_co_facilitator(group, db.session.get(User, uid), actor=admin, now=now)
        db.session.commit()
        return group.id
