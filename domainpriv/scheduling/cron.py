"""The configuration's cron expressions ([escrow] full_cron and incremental_cron): read strictly with crontab's
meaning, computed by APScheduler 3's CronTrigger in UTC.

Why our own reading in front of APScheduler's: `CronTrigger.from_crontab` takes day-of-week numbers with 0 = Monday
(crontab: 0 = Sunday; APScheduler documents this as a 3.x mistake it cannot fix), so "0 0 * * 0" would run on
Mondays; and it ignores what follows a weekday or month name ("fri#2" runs every Friday). Here each field is
expanded to the values crontab gives it and handed to CronTrigger as explicit values, so both agree.

Accepted: five fields separated by blanks, minute (0-59) hour (0-23) day-of-month (1-31) month (1-12 or jan-dec)
day-of-week (0-7 or sun-sat, 0 and 7 are Sunday). Each field is a comma list of `*`, `N` or `N-M`, where `*` and
`N-M` may carry a step (`*/15`, `mon-fri/2`). Names are case-insensitive.

Refused, with a ConfigError naming the key:
* anything else (`L`, `W`, `#`, `?`, `@daily`, six fields);
* a day-of-month and a day-of-week both restricted: crontab runs on days matching *either*, APScheduler on days
  matching *both*; one of them must be `*`;
* an expression that never fires ("0 0 30 2 *").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from apscheduler.triggers.cron import CronTrigger

from domainpriv.config import ConfigError

__all__ = ["LOOKBACK", "latest_fire_time", "next_fire_time", "parse_cron", "parse_crons"]

LOOKBACK = timedelta(days=35)
"""How far latest_fire_time looks back without `since`: a monthly schedule's previous time is at most 31 days ago."""

_MINUTE = timedelta(minutes=1)
_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")  # by crontab number; APScheduler reads them alike
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTHS = {name: n for n, name in enumerate(_MONTH_NAMES, start=1)}
_WEEKDAYS = {name: n for n, name in enumerate(_WEEKDAY_NAMES)}
_DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # February: in leap years
_ITEM = re.compile(r"(?:(?P<star>\*)|(?P<first>[0-9a-z]+)(?:-(?P<last>[0-9a-z]+))?)(?:/(?P<step>[0-9]+))?")


class _NotCron(ValueError):
    """Why an expression was refused; parse_cron adds the config key."""


class _Field:
    def __init__(self, name: str, low: int, high: int, names: Mapping[str, int] | None = None) -> None:
        self.name, self.low, self.high, self.names = name, low, high, names or {}

    def expand(self, text: str) -> frozenset[int]:
        """The values a field allows (day-of-week still 0-7)."""
        values: set[int] = set()
        for item in text.split(","):
            values.update(self._item(item))
        return frozenset(values)

    def _item(self, item: str) -> range:
        match = _ITEM.fullmatch(item)
        if match is None:
            raise _NotCron(f"{self.name} {item!r} is not *, N or N-M with an optional /STEP")
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            raise _NotCron(f"{self.name} {item!r} has a step of 0")
        if match["star"]:
            return range(self.low, self.high + 1, step)
        first = self._value(match["first"])
        if match["last"] is None:
            if match["step"] is not None:
                raise _NotCron(f"{self.name} {item!r}: a step needs * or a range (N-M/STEP)")
            return range(first, first + 1)
        last = self._value(match["last"])
        if last < first:
            raise _NotCron(f"{self.name} range {item!r} runs backwards")
        return range(first, last + 1, step)

    def _value(self, token: str) -> int:
        if token.isdigit():
            value = int(token)
            if not self.low <= value <= self.high:
                raise _NotCron(f"{self.name} {token} is out of range {self.low}-{self.high}")
            return value
        if token not in self.names:
            raise _NotCron(f"{self.name} {token!r} is not a number" + (" or a name" if self.names else ""))
        return self.names[token]


_FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day-of-month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day-of-week", 0, 7, _WEEKDAYS),
)


def parse_cron(expr: str, *, key: str) -> CronTrigger:
    """The expression as an APScheduler trigger in UTC. Raises ConfigError naming `key` (e.g. escrow.full_cron)."""
    try:
        return _trigger(expr)
    except _NotCron as exc:
        raise ConfigError(f"config key {key}: not a cron expression ({expr!r}: {exc})") from None


def parse_crons(expressions: Mapping[str, str]) -> list[CronTrigger]:
    """The triggers of {config key: expression}; an empty expression means "off" and gives none. Raises
    ConfigError naming the first bad key."""
    return [parse_cron(expr, key=key) for key, expr in expressions.items() if expr.strip()]


def latest_fire_time(expr: str, *, since: datetime | None, now: datetime, key: str) -> datetime | None:
    """The newest fire time t with since < t <= now; without `since`, with now - LOOKBACK < t <= now. None when
    there is none. This is how a sweep catches up: "the run scheduled for t is due if nothing was made for t".

    A binary search over whole minutes with APScheduler's "first fire time at or after x": about 16 trigger
    computations for 35 days, instead of 50,400 minute steps. Raises ConfigError naming `key`."""
    trigger = parse_cron(expr, key=key)
    now = _utc(now, "now")
    lower = now - LOOKBACK if since is None else _utc(since, "since")
    lo = lower.replace(second=0, microsecond=0) + _MINUTE  # the first whole minute after `lower`
    hi = now.replace(second=0, microsecond=0) + _MINUTE  # the first whole minute after `now`
    if lo >= hi:
        return None
    found = _first_at_or_after(trigger, lo)
    if found is None or found > now:
        return None
    lo = found
    # Invariant: lo is a fire time <= now, and the first fire time at or after hi is > now.
    while hi - lo > _MINUTE:
        mid = lo + (hi - lo) // _MINUTE // 2 * _MINUTE
        candidate = _first_at_or_after(trigger, mid)
        if candidate is not None and candidate <= now:
            lo = candidate
        else:
            hi = mid
    return lo


def next_fire_time(expr: str, *, after: datetime, key: str) -> datetime | None:
    """The first fire time strictly after `after` (None: none before the year 9999). Raises ConfigError."""
    return _first_at_or_after(parse_cron(expr, key=key), _utc(after, "after") + timedelta(microseconds=1))


def _first_at_or_after(trigger: CronTrigger, moment: datetime) -> datetime | None:
    found: datetime | None = trigger.get_next_fire_time(None, moment)
    return None if found is None else found.astimezone(UTC)


@lru_cache(maxsize=64)
def _trigger(expr: str) -> CronTrigger:
    texts = expr.lower().split()
    if len(texts) != len(_FIELDS):
        raise _NotCron(f"{len(texts)} field(s), expected 5: minute hour day-of-month month day-of-week")
    minutes, hours, days, months, weekdays = (field.expand(text) for field, text in zip(_FIELDS, texts, strict=True))
    weekdays = frozenset(d % 7 for d in weekdays)
    days_restricted, weekdays_restricted = len(days) < 31, len(weekdays) < 7
    if days_restricted and weekdays_restricted:
        raise _NotCron(
            "both day-of-month and day-of-week are restricted (crontab runs on either, APScheduler on both): "
            "make one of them *"
        )
    if days_restricted and not any(day <= _DAYS_IN_MONTH[month - 1] for day in days for month in months):
        raise _NotCron("it never fires: no month given has the days given")
    return CronTrigger(
        minute=_listed(minutes, 60),
        hour=_listed(hours, 24),
        day=_listed(days, 31),
        month=_listed(months, 12),
        day_of_week="*" if not weekdays_restricted else ",".join(_WEEKDAY_NAMES[d] for d in sorted(weekdays)),
        timezone=UTC,
    )


def _listed(values: frozenset[int], count: int) -> str:
    return "*" if len(values) == count else ",".join(str(v) for v in sorted(values))


def _utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC everywhere: DESIGN invariant 6)")
    return moment.astimezone(UTC)
