"""Where forwarding the learning record to a Learning Record Store has got to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db import Base, utcnow


class LrsCursor(Base):
    """One row per LRS address: every learning event up to `last_event_id` has been acknowledged by it.

    Keyed by the address so that pointing the site at a new LRS sends it the whole record from the start,
    and pointing it back resumes where the old one stopped."""

    __tablename__ = "lrs_cursors"

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(500), unique=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    delivered: Mapped[int] = mapped_column(default=0)  # statements acknowledged, all time
    failures: Mapped[int] = mapped_column(default=0)  # in a row; 0 after a success
    last_error: Mapped[str | None] = mapped_column(Text)
    next_try_at: Mapped[datetime | None]  # set after a failure: wait until then (exponential backoff)
    lease_until: Mapped[datetime | None]  # a forwarder is at work until then; others leave the row alone
    last_success_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
