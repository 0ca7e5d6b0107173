"""The public read path's load: one domain by name in ONE statement (record_query.py), without a transaction of
its own (one statement is one consistent snapshot), on a cursor kept with its pooled connection; and the asyncio
variant that fetches every miss of one event-loop iteration in one statement.

Only the roles the public may see are loaded: admin and billing contacts are never published (privacy/policy.py),
so the public servers never hold them, not even for the moment of a miss (least privilege). The record's
`contacts` therefore has the keys `registrant` and `tech` only; staff views use `services.get_domain`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import weakref
from typing import Any, Final

import psycopg
from sqlalchemy import Engine

from domainpriv.registration.record_query import Prepared, record_statement
from domainpriv.registration.records import DomainRecord
from domainpriv.store.session import libpq_url

PUBLIC_ROLES: Final = ("registrant", "tech")
FIND_PUBLIC_DOMAIN: Final = record_statement(PUBLIC_ROLES)
FIND_PUBLIC_DOMAINS: Final = record_statement(PUBLIC_ROLES, batch=True)


_CURSOR: Final = "domainpriv_lookup_cursor"
_PREPARED: weakref.WeakKeyDictionary[Engine, Prepared] = weakref.WeakKeyDictionary()


def find_public_domain(engine: Engine, a_label: str) -> DomainRecord | None:
    """The record of a normalised name with its published roles only, or None if there is no such domain.

    Without pre-ping (a round trip per checkout), a pooled connection that died since its last use fails on
    first use: it is invalidated, and the lookup is tried once more on a fresh connection. Errors after that
    (the database is down, the schema missing) propagate as the driver raised them."""
    prepared = _PREPARED.get(engine)
    if prepared is None:
        prepared = _PREPARED[engine] = Prepared(engine.dialect, FIND_PUBLIC_DOMAIN, PUBLIC_ROLES)
    for attempt in (1, 2):
        connection = engine.raw_connection()
        cursor = None
        try:
            # One cursor per DBAPI connection, kept with it (the pool's per-connection `info` lives as long as
            # the connection): creating a cursor per lookup was a measurable part of the miss.
            cursor = connection.info.get(_CURSOR)
            if cursor is None:
                cursor = connection.info[_CURSOR] = connection.cursor()
            cursor.execute(prepared.sql, prepared.params(a_label))
            row = cursor.fetchone()
        except Exception as exc:
            connection.info.pop(_CURSOR, None)
            if not prepared.is_disconnect(exc, connection.dbapi_connection, cursor):
                raise
            connection.invalidate(exc)
            # The others in the pool are most likely dead too (a restart, a fail-over): start a fresh pool rather
            # than find each of them out on a query (public API; what SQLAlchemy's own disconnect handling does).
            engine.dispose(close=False)
            if attempt == 2:
                raise
            continue
        finally:
            connection.close()  # back to the pool (nothing to roll back: autocommit)
        return None if row is None else prepared.record(row)
    raise AssertionError("unreachable")  # pragma: no cover


class AsyncLookups:
    """The public lookup on psycopg's asyncio connections (PostgreSQL), batched: every miss of one event-loop
    iteration is fetched by one `name = ANY(:names)` statement.

    Why: handing each miss to a lookup thread and back, and psycopg's per-statement work, cost about as much CPU
    as the query itself (bench/RESULTS.md, issue 7); a batch pays that once for all the names that missed together,
    and PostgreSQL executes one statement instead of many. A miss waits at most for the end of the loop iteration
    it arrived in. At most `size` connections (batches in flight), opened when first needed; one found dead is
    closed and its batch tried once more on a fresh one. Use it from one event loop."""

    MAX_BATCH = 64

    def __init__(self, engine: Engine, size: int, *, connect_timeout_seconds: int = 5) -> None:
        if engine.dialect.name != "postgresql":
            raise ValueError("asyncio lookups need PostgreSQL")
        self._prepared = Prepared(engine.dialect, FIND_PUBLIC_DOMAINS, PUBLIC_ROLES, "names")
        self._dsn = libpq_url(engine)
        self._size = size
        self._connect_timeout = connect_timeout_seconds
        self._idle: list[psycopg.AsyncConnection[Any]] = []
        self._opened = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._batch: dict[str, asyncio.Future[DomainRecord | None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def find(self, a_label: str) -> DomainRecord | None:
        """As `find_public_domain`. Raises the driver's errors when the database cannot answer."""
        future = self._batch.get(a_label)
        if future is None:
            loop = asyncio.get_running_loop()
            if not self._batch:
                loop.call_soon(self._flush)  # after the callbacks already queued: the rest of this iteration
            future = self._batch[a_label] = loop.create_future()
            if len(self._batch) >= self.MAX_BATCH:
                self._flush()
        return await asyncio.shield(future)

    def _flush(self) -> None:
        batch, self._batch = self._batch, {}
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: dict[str, asyncio.Future[DomainRecord | None]]) -> None:
        try:
            found = await self._fetch(list(batch))
        except BaseException as exc:
            for future in batch.values():
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved: a waiter that went away must not make asyncio warn
            if not isinstance(exc, Exception):
                raise
            return
        for name, future in batch.items():
            if not future.done():
                future.set_result(found.get(name))

    async def _fetch(self, names: list[str]) -> dict[str, DomainRecord]:
        prepared = self._prepared
        for attempt in (1, 2):
            conn = await self._acquire()
            try:
                cursor = await conn.execute(prepared.sql, prepared.params(names))
                rows = await cursor.fetchall()
            except psycopg.OperationalError:  # the connection is gone (server restarted, network): a fresh one
                await self._discard(conn)
                if attempt == 2:
                    raise
                continue
            except psycopg.Error:  # e.g. no schema: the connection itself is fine (autocommit, no transaction)
                self._release(conn)
                raise
            except BaseException:  # cancelled mid-query: its state is unknown
                await self._discard(conn)
                raise
            self._release(conn)
            records = (prepared.record(row) for row in rows)
            return {record.name: record for record in records}
        raise AssertionError("unreachable")  # pragma: no cover

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()

    async def _acquire(self) -> psycopg.AsyncConnection[Any]:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._opened < self._size:
                self._opened += 1
                try:
                    return await psycopg.AsyncConnection.connect(
                        self._dsn, autocommit=True, connect_timeout=self._connect_timeout,
                        application_name="domainpriv-lookup",
                    )  # fmt: skip
                except BaseException:
                    self._opened -= 1
                    self._wake()
                    raise
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _release(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._idle.append(conn)
        self._wake()

    async def _discard(self, conn: psycopg.AsyncConnection[Any]) -> None:
        self._opened -= 1
        self._wake()
        with contextlib.suppress(psycopg.Error):
            await conn.close()

    def _wake(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
