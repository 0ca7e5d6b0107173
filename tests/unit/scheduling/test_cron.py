"""The configuration's cron expressions: crontab's meaning (0 and 7 are Sunday), strict refusals naming the config
key, and the catch-up arithmetic of latest_fire_time against a minute-by-minute walk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.config import ConfigError, load_settings
from domainpriv.errors import DomainprivError
from domainpriv.scheduling import LOOKBACK, latest_fire_time, next_fire_time, parse_cron, parse_crons

KEY = "escrow.full_cron"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def latest(expr: str, now: datetime, since: datetime | None = None) -> datetime | None:
    return latest_fire_time(expr, since=since, now=now, key=KEY)


def following(expr: str, after: datetime) -> datetime | None:
    return next_fire_time(expr, after=after, key=KEY)


# --- refusals -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("", "0 field(s), expected 5"),
        ("0 0 * *", "4 field(s), expected 5"),
        ("0 0 0 * * *", "6 field(s), expected 5"),
        ("@daily", "1 field(s)"),
        ("60 * * * *", "minute 60 is out of range 0-59"),
        ("0 24 * * *", "hour 24 is out of range 0-23"),
        ("0 0 0 * *", "day-of-month 0 is out of range 1-31"),
        ("0 0 * 13 *", "month 13 is out of range 1-12"),
        ("0 0 * * 8", "day-of-week 8 is out of range 0-7"),
        ("0 0 * * funday", "day-of-week 'funday' is not a number or a name"),
        ("0 0 * * fri#2", "day-of-week 'fri#2' is not *, N or N-M"),
        ("0 0 * jant *", "month 'jant' is not a number or a name"),
        ("0 mon * * *", "hour 'mon' is not a number"),
        ("0 0 L * *", "day-of-month 'l' is not a number"),
        ("0 0 ? * *", "day-of-month '?' is not *"),
        ("0 0 * * mon-fri/0", "has a step of 0"),
        ("5/15 * * * *", "a step needs * or a range"),
        ("0 0 * * sat-sun", "range 'sat-sun' runs backwards"),
        ("0 0 1,15 * mon", "both day-of-month and day-of-week are restricted"),
        ("0 0 1-7 * mon", "both day-of-month and day-of-week are restricted"),
        ("0 0 30 2 *", "it never fires"),
        ("0 0 31 apr,jun,sep,nov *", "it never fires"),
    ],
)
def test_parse_cron_refuses_with_the_config_key_and_the_reason(expr: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_cron(expr, key=KEY)
    message = str(caught.value)
    assert message.startswith(f"config key {KEY}: not a cron expression ({expr!r}: ")
    assert reason in message
    assert isinstance(caught.value, DomainprivError)


def test_latest_and_next_fire_time_name_the_key_they_were_given() -> None:
    with pytest.raises(ConfigError, match=r"^config key escrow\.incremental_cron: not a cron expression"):
        latest_fire_time("0 0 * * mon-sun", since=None, now=at(2026, 1, 1), key="escrow.incremental_cron")
    with pytest.raises(ConfigError, match=r"^config key escrow\.full_cron: "):
        next_fire_time("61 * * * *", after=at(2026, 1, 1), key=KEY)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        latest_fire_time("0 0 * * *", since=None, now=datetime(2026, 1, 1), key=KEY)
    with pytest.raises(ValueError, match="after must be timezone-aware"):
        next_fire_time("0 0 * * *", after=datetime(2026, 1, 1), key=KEY)


def test_parse_crons_skips_an_empty_expression_and_names_a_bad_key() -> None:
    assert len(parse_crons({"escrow.full_cron": "0 0 * * sun", "escrow.incremental_cron": ""})) == 1
    with pytest.raises(ConfigError, match=r"config key escrow\.incremental_cron"):
        parse_crons({"escrow.full_cron": "0 0 * * sun", "escrow.incremental_cron": "0 0 * * sunday"})


def test_the_shipped_schedule_parses() -> None:
    escrow = load_settings(environ={}).escrow
    assert len(parse_crons({"escrow.full_cron": escrow.full_cron, "escrow.incremental_cron": escrow.incremental_cron}))


# --- fixed examples -----------------------------------------------------------------------------------------------
# 2026-11-01 is a Sunday.


def test_weekly_sunday_full_deposit() -> None:
    assert latest("0 0 * * sun", at(2026, 11, 1, 0, 0)) == at(2026, 11, 1)  # at its time: due, inclusive
    assert latest("0 0 * * sun", at(2026, 10, 31, 23, 59, 59)) == at(2026, 10, 25)
    assert latest("0 0 * * sun", at(2026, 11, 7, 23, 59), since=at(2026, 11, 1)) is None  # since is exclusive
    assert latest("0 0 * * sun", at(2026, 11, 8), since=at(2026, 11, 1)) == at(2026, 11, 8)
    assert following("0 0 * * sun", at(2026, 11, 1)) == at(2026, 11, 8)  # strictly after
    assert following("0 0 * * sun", at(2026, 10, 31, 23, 59, 59, 999999)) == at(2026, 11, 1)


def test_sunday_is_0_and_7_as_in_crontab() -> None:
    """APScheduler's own from_crontab reads 0 as Monday."""
    for expr in ("0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "0 0 * * 6-7/1"):
        assert following(expr, at(2026, 10, 28)) in {at(2026, 10, 31), at(2026, 11, 1)}
    assert following("0 0 * * 0", at(2026, 10, 28)) == at(2026, 11, 1)
    assert following("0 0 * * 7", at(2026, 10, 28)) == at(2026, 11, 1)
    assert following("0 0 * * 1", at(2026, 11, 1)) == at(2026, 11, 2)
    assert following("0 0 * * */2", at(2026, 11, 1)) == at(2026, 11, 3)  # 0,2,4,6: Sunday, Tuesday, ...


def test_daily_monday_to_saturday_incremental() -> None:
    assert latest("0 0 * * mon-sat", at(2026, 11, 1, 12)) == at(2026, 10, 31)  # none on the Sunday
    assert latest("0 0 * * mon-sat", at(2026, 11, 2)) == at(2026, 11, 2)
    assert following("0 0 * * mon-sat", at(2026, 10, 31)) == at(2026, 11, 2)
    assert latest("0 0 * * mon-sat", at(2026, 11, 1, 23, 59), since=at(2026, 10, 31)) is None


def test_month_ends() -> None:
    assert following("0 0 31 * *", at(2026, 1, 31)) == at(2026, 3, 31)  # February has none
    assert following("0 0 30 * *", at(2026, 1, 30)) == at(2026, 3, 30)
    assert latest("0 0 31 * *", at(2026, 3, 15), since=at(2025, 12, 31)) == at(2026, 1, 31)
    assert latest("0 0 31 * *", at(2026, 3, 15)) is None  # January 31 is beyond the 35-day look-back
    assert latest("30 23 31 12 *", at(2027, 1, 1), since=at(2026, 1, 1)) == at(2026, 12, 31, 23, 30)
    assert latest("0 0 1 * *", at(2026, 3, 31, 23, 59)) == at(2026, 3, 1)


def test_leap_days() -> None:
    assert following("0 0 29 2 *", at(2024, 2, 29)) == at(2028, 2, 29)
    assert following("0 0 29 2 *", at(2096, 2, 29)) == at(2104, 2, 29)  # 2100 is no leap year
    assert latest("0 0 29 2 *", at(2027, 6, 1), since=at(2000, 1, 1)) == at(2024, 2, 29)
    assert latest("59 23 28-31 2 *", at(2024, 3, 1), since=at(2024, 1, 1)) == at(2024, 2, 29, 23, 59)
    assert latest("59 23 28-31 2 *", at(2023, 3, 1), since=at(2023, 1, 1)) == at(2023, 2, 28, 23, 59)


def test_minute_boundaries() -> None:
    assert latest("*/15 * * * *", at(2026, 5, 5, 12, 14, 59)) == at(2026, 5, 5, 12, 0)
    assert latest("*/15 * * * *", at(2026, 5, 5, 12, 14, 59, 999999), since=at(2026, 5, 5, 12)) is None
    assert latest("*/15 * * * *", at(2026, 5, 5, 12, 15), since=at(2026, 5, 5, 12, 0, 0, 1)) == at(2026, 5, 5, 12, 15)
    assert latest("0 0 * * *", at(2026, 5, 5), since=at(2026, 5, 5)) is None  # empty window
    assert latest("0 0 * * *", at(2026, 5, 5), since=at(2026, 5, 6)) is None


def test_other_timezones_are_read_as_the_same_instant() -> None:
    plus_two = datetime(2026, 11, 1, 4, 30, tzinfo=timezone(timedelta(hours=2)))
    assert latest("0 0 * * *", plus_two) == at(2026, 11, 1)


# --- against a minute-by-minute walk ------------------------------------------------------------------------------

Field = tuple[str, frozenset[int]]


def field(low: int, high: int, names: tuple[str, ...] = (), name_base: int = 0) -> st.SearchStrategy[Field]:
    """A crontab field as text, with the values it means, built together so the expected set is independent of
    the parser under test."""
    every = range(low, high + 1)

    def single(v: int) -> st.SearchStrategy[Field]:
        texts = [str(v)] + ([names[v - name_base]] if 0 <= v - name_base < len(names) else [])
        return st.sampled_from(texts).map(lambda t: (t, frozenset({v})))

    item = st.one_of(
        st.just(("*", frozenset(every))),
        st.integers(1, high - low + 1).map(lambda s: (f"*/{s}", frozenset(every[::s]))),
        st.integers(low, high).flatmap(single),
        st.tuples(st.integers(low, high), st.integers(low, high), st.integers(1, 6)).map(
            lambda t: (
                f"{min(t[0], t[1])}-{max(t[0], t[1])}" + (f"/{t[2]}" if t[2] > 1 else ""),
                frozenset(range(min(t[0], t[1]), max(t[0], t[1]) + 1, t[2])),
            )
        ),
    )
    return st.lists(item, min_size=1, max_size=3).map(
        lambda items: (",".join(t for t, _ in items), frozenset().union(*(v for _, v in items)))
    )


MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Schedule:
    expr: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # crontab numbers, 0 = Sunday

    def fires_on(self, t: datetime) -> bool:
        return t.day in self.days and t.month in self.months and t.isoweekday() % 7 in self.weekdays

    def fires_at(self, t: datetime) -> bool:
        return self.fires_on(t) and t.minute in self.minutes and t.hour in self.hours


@st.composite
def schedules(draw: st.DrawFn) -> Schedule:
    """A cron expression crontab and APScheduler agree on (not both days restricted, firing at all)."""
    minute = draw(st.one_of(st.just(("*", frozenset(range(60)))), field(0, 59)))
    hour = draw(st.one_of(st.just(("*", frozenset(range(24)))), field(0, 23)))
    month = draw(st.one_of(st.just(("*", frozenset(range(1, 13)))), field(1, 12, MONTHS, 1)))
    star_day = ("*", frozenset(range(1, 32)))
    star_weekday = ("*", frozenset(range(7)))
    day, weekday = draw(
        st.one_of(
            st.tuples(field(1, 31), st.just(star_weekday)),
            st.tuples(st.just(star_day), field(0, 7, WEEKDAYS)),
            st.just((star_day, star_weekday)),
        )
    )
    longest = {1: 31, 2: 29, 3: 31, 4: 30, 5: 31, 6: 30, 7: 31, 8: 31, 9: 30, 10: 31, 11: 30, 12: 31}
    if not any(d <= longest[m] for d in day[1] for m in month[1]):
        day = star_day  # refused expressions are tested above
    expr = " ".join(text for text, _ in (minute, hour, day, month, weekday))
    return Schedule(expr, minute[1], hour[1], day[1], month[1], frozenset(d % 7 for d in weekday[1]))


moments = st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
spans = st.timedeltas(min_value=timedelta(0), max_value=LOOKBACK)
MINUTE = timedelta(minutes=1)


def walk_back(schedule: Schedule, since: datetime, now: datetime) -> datetime | None:
    """Minute by minute, skipping the minutes of days on which it does not fire."""
    t = now.replace(second=0, microsecond=0)
    while t > since:
        if not schedule.fires_on(t):
            t = t.replace(hour=0, minute=0) - MINUTE
        elif schedule.fires_at(t):
            return t
        else:
            t -= MINUTE
    return None


def walk_forward(schedule: Schedule, after: datetime, horizon: datetime) -> datetime | None:
    t = after.replace(second=0, microsecond=0) + MINUTE
    while t <= horizon:
        if not schedule.fires_on(t):
            t = t.replace(hour=0, minute=0) + timedelta(days=1)
        elif schedule.fires_at(t):
            return t
        else:
            t += MINUTE
    return None


@settings(max_examples=200, deadline=None)
@given(schedules(), moments, spans, st.booleans())
def test_latest_fire_time_matches_a_minute_walk(
    schedule: Schedule, now: datetime, span: timedelta, without_since: bool
) -> None:
    since = now - (LOOKBACK if without_since else span)
    expected = walk_back(schedule, since, now)
    assert latest_fire_time(schedule.expr, since=None if without_since else since, now=now, key=KEY) == expected


@settings(max_examples=120, deadline=None)
@given(schedules(), moments)
def test_next_fire_time_matches_a_minute_walk(schedule: Schedule, after: datetime) -> None:
    horizon = after + LOOKBACK
    expected = walk_forward(schedule, after, horizon)
    found = next_fire_time(schedule.expr, after=after, key=KEY)
    if expected is not None:
        assert found == expected
    else:
        assert found is None or found > horizon
