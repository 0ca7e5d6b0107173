"""A record cache followed by a real change-feed follower, as the daemon sets them up."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine

from domainpriv.changes.follower import ChangeFollower, FollowerSettings, listen_dsn_for
from domainpriv.privacy import PublicRecord
from domainpriv.rdds.cache import RecordCache

FAST_POLL_SECONDS = 0.05


@contextmanager
def followed_cache(
    engine: Engine,
    *,
    max_entries: int = 1000,
    poll_interval_seconds: float = FAST_POLL_SECONDS,
    listen: bool = True,
    stale_grace_seconds: float = 60.0,
    primary: Engine | None = None,
) -> Iterator[tuple[RecordCache[PublicRecord], ChangeFollower]]:
    """`engine` is the database the cache's loads read (a replica, or the primary itself); `primary` the
    writable one (default: `engine`), which also sends the NOTIFY wake-ups when `listen`."""
    primary = primary or engine
    cache = RecordCache[PublicRecord](max_entries)
    settings = FollowerSettings(
        poll_interval_seconds=poll_interval_seconds, stale_grace_seconds=stale_grace_seconds, lag_warning_seconds=1.0
    )
    follower = ChangeFollower(
        engine, cache, settings=settings, primary_engine=primary, listen_dsn=listen_dsn_for(primary) if listen else None
    )
    follower.start()
    try:
        yield cache, follower
    finally:
        follower.close()
