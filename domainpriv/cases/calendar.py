"""The business-day calendar of case deadlines: weekends, the configured country's (and subdivision's) public
holidays from the `holidays` package, and the registrar's own closing days (`cases.closed_days`).

Why a registrar-configured calendar: the rules speak of business days (EPDP Phase 1 Rec 18: acknowledge within
2 business days) without saying whose; the registrar's is the one its staff work on. Some countries' lists are
short or estimated (toolchain.md §14), hence the extra closing days.

Counting (the usual legal reading): N business days after an instant end at the same time of day on the Nth
business day after its date; the day the clock starts does not count, whether or not it is a business day. Pure:
no I/O beyond the holidays package's tables.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import holidays

from domainpriv.config import CasesSettings
from domainpriv.registration.errors import ValidationError

__all__ = ["BusinessCalendar", "calendar_for"]

_SATURDAY = 5
_MAX_DAYS = 3650  # a calendar with no business day in ten years is a configuration error, not a loop


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    country: str
    subdivision: str | None
    closed_days: frozenset[date]

    def is_business_day(self, day: date) -> bool:
        return (
            day.weekday() < _SATURDAY
            and day not in self.closed_days
            and day not in _holidays(self.country, self.subdivision, day.year)
        )

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """`start` moved forward by `days` business days (the same time of day; 0: `start` itself)."""
        if start.tzinfo is None:
            raise ValueError("naive datetime given where UTC is required")
        moved, left = start, days
        for _ in range(_MAX_DAYS):
            if left <= 0:
                return moved
            moved += timedelta(days=1)
            if self.is_business_day(moved.date()):
                left -= 1
        raise ValidationError("cases.holiday_country", "the calendar has no business days")

    def subtract_business_days(self, end: datetime, days: int) -> datetime:
        """The instant `days` business days before `end` (a reminder before a deadline)."""
        moved, left = end, days
        for _ in range(_MAX_DAYS):
            if left <= 0:
                return moved
            moved -= timedelta(days=1)
            if self.is_business_day(moved.date()):
                left -= 1
        raise ValidationError("cases.holiday_country", "the calendar has no business days")


def calendar_for(settings: CasesSettings) -> BusinessCalendar:
    """The calendar of `settings`. Raises ValidationError naming the setting (unknown country or subdivision, a
    closing day that is not an ISO date)."""
    return _calendar(settings.holiday_country.upper(), settings.holiday_subdivision or None, settings.closed_days)


@functools.cache
def _calendar(country: str, subdivision: str | None, closed: Iterable[str]) -> BusinessCalendar:
    try:
        holidays.country_holidays(country, years=2026)
    except NotImplementedError:
        raise ValidationError("cases.holiday_country", f"the holidays package has no calendar for {country}") from None
    try:
        holidays.country_holidays(country, subdiv=subdivision, years=2026)
    except (NotImplementedError, KeyError, ValueError):
        raise ValidationError("cases.holiday_subdivision", f"not a subdivision of {country}") from None
    days: set[date] = set()
    for i, text in enumerate(closed):
        try:
            days.add(date.fromisoformat(text))
        except ValueError:
            raise ValidationError(f"cases.closed_days[{i}]", "must be an ISO date (YYYY-MM-DD)") from None
    return BusinessCalendar(country, subdivision, frozenset(days))


@functools.cache
def _holidays(country: str, subdivision: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdivision, years=year).keys())
