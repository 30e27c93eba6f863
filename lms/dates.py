"""Dates in words, the same on every page, e-mail and document: "24 November 2026", whatever the locale."""

from __future__ import annotations

from datetime import date

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def long_date(day: date) -> str:
    """'24 November 2026': unambiguous on both sides of the Atlantic, and the same whatever the locale."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"
