"""The engine and the unit of work: the one place a database transaction begins and ends.

SQLite needs care to behave like a server database under several writers: foreign keys on, WAL so readers
never block, and write transactions opened with ``BEGIN IMMEDIATE`` so two writers queue on the lock instead
of one failing half-way with "database is locked" when it upgrades a read lock.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from domainpriv.clock import Clock, utcnow

WRITE_OPTION = "domainpriv_write"


def make_engine(
    url: str | URL, *, sqlite_busy_timeout_seconds: float = 30.0, echo: bool = False, pool_size: int = 5,
    max_overflow: int = 10,
) -> Engine:  # fmt: skip
    """Create the engine for `url`, creating the SQLite file's folder if needed. A server sizes the PostgreSQL
    pool to the threads that use it at once (`pool_size` kept open, up to `max_overflow` more)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True, echo=echo, pool_size=pool_size, max_overflow=max_overflow)
    return _sqlite_engine(parsed, sqlite_busy_timeout_seconds, echo)


def make_read_engine(
    url: str | URL, *, pool_size: int, sqlite_busy_timeout_seconds: float = 30.0, connect_timeout_seconds: int = 5
) -> Engine:
    """The engine of the public read path: single-statement reads, so on PostgreSQL autocommit (no BEGIN and
    ROLLBACK round trips around each lookup) and no pre-ping (a round trip per checkout; callers retry once on a
    connection found dead instead: registration/lookup.py). `pool_size` connections, no overflow: the lookup
    pool bounds them. A server that does not answer fails a connection attempt after `connect_timeout_seconds`
    instead of hanging a lookup thread for minutes."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            parsed,
            pool_pre_ping=False,
            isolation_level="AUTOCOMMIT",
            pool_size=pool_size,
            max_overflow=0,
            pool_reset_on_return=None,  # autocommit: there is never a transaction to roll back
            connect_args={"connect_timeout": connect_timeout_seconds},
        )
    return _sqlite_engine(parsed, sqlite_busy_timeout_seconds, False)


def libpq_url(engine: Engine) -> str:
    """The engine's PostgreSQL URL as libpq takes it (for psycopg's own connections: LISTEN, asyncio lookups)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _sqlite_engine(parsed: URL, sqlite_busy_timeout_seconds: float, echo: bool) -> Engine:
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo)
    timeout_ms = int(sqlite_busy_timeout_seconds * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute(f"PRAGMA busy_timeout = {timeout_ms}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


_FACTORIES: weakref.WeakKeyDictionary[Engine, dict[bool, sessionmaker[Session]]] = weakref.WeakKeyDictionary()


def session_factory(engine: Engine, *, write: bool = True) -> sessionmaker[Session]:
    """One factory per engine and kind, kept: each sessionmaker makes its own Session subclass, whose event
    dispatch SQLAlchemy builds on first use, which cost more than a short write transaction itself."""
    factories = _FACTORIES.setdefault(engine, {})
    factory = factories.get(write)
    if factory is None:
        bind = engine.execution_options(**{WRITE_OPTION: True}) if write else engine
        factory = factories[write] = sessionmaker(bind=bind, expire_on_commit=False, autoflush=True)
    return factory


class UnitOfWork:
    """One transaction: ``with uow: ...; uow.commit()``. Leaving the block without commit rolls back.

    Services receive a UnitOfWork and own the transaction; callers (CLI, servers, jobs) never commit.
    The clock is injected so tests can pin `now`.

    A service may compose others in its one transaction (a self-service change = a registration change + its
    notices): a `with uow:` inside an open one joins it, and its `commit()` only flushes; the outermost block
    commits or rolls back everything. An exception that leaves an inner block spoils the transaction: the outer
    commit then refuses, so a caught error cannot commit half a change.

    The transaction belongs to the thread that opened it: one UnitOfWork may be shared by a server's threads
    (the portal's request handlers run in a thread pool), each `with uow:` in its own thread its own transaction.
    """

    def __init__(self, engine: Engine, *, clock: Clock = utcnow, read_only: bool = False) -> None:
        self.engine = engine
        self.clock = clock
        self.read_only = read_only
        self._sessions = session_factory(engine, write=not read_only)
        self._tx = _Transaction()

    @property
    def session(self) -> Session:
        session = self._tx.session
        if session is None:
            raise RuntimeError("UnitOfWork used outside its `with` block")
        return session

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __enter__(self) -> Self:
        tx = self._tx
        if tx.session is None:
            tx.session = self._sessions()
            tx.spoiled = False
        tx.depth += 1
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tx = self._tx
        tx.depth -= 1
        if tx.depth > 0:
            tx.spoiled = tx.spoiled or exc_type is not None
            return
        try:
            if self.read_only and exc_type is None:
                # Ends a read like a rollback would (nothing was written), but psycopg drops every prepared
                # statement of the connection on ROLLBACK: reads ending that way were never prepared.
                with contextlib.suppress(SQLAlchemyError):  # a read that failed inside: close() rolls back
                    self.session.commit()
            self.session.close()  # rolls back what was not committed; loaded objects stay readable
        finally:
            tx.session = None

    def commit(self) -> None:
        if self.read_only:
            raise RuntimeError("read-only UnitOfWork cannot commit")
        if self._tx.spoiled:
            raise RuntimeError("a joined unit of work failed: this transaction cannot commit")
        if self._tx.depth > 1:
            self.session.flush()  # joined: the outermost block commits
            return
        self.session.commit()

    def reading(self) -> UnitOfWork:
        """A read-only sibling on the same engine and clock (plain BEGIN: never waits for writers)."""
        return UnitOfWork(self.engine, clock=self.clock, read_only=True)


class _Transaction(threading.local):
    """A unit of work's open transaction, one per thread (the class attributes are each thread's start)."""

    session: Session | None = None
    depth: int = 0
    spoiled: bool = False
