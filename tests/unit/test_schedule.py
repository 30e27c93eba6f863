"""Weekly schedules across daylight-saving changes: the wall-clock time stays, the UTC instant moves; a start time
in the spring-forward gap or the fall-back hour follows PEP 495's fold=0."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from lms.groups import schedule
from lms.groups.schedule import Schedule

TUESDAY = 1
SUNDAY = 6


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts(sched: Schedule, start: date, end: date) -> list[datetime]:
    return [o.starts_at for o in schedule.occurrences(sched, start, end)]


def test_new_york_tuesday_evening_across_both_changes_of_2026():
    sched = Schedule(TUESDAY, time(19, 0), 90, "America/New_York")
    # 8 March 2026: clocks go forward. Winter (EST, UTC-5): 19:00 is midnight UTC, the next day.
    assert starts(sched, date(2026, 3, 1), date(2026, 3, 14)) == [utc(2026, 3, 4, 0, 0), utc(2026, 3, 10, 23, 0)]
    # 1 November 2026: clocks go back.
    assert starts(sched, date(2026, 10, 25), date(2026, 11, 7)) == [utc(2026, 10, 27, 23, 0), utc(2026, 11, 4, 0, 0)]
    # the local wall-clock time never moves
    for occ in schedule.occurrences(sched, date(2026, 1, 1), date(2026, 12, 31)):
        local = occ.local_start("America/New_York")
        assert (local.weekday(), local.time(), local.date()) == (TUESDAY, time(19, 0), occ.session_date)
        assert occ.ends_at - occ.starts_at == timedelta(minutes=90)


def test_london_across_british_summer_time():
    sched = Schedule(TUESDAY, time(19, 0), 60, "Europe/London")
    # BST from 29 March to 25 October 2026
    assert starts(sched, date(2026, 3, 24), date(2026, 3, 31)) == [utc(2026, 3, 24, 19), utc(2026, 3, 31, 18)]
    assert starts(sched, date(2026, 10, 20), date(2026, 10, 27)) == [utc(2026, 10, 20, 18), utc(2026, 10, 27, 19)]


def test_a_zone_east_of_utc_keeps_the_local_date():
    # 09:00 on a Tuesday in Auckland is Monday evening in UTC; the session's date is the local one.
    sched = Schedule(TUESDAY, time(9, 0), 60, "Pacific/Auckland")
    (occ,) = schedule.occurrences(sched, date(2026, 6, 1), date(2026, 6, 7))
    assert occ.session_date == date(2026, 6, 2)
    assert occ.starts_at == utc(2026, 6, 1, 21, 0)


def test_a_time_in_the_spring_forward_gap_starts_an_hour_later_on_the_wall_clock():
    # 02:30 does not exist in New York on 8 March 2026; fold=0 reads it with the offset before the change
    # (EST), which is the instant 07:30 UTC, shown as 03:30 EDT. The week before and after are plain 02:30.
    sched = Schedule(SUNDAY, time(2, 30), 60, "America/New_York")
    before, gap, after = schedule.occurrences(sched, date(2026, 3, 1), date(2026, 3, 15))
    assert before.starts_at == utc(2026, 3, 1, 7, 30)
    assert gap.starts_at == utc(2026, 3, 8, 7, 30)
    assert gap.local_start("America/New_York").time() == time(3, 30)
    assert after.starts_at == utc(2026, 3, 15, 6, 30)
    assert after.local_start("America/New_York").time() == time(2, 30)


def test_an_ambiguous_time_in_the_fall_back_hour_is_the_first_one():
    # 01:30 happens twice in New York on 1 November 2026: fold=0 is the first, still on EDT (UTC-4).
    sched = Schedule(SUNDAY, time(1, 30), 60, "America/New_York")
    before, ambiguous, after = schedule.occurrences(sched, date(2026, 10, 25), date(2026, 11, 8))
    assert before.starts_at == utc(2026, 10, 25, 5, 30)
    assert ambiguous.starts_at == utc(2026, 11, 1, 5, 30)
    assert after.starts_at == utc(2026, 11, 8, 6, 30)
    # a start time given with fold=1 is still read as fold=0: the rule does not depend on how the time was made
    assert schedule.start_instant(date(2026, 11, 1), time(1, 30, fold=1), "America/New_York") == ambiguous.starts_at


def test_occurrences_are_weekly_on_the_weekday_inclusive_of_both_ends():
    sched = Schedule(TUESDAY, time(19, 0), 60, "UTC")
    days = [o.session_date for o in schedule.occurrences(sched, date(2026, 11, 24), date(2026, 12, 8))]
    assert days == [date(2026, 11, 24), date(2026, 12, 1), date(2026, 12, 8)]
    assert schedule.occurrences(sched, date(2026, 11, 25), date(2026, 11, 30)) == []
    assert schedule.occurrence(sched, date(2026, 11, 25)) is None


def test_next_occurrence_is_the_first_not_started():
    sched = Schedule(TUESDAY, time(19, 0), 60, "America/New_York")
    assert schedule.next_occurrence(sched, utc(2026, 3, 10, 22, 59)).session_date == date(2026, 3, 10)
    assert schedule.next_occurrence(sched, utc(2026, 3, 10, 23, 0)).session_date == date(2026, 3, 17)


@pytest.mark.parametrize("name", ["America/New_York", "Europe/London", "UTC", "Asia/Kolkata"])
def test_iana_zones_are_accepted(name):
    assert schedule.is_timezone(name)
    assert schedule.zone(name).key == name


@pytest.mark.parametrize("name", ["", "EST5EDT ", "america/new_york", "Mars/Olympus", "../etc/passwd", "+05:00",
                                  "Europe/London\x00"])
def test_anything_else_is_refused(name):
    assert not schedule.is_timezone(name)
    with pytest.raises(ValueError):
        schedule.zone(name)


def test_describe():
    assert Schedule(TUESDAY, time(19, 0), 90, "Europe/London").describe() == \
        "Tuesdays at 19:00 (Europe/London), 90 minutes"
