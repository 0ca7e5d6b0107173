"""Following the change feed in a daemon: a thread that reads new feed rows and tells a consumer (the public
servers' record cache) which domains to drop.

How fresh (documented in docs/operations.md and measured by tests/integration/test_change_feed_follower.py):

* **A commit in this process** is applied before the committing service returns: the follower polls at once from
  SQLAlchemy's `after_commit` hook of every session that wrote feed rows. On one database (SQLite, or a
  PostgreSQL primary without `read_url`) the next answer therefore shows the change.
* **A commit in another process** is seen within `poll_interval_seconds` (default 0.5 s), sooner on PostgreSQL,
  where the follower LISTENs on the primary and a NOTIFY sent by every audited change wakes it at commit. The
  NOTIFY is only a wake-up: a lost one costs at most one poll interval, never a change. Wake-ups within 50 ms
  of the previous poll are taken together (so a steady stream of commits costs at most 20 polls a second).
* **With a read replica** (`database.read_url`) the feed and the data are read from the replica, so a change is
  seen within replication lag + the poll interval. NOTIFY does not reach a hot standby; the follower still
  listens on the primary and polls the replica when woken. The replica's lag behind the primary is measured
  (feed positions on both) and logged when it exceeds `lag_warning_seconds`.
* **The feed cannot be read** (database down, replica gone): the consumer keeps serving what it has for
  `stale_grace_seconds`, then stops serving cached entries (every lookup goes to the database and fails
  visibly) until the feed is readable again; then the follower catches up from its position, so nothing changed
  meanwhile is missed. A follower that fell behind the pruning horizon resets its consumer.

The follower also prunes feed rows older than `retention_hours` on the primary, once per `prune_interval_seconds`
(several daemons pruning at once is harmless: the same rows, one audit event).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import weakref
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine, event
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from domainpriv.audit import CHANGE_CHANNEL
from domainpriv.changes.reader import ChangeBatch, feed_position, read_changes
from domainpriv.changes.services import prune_changes
from domainpriv.changes.writer import FEED_WRITTEN
from domainpriv.clock import Clock, utcnow
from domainpriv.store.session import UnitOfWork, libpq_url

log = logging.getLogger("domainpriv.changes")

_LISTEN_RETRY_SECONDS = 5.0
_LAG_CHECK_SECONDS = 2.0
_WARN_EVERY_SECONDS = 30.0
_WAKEUP_GAP_SECONDS = 0.05  # at most 20 NOTIFY-driven polls a second, whatever the write rate


class FeedConsumer(Protocol):
    def invalidate(self, names: Collection[str]) -> None: ...

    def reset(self) -> None: ...

    def set_serving(self, serving: bool) -> None: ...


@dataclass(frozen=True, slots=True)
class FollowerSettings:
    poll_interval_seconds: float = 0.5
    stale_grace_seconds: float = 60.0
    lag_warning_seconds: float = 5.0
    retention_hours: float = 168.0  # 0: never prune
    prune_interval_seconds: float = 3600.0


class ChangeFollower:
    """Reads the feed from `read_engine` and applies it to `consumer`. `primary_engine` (the writable database)
    is used for pruning and, when it differs from `read_engine`, to measure the replica's lag; `listen_dsn`, a
    libpq URL of the PostgreSQL primary, for NOTIFY wake-ups."""

    def __init__(
        self,
        read_engine: Engine,
        consumer: FeedConsumer,
        *,
        settings: FollowerSettings = FollowerSettings(),
        primary_engine: Engine | None = None,
        listen_dsn: str | None = None,
        clock: Clock = utcnow,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read_engine
        self._primary = primary_engine
        # Lag is measured only against a different database (database.read_url), not a second pool of the same.
        self._replica = primary_engine is not None and str(primary_engine.url) != str(read_engine.url)
        self._housekeeping_failed = False
        self._consumer = consumer
        self._settings = settings
        self._listen_dsn = listen_dsn
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()  # one poll at a time: the thread's and after-commit ones
        self._position: int | None = None
        self._last_read: float | None = None
        self._polled_at = 0.0
        self._serving = False
        self._failing_since: float | None = None
        self._last_warning = 0.0
        self._behind: tuple[int, float] | None = None  # (primary position not yet seen here, first seen at)
        self._last_lag_check = 0.0
        self._lag_warned = False
        self._next_prune = monotonic() + 60.0  # not in the middle of start-up
        self.resets = 0
        self._stop = threading.Event()
        self._listen: psycopg.Connection[Any] | None = None
        self._next_listen_attempt = 0.0
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Read the feed's position once (if the database answers) and start following in a thread."""
        self.poll_now()
        _LOCAL_FOLLOWERS.add(self)
        self._thread = threading.Thread(target=self._run, name="domainpriv-change-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        _LOCAL_FOLLOWERS.discard(self)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._listen is not None:
            self._listen.close()
            self._listen = None

    # -- polling -----------------------------------------------------------------------------------------------

    def poll_now(self) -> bool:
        """Read and apply everything new in the feed; False if the feed could not be read (logged)."""
        with self._lock:
            self._polled_at = self._monotonic()
            try:
                self._read_and_apply()
            except SQLAlchemyError as exc:
                self._read_failed(exc)
                return False
            self._read_succeeded()
            return True

    def _read_and_apply(self) -> None:
        if self._position is None:
            with self._read.connect() as conn:
                self._position = feed_position(conn)
            self._consumer.reset()  # whatever a consumer holds predates our position
            log.info("following the change feed from position %d", self._position)
        while True:
            with self._read.connect() as conn:
                batch = read_changes(conn, self._position)
            self._apply(batch)
            self._position = batch.position
            if not batch.more:
                return

    def _apply(self, batch: ChangeBatch) -> None:
        if batch.behind_horizon:
            self.resets += 1
            log.warning(
                "change feed: position %d is behind the pruning horizon (rows already pruned); cache reset",
                batch.after,
            )
        if batch.everything:
            self._consumer.reset()
        elif batch.names:
            self._consumer.invalidate(batch.names)

    def _read_succeeded(self) -> None:
        now = self._monotonic()
        if self._failing_since is not None:
            log.warning("change feed readable again after %.1f s; caught up to position %s",
                        now - self._failing_since, self._position)  # fmt: skip
            self._failing_since = None
        self._last_read = now
        if not self._serving:
            self._serving = True
            self._consumer.set_serving(True)

    def _read_failed(self, exc: BaseException) -> None:
        now = self._monotonic()
        if self._failing_since is None:
            self._failing_since = now
            log.warning(
                "change feed unreadable (%s); cached answers served for up to %g s more",
                type(exc).__name__,
                self._settings.stale_grace_seconds,
            )
        unverified = now - (self._last_read if self._last_read is not None else self._failing_since)
        if self._serving and unverified > self._settings.stale_grace_seconds:
            self._serving = False
            self._consumer.set_serving(False)
            log.warning("change feed unreadable for %.0f s: cached answers no longer served", unverified)

    # -- the thread --------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wait()
            if self._stop.is_set():
                return
            self.poll_now()
            try:
                self._check_lag()
                self._maybe_prune()
            except Exception as exc:  # bookkeeping must never stop the follower
                if not self._housekeeping_failed:  # once per spell: the poll's own warning says more
                    log.warning("change feed housekeeping (lag check, pruning) failed (%s)", type(exc).__name__)
                self._housekeeping_failed = True
            else:
                self._housekeeping_failed = False

    def _wait(self) -> None:
        """Until a NOTIFY arrives on the primary or the poll interval passes. Wake-ups less than
        `_WAKEUP_GAP_SECONDS` after the previous poll wait for the rest of that gap and are taken together: under
        a steady stream of changes one poll reads several, instead of one poll per commit."""
        timeout = self._settings.poll_interval_seconds
        conn = self._listening()
        if conn is None:
            self._stop.wait(timeout)
            return
        try:
            woken = any(True for _ in conn.notifies(timeout=timeout, stop_after=1))
            if woken:
                rest = _WAKEUP_GAP_SECONDS - (self._monotonic() - self._polled_at)
                if rest > 0:
                    self._stop.wait(rest)
                for _ in conn.notifies(timeout=0):  # drained: the poll that follows reads their rows
                    pass
        except psycopg.Error as exc:
            log.warning("change feed wake-ups lost (%s); polling every %g s", type(exc).__name__, timeout)
            self._drop_listen()

    def _listening(self) -> psycopg.Connection[Any] | None:
        if self._listen_dsn is None:
            return None
        if self._listen is not None and not self._listen.closed:
            return self._listen
        now = self._monotonic()
        if now < self._next_listen_attempt:
            return None
        self._next_listen_attempt = now + _LISTEN_RETRY_SECONDS
        try:
            conn = psycopg.connect(
                self._listen_dsn, autocommit=True, connect_timeout=5, application_name="domainpriv-change-feed"
            )
            conn.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error:
            return None
        self._listen = conn
        return conn

    def _drop_listen(self) -> None:
        if self._listen is not None:
            with contextlib.suppress(psycopg.Error):
                self._listen.close()
            self._listen = None

    def _check_lag(self) -> None:
        """With a replica: how long ago the primary reached a feed position this follower has not seen yet."""
        if self._primary is None or not self._replica or self._position is None:
            return
        now = self._monotonic()
        if now - self._last_lag_check < _LAG_CHECK_SECONDS:
            return
        self._last_lag_check = now
        with self._primary.connect() as conn:
            head = feed_position(conn)
        if self._behind is not None and self._behind[0] <= self._position:
            if self._lag_warned:
                log.warning("read replica caught up with the primary after %.1f s", now - self._behind[1])
            self._behind, self._lag_warned = None, False
        if head > self._position and self._behind is None:
            self._behind = (head, now)
        if self._behind is None:
            return
        lag = now - self._behind[1]
        if lag > self._settings.lag_warning_seconds and now - self._last_warning > _WARN_EVERY_SECONDS:
            self._last_warning, self._lag_warned = now, True
            log.warning("read replica behind the primary by at least %.1f s (feed position %d < %d)",
                        lag, self._position, self._behind[0])  # fmt: skip

    def _maybe_prune(self) -> None:
        hours = self._settings.retention_hours
        if self._primary is None or hours <= 0 or self._monotonic() < self._next_prune:
            return
        self._next_prune = self._monotonic() + self._settings.prune_interval_seconds
        report = prune_changes(UnitOfWork(self._primary, clock=self._clock),
                               older_than=self._clock() - timedelta(hours=hours))  # fmt: skip
        if report.rows:
            log.info("change feed pruned: %d rows, horizon now %d", report.rows, report.pruned_through)


CHANNEL = CHANGE_CHANNEL


def listen_dsn_for(engine: Engine) -> str | None:
    """The libpq URL for NOTIFY wake-ups from the database of `engine` (PostgreSQL only)."""
    return libpq_url(engine) if engine.url.get_backend_name() == "postgresql" else None


# Followers in this process, polled right after any local commit that wrote feed rows, so that this daemon's
# next answer shows its own changes.
_LOCAL_FOLLOWERS: weakref.WeakSet[ChangeFollower] = weakref.WeakSet()


@event.listens_for(Session, "after_commit")
def _after_local_commit(session: Session) -> None:
    if not session.info.pop(FEED_WRITTEN, False):
        return
    for follower in list(_LOCAL_FOLLOWERS):
        try:
            follower.poll_now()
        except Exception as exc:  # the commit is done; a failed poll must not turn it into an error
            log.warning("change feed poll after a local commit failed (%s)", type(exc).__name__)
