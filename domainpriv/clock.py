"""The one source of "now": timezone-aware UTC (DESIGN invariant 6), injectable where tests pin time; and the one
form a moment is written in (WHOIS, RDAP, escrow)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "rfc3339_utc", "utcnow"]

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def rfc3339_utc(ts: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, to the second (rdds.md §1.3), e.g. `2026-12-04T03:15:00Z`; a naive datetime
    is UTC by convention. isoformat, not strftime: strftime cost a few per cent of an uncached answer, which
    prints four or five of these, and writes year 999 with three digits."""
    if ts.tzinfo is not UTC:
        ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    return ts.isoformat(timespec="seconds")[:-6] + "Z"  # without "+00:00"
