"""iCalendar (RFC 5545) feeds, pure: events in, the bytes of a VCALENDAR out. Times are UTC (`DTSTART` ending
in `Z`), so no VTIMEZONE is needed and every client shows the session at the right local time, daylight
saving included. No database, no Flask."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

PRODID = "-//Project New Day//Facilitator training//EN"
REFRESH = timedelta(hours=1)  # a hint to clients; most poll on their own schedule anyway


@dataclass(frozen=True)
class FeedEvent:
    uid: str  # stable for the session: the same group and date always give the same UID
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    summary: str
    description: str = ""
    cancelled: bool = False
    url: str | None = None


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("feed times must be timezone-aware")
    return value.astimezone(UTC)


def build_calendar(events: Iterable[FeedEvent], *, name: str, now: datetime) -> bytes:
    """A VCALENDAR with one VEVENT per event, ordered by start."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", name)
    cal.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
    cal.add("x-published-ttl", REFRESH)
    stamp = _utc(now).replace(microsecond=0)
    for item in sorted(events, key=lambda e: (e.starts_at, e.uid)):
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", _utc(item.starts_at))
        event.add("dtend", _utc(item.ends_at))
        event.add("summary", item.summary)
        if item.description:
            event.add("description", item.description)
        if item.url:
            event.add("url", item.url)
        event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
        event.add("transp", "OPAQUE")
        cal.add_component(event)
    return cal.to_ical()
