"""The scheduler leader lock: of all daemons on one database, the one holding it runs the scheduled sweeps
(DESIGN: "Jobs run once in the cluster"; toolchain §15).

PostgreSQL: a session advisory lock, `pg_try_advisory_lock(NAMESPACE, key(name))`, on a dedicated autocommit
connection of its own (not from a pool, and not through PgBouncer's transaction pooling, which would hand the
session to others). The two-int4 form keeps it apart from every single-bigint lock: pg_locks tells them apart by
`objsubid` (2 here, 1 there), so the audit log's `pg_advisory_xact_lock(0x646F6D70)` never meets it; NAMESPACE
("doms") and a 31-bit BLAKE2 hash of the schema and the name also keep it apart from other programs' two-key locks,
from another name and from an installation in another schema of the same database (advisory locks are
database-wide; the schema is the connection's `current_schema()`). Who leads:
`SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = <NAMESPACE> AND objid = <key> AND objsubid = 2`
(see advisory_key).

How a dead leader is noticed:
* its process dies: the kernel closes its socket, PostgreSQL ends the session and frees the lock within
  milliseconds; a follower takes over at its next poll;
* its host or network goes away: the session sets server-side TCP keepalives (idle 5 s, then 3 probes 1 s
  apart), so PostgreSQL frees the lock after about 8 s instead of the server default of 2 hours; the leader
  itself sets client-side keepalives and a 5 s TCP user timeout, so its next check fails within about 6 s,
  before the lock is freed, when it polls every second or more often;
* it hangs while alive: it keeps the lock (the sweeps' row claims still prevent doubled work).
When the connection breaks, `held` becomes False at the next try_acquire; the one after that reconnects.

SQLite: an exclusive non-blocking `flock` on `<database file>.<name>.lock` beside the database (one host, as the
database file itself). The kernel releases it when the holder dies. The file is never deleted (removing a lock
file others may be waiting on would let two hold "it"). ":memory:": every process has its own database and is
always its leader.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import re
import threading
from pathlib import Path
from typing import Any, Protocol

import psycopg
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from domainpriv.config import ConfigError

__all__ = ["DEFAULT_NAME", "NAMESPACE", "LeaderLock", "advisory_key"]

log = logging.getLogger("domainpriv.scheduling")

DEFAULT_NAME = "domainpriv-scheduler"
NAMESPACE = 0x646F6D73  # "doms" (domainpriv scheduling): the first int4 of the two-key advisory lock

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")  # also a file name suffix on SQLite
_CONNECT_TIMEOUT_SECONDS = 5
_KEEPALIVE_IDLE_SECONDS = 5
_KEEPALIVE_INTERVAL_SECONDS = 1
_KEEPALIVE_COUNT = 3
_TCP_USER_TIMEOUT_MS = 5000  # unacknowledged data (a poll to a vanished server) fails after this
_STATEMENT_TIMEOUT_MS = 5000


def advisory_key(name: str = DEFAULT_NAME, schema: str = "public") -> tuple[int, int]:
    """The (classid, objid) pair of the PostgreSQL lock for `name` in `schema`; both non-negative, so pg_locks
    shows them as they are."""
    digest = hashlib.blake2b(f"{schema}\0{name}".encode(), digest_size=4, person=b"domainpriv-lock").digest()
    return NAMESPACE, int.from_bytes(digest, "big") & 0x7FFFFFFF


class _Lock(Protocol):
    @property
    def held(self) -> bool: ...

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...

    def close(self) -> None: ...


class LeaderLock:
    """One daemon's claim to scheduler leadership on the database at `database_url` (a SQLAlchemy URL, as in
    [database] url). Thread-safe. try_acquire never raises for an unreachable database: it logs once per spell
    and answers False. Raises ConfigError for a URL that is neither PostgreSQL nor SQLite, or a bad name."""

    def __init__(self, database_url: str, *, name: str = DEFAULT_NAME) -> None:
        if not _NAME.fullmatch(name):
            raise ConfigError(f"scheduler lock name {name!r}: letters, digits, '.', '_' and '-' only")
        try:
            url = make_url(database_url)
        except ArgumentError:
            raise ConfigError("config key database.url: not a database URL") from None
        self.name = name
        self._lock = _lock_for(url, name)

    @property
    def held(self) -> bool:
        """Whether this process held the lock at the last try_acquire."""
        return self._lock.held

    def try_acquire(self) -> bool:
        """True when this process holds the lock, just taken or still held (checked on its connection)."""
        return self._lock.try_acquire()

    def release(self) -> None:
        self._lock.release()

    def close(self) -> None:
        """Release the lock and close what holds it. try_acquire may be called again afterwards."""
        self._lock.close()


def _lock_for(url: URL, name: str) -> _Lock:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return _AdvisoryLock(url.set(drivername="postgresql").render_as_string(hide_password=False), name)
    if backend == "sqlite":
        if url.database in (None, "", ":memory:"):
            return _OwnDatabase()
        return _FileLock(Path(f"{url.database}.{name}.lock"))
    raise ConfigError(f"config key database.url: the scheduler leader lock needs PostgreSQL or SQLite, not {backend}")


class _AdvisoryLock:
    def __init__(self, conninfo: str, name: str) -> None:
        self._conninfo = conninfo
        self._key = advisory_key(name)  # until connected: then the key of the connection's schema
        self._name = name
        self._conn: psycopg.Connection[Any] | None = None
        self._held = False
        self._failing = False
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        with self._mutex:
            try:
                conn = self._connected()
                if self._held:
                    conn.execute("SELECT 1")
                else:
                    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", self._key).fetchone()
                    self._held = bool(row and row[0])
            except psycopg.Error as exc:
                self._failed(exc)
                return False
            if self._failing:
                log.warning("scheduler leader lock: database reachable again")
                self._failing = False
            return self._held

    def release(self) -> None:
        with self._mutex:
            if not self._held or self._conn is None:
                return
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", self._key)
            except psycopg.Error as exc:  # the session, and with it the lock, is gone or going
                self._failed(exc)
            self._held = False

    def close(self) -> None:
        self.release()
        with self._mutex:
            self._drop()

    def _connected(self) -> psycopg.Connection[Any]:
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        conn = psycopg.connect(
            self._conninfo,
            autocommit=True,
            connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            application_name=self._name,
            keepalives=1,
            keepalives_idle=_KEEPALIVE_IDLE_SECONDS,
            keepalives_interval=_KEEPALIVE_INTERVAL_SECONDS,
            keepalives_count=_KEEPALIVE_COUNT,
            tcp_user_timeout=_TCP_USER_TIMEOUT_MS,
        )
        try:
            # The server's side: notice a vanished leader host in seconds and free its lock (ignored on a Unix
            # socket, where the kernel sees the peer go).
            conn.execute(f"SET tcp_keepalives_idle = {_KEEPALIVE_IDLE_SECONDS}")
            conn.execute(f"SET tcp_keepalives_interval = {_KEEPALIVE_INTERVAL_SECONDS}")
            conn.execute(f"SET tcp_keepalives_count = {_KEEPALIVE_COUNT}")
            conn.execute(f"SET tcp_user_timeout = {_TCP_USER_TIMEOUT_MS}")
            conn.execute(f"SET statement_timeout = {_STATEMENT_TIMEOUT_MS}")
            row = conn.execute("SELECT current_schema()").fetchone()
            self._key = advisory_key(self._name, (row[0] if row else None) or "")
        except BaseException:
            conn.close()
            raise
        self._conn = conn
        return conn

    def _failed(self, exc: psycopg.Error) -> None:
        if self._held:
            log.warning("scheduler leader lock: connection lost (%s); the lock may be someone else's now",
                        type(exc).__name__)  # fmt: skip
        elif not self._failing:
            log.warning("scheduler leader lock: database unreachable (%s)", type(exc).__name__)
        self._failing = True
        self._held = False
        self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
            self._conn = None


class _FileLock:
    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None
        self._failing = False
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return True
            try:
                self._path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                if not self._failing:
                    log.warning("scheduler leader lock: cannot open %s (%s)", self._path, exc.strerror)
                self._failing = True
                return False
            self._failing = False
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:  # BlockingIOError: another process holds it
                os.close(fd)
                return False
            self._fd = fd
            return True

    def release(self) -> None:
        with self._mutex:
            if self._fd is not None:
                os.close(self._fd)  # closing the only descriptor of this open file releases the flock
                self._fd = None

    def close(self) -> None:
        self.release()


class _OwnDatabase:
    """An in-memory SQLite database is this process's own, and so is its leadership."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def try_acquire(self) -> bool:
        self._held = True
        return True

    def release(self) -> None:
        self._held = False

    def close(self) -> None:
        self._held = False
