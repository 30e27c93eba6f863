"""The .ics builder: a calendar any client reads, UTC times, stable UIDs, cancelled sessions marked."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from datetime import date as date_

import pytest
from icalendar import Calendar

from lms.groups import ical, schedule
from lms.groups.schedule import Schedule

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def events_for(sched: Schedule, start: date_, end: date_, group_id: int = 7) -> list[ical.FeedEvent]:
    return [ical.FeedEvent(uid=f"pnd-group-{group_id}-{o.session_date:%Y%m%d}@training.example",
                           starts_at=o.starts_at, ends_at=o.ends_at, summary="Tuesday evening; recovery, together",
                           description="Line one.\nLine two.")
            for o in schedule.occurrences(sched, start, end)]


def parse(data: bytes) -> Calendar:
    return Calendar.from_ical(data)


def test_a_calendar_with_one_event_per_session_in_utc_across_dst():
    sched = Schedule(1, time(19, 0), 90, "America/New_York")
    data = ical.build_calendar(events_for(sched, date_(2026, 3, 1), date_(2026, 3, 14)), name="PND sessions",
                               now=NOW)
    assert data.startswith(b"BEGIN:VCALENDAR\r\n")
    text = data.decode()
    assert "DTSTART:20260304T000000Z" in text  # winter: 19:00 EST
    assert "DTSTART:20260310T230000Z" in text  # summer: 19:00 EDT
    cal = parse(data)
    assert str(cal["VERSION"]) == "2.0"
    assert str(cal["X-WR-CALNAME"]) == "PND sessions"
    events = cal.walk("VEVENT")
    assert [e.decoded("DTSTART") for e in events] == [datetime(2026, 3, 4, 0, 0, tzinfo=UTC),
                                                      datetime(2026, 3, 10, 23, 0, tzinfo=UTC)]
    assert [e.decoded("DTEND") - e.decoded("DTSTART") for e in events] == [timedelta(minutes=90)] * 2
    first = events[0]
    assert str(first["SUMMARY"]) == "Tuesday evening; recovery, together"  # escaped on the wire, intact when read
    assert str(first["DESCRIPTION"]) == "Line one.\nLine two."
    assert str(first["STATUS"]) == "CONFIRMED"
    assert first.decoded("DTSTAMP") == NOW


def test_uids_are_stable_between_builds_and_unique_per_session():
    sched = Schedule(1, time(19, 0), 60, "Europe/London")
    one = parse(ical.build_calendar(events_for(sched, date_(2026, 11, 1), date_(2026, 12, 31)), name="x", now=NOW))
    two = parse(ical.build_calendar(events_for(sched, date_(2026, 11, 1), date_(2026, 12, 31)), name="x",
                                    now=NOW + timedelta(hours=5)))
    uids = [str(e["UID"]) for e in one.walk("VEVENT")]
    assert uids == [str(e["UID"]) for e in two.walk("VEVENT")]
    assert len(set(uids)) == len(uids) == 9
    assert uids[0] == "pnd-group-7-20261103@training.example"


def test_cancelled_events_say_so():
    start = datetime(2026, 12, 1, 19, tzinfo=UTC)
    data = ical.build_calendar([ical.FeedEvent(uid="a@x", starts_at=start, ends_at=start + timedelta(hours=1),
                                               summary="S", cancelled=True)], name="x", now=NOW)
    (event,) = parse(data).walk("VEVENT")
    assert str(event["STATUS"]) == "CANCELLED"
    assert "DESCRIPTION" not in event


def test_an_empty_calendar_is_still_valid():
    cal = parse(ical.build_calendar([], name="x", now=NOW))
    assert cal.walk("VEVENT") == []
    assert str(cal["PRODID"]) == ical.PRODID


def test_naive_times_are_refused():
    with pytest.raises(ValueError):
        ical.build_calendar([ical.FeedEvent(uid="a", starts_at=datetime(2026, 1, 1), ends_at=datetime(2026, 1, 2),
                                            summary="x")], name="x", now=NOW)
