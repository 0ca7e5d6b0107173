"""The one timestamp form: what strftime would write, for any moment in any zone (and naive = UTC)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from domainpriv.clock import rfc3339_utc

_offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))


@given(st.datetimes(min_value=datetime(1000, 1, 2), max_value=datetime(9999, 12, 30)), st.none() | _offsets)
def test_the_fields_spell_what_strftime_writes(moment: datetime, zone: timezone | None) -> None:
    ts = moment if zone is None else moment.replace(tzinfo=zone)
    aware = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    assert rfc3339_utc(ts) == aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_early_years_keep_four_digits() -> None:
    """RFC 3339 wants four: glibc's strftime writes year 999 as 999, so the property above starts at 1000."""
    assert rfc3339_utc(datetime(999, 1, 2, 3, 4, 5, 999_999, tzinfo=UTC)) == "0999-01-02T03:04:05Z"
