"""Weekly schedules, pure: which local dates a group meets on, and the UTC instant each session starts. No
database, no Flask.

A group meets at the same wall-clock time every week in its own time zone, so across a daylight-saving
change the local time stays and the UTC instant moves (a Tuesday 19:00 in New York is 00:00 UTC on Wednesday
in winter and 23:00 UTC on Tuesday in summer).

Two local times need a rule, and the rule is PEP 495's `fold=0`, as zoneinfo applies it:
- a time that does not exist (in the spring-forward gap, e.g. 02:30 on 8 March 2026 in New York) is read
  with the offset in force before the change, so the session starts at the same instant as 02:30 standard
  time would be: 03:30 daylight time, 07:30 UTC;
- a time that happens twice (in the fall-back hour, e.g. 01:30 on 1 November 2026 in New York) is the first
  of the two, still on daylight time: 05:30 UTC.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: str) -> bool:
    """Whether `name` is an IANA time zone key zoneinfo knows, exactly as spelled ("Europe/London")."""
    if not name or name not in _known_zones():
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone(name: str) -> ZoneInfo:
    """The zone, or ValueError naming it when it is not an IANA key."""
    if not is_timezone(name):
        raise ValueError(f"{name!r} is not an IANA time zone such as Europe/London or America/New_York")
    return ZoneInfo(name)


@dataclass(frozen=True)
class Schedule:
    weekday: int  # 0 Monday ... 6 Sunday
    start_time: time  # local, naive
    duration_minutes: int
    timezone: str

    @property
    def weekday_name(self) -> str:
        return WEEKDAYS[self.weekday]

    def describe(self) -> str:
        """"Tuesdays at 19:00 (America/New_York), 90 minutes"."""
        return (f"{self.weekday_name}s at {self.start_time:%H:%M} ({self.timezone}), "
                f"{self.duration_minutes} minutes")


@dataclass(frozen=True)
class Occurrence:
    session_date: date  # local date
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC

    def local_start(self, tz: str) -> datetime:
        return self.starts_at.astimezone(zone(tz))


def start_instant(day: date, start_time: time, tz: str) -> datetime:
    """The UTC instant at which `start_time` on the local date `day` begins in `tz` (fold=0: see the module)."""
    local = datetime.combine(day, start_time.replace(tzinfo=None, fold=0), tzinfo=zone(tz))
    return local.astimezone(UTC)


def occurrence(schedule: Schedule, day: date) -> Occurrence | None:
    """The session on local date `day`, or None when the group does not meet that day of the week."""
    if day.weekday() != schedule.weekday:
        return None
    starts = start_instant(day, schedule.start_time, schedule.timezone)
    return Occurrence(day, starts, starts + timedelta(minutes=schedule.duration_minutes))


def first_on_or_after(weekday: int, day: date) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def occurrences(schedule: Schedule, start: date, end: date) -> list[Occurrence]:
    """Every session with a local date from `start` to `end`, both included, in order."""
    out = []
    day = first_on_or_after(schedule.weekday, start)
    while day <= end:
        found = occurrence(schedule, day)
        assert found is not None
        out.append(found)
        day += timedelta(days=7)
    return out


def local_today(tz: str, now: datetime) -> date:
    """The date it is in `tz` at the instant `now`."""
    return now.astimezone(zone(tz)).date()


def next_occurrence(schedule: Schedule, now: datetime) -> Occurrence:
    """The first session that has not started at `now`."""
    day = local_today(schedule.timezone, now) - timedelta(days=1)  # yesterday's may not have started in UTC terms
    while True:
        found = occurrences(schedule, day, day + timedelta(days=14))
        for occ in found:
            if occ.starts_at > now:
                return occ
        day += timedelta(days=14)
