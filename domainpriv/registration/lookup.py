"""The public read path's load: one domain by name in ONE statement returning one plain row.

Why not the ORM (`services.get_domain`): a public server loads a record on every cache miss, and a registrar's
WHOIS/RDAP traffic is spread over its whole namespace, so the miss is the hot path at scale. The ORM load was
about 13 index scans in 2 transactions and 4 ms of Python per miss (issue 7); this is a single indexed lookup
with its joins by primary key, the name servers and the consents in force folded in by correlated subqueries,
run without a transaction of its own (one statement is one consistent snapshot). The result is the same frozen
`DomainRecord` the policy decides on (STYLE §3, stage "load").

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
from sqlalchemy import Engine, String, and_, bindparam, case, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql import Select

from domainpriv.registration.records import ContactRecord, DomainRecord, NameserverRecord
from domainpriv.registration.validation import ContactData, DsRecord
from domainpriv.store import Account, Consent, Contact, Domain, Nameserver
from domainpriv.store.session import libpq_url
from domainpriv.vocabulary import ConsentPurpose

PUBLIC_ROLES: Final = ("registrant", "tech")
_CONTACT_FIELDS: Final = (
    "handle", "name", "org", "street1", "street2", "street3", "city", "state", "postal_code", "country", "phone",
    "phone_ext", "fax", "fax_ext", "email", "verified_at", "created_at", "updated_at",
)  # fmt: skip


def _statement(batch: bool = False) -> Select[Any]:
    """By one name, or (`batch`, PostgreSQL only) by an array of names: `name = ANY(:names)`, one SQL text for
    any number of names, so it stays a prepared statement."""
    domain = Domain.__table__
    account = Account.__table__.alias("a")
    parent = Account.__table__.alias("p")
    columns: list[Any] = [
        domain.c.name, domain.c.registry_domain_id, domain.c.created_at, domain.c.expires_at, domain.c.updated_at,
        domain.c.statuses, domain.c.ds_records, domain.c.privacy_mode, domain.c.relay_alias,
        account.c.handle.label("account"), parent.c.handle.label("reseller"), parent.c.name.label("reseller_name"),
    ]  # fmt: skip
    joined = domain.join(account, account.c.id == domain.c.account_id).outerjoin(
        parent, parent.c.id == account.c.parent_id
    )
    for role in PUBLIC_ROLES:
        contact = Contact.__table__.alias(role)
        joined = joined.outerjoin(contact, contact.c.id == domain.c[f"{role}_id"])
        columns += [contact.c[f].label(f"{role}_{f}") for f in _CONTACT_FIELDS]
        # A domain uses its own account's contacts or its reseller's (rules.check_contact_owner): the owner's
        # handle is one of the two rows already joined; the subquery is for data written before that rule.
        owner = Account.__table__.alias(f"{role}_owner")
        columns.append(
            case(
                (contact.c.account_id == account.c.id, account.c.handle),
                (contact.c.account_id == parent.c.id, parent.c.handle),
                else_=select(owner.c.handle).where(owner.c.id == contact.c.account_id).scalar_subquery(),
            ).label(f"{role}_account")
        )
    ns = Nameserver.__table__
    columns.append(
        select(func.aggregate_strings(cast(ns.c.position, String) + "\t" + ns.c.host + "\t" + ns.c.addresses, "\n"))
        .where(ns.c.domain_id == domain.c.id)
        .scalar_subquery()
        .label("nameservers")
    )
    consent, newest = Consent.__table__.alias("c"), Consent.__table__.alias("c2")
    newest_id = (
        select(func.max(newest.c.id))
        .where(and_(newest.c.account_id == consent.c.account_id, newest.c.purpose == consent.c.purpose))
        .scalar_subquery()
    )
    columns.append(
        select(func.aggregate_strings(consent.c.purpose, ","))
        .where(consent.c.account_id == domain.c.account_id, consent.c.granted.is_(True), consent.c.id == newest_id)
        .scalar_subquery()
        .label("consents")
    )
    if batch:
        names = bindparam("names", [""], type_=postgresql.ARRAY(String))
        return select(*columns).select_from(joined).where(domain.c.name == func.any(names))
    return select(*columns).select_from(joined).where(domain.c.name == bindparam("name", ""))


FIND_PUBLIC_DOMAIN: Final = _statement()
FIND_PUBLIC_DOMAINS: Final = _statement(batch=True)


_LABELS: Final = tuple(str(c.key) for c in FIND_PUBLIC_DOMAIN.selected_columns)


class _Prepared:
    """FIND_PUBLIC_DOMAIN compiled once for one dialect, run on the pooled DBAPI connection.

    Why not `Connection.execute`: with ~50 columns, SQLAlchemy's per-execution result set-up (cursor description,
    column objects, a Result) cost more than the query itself. The SQL text, the parameter order and each column's
    result processor (UTC timestamps, the privacy-mode enum, SQLite's text dates) are SQLAlchemy's own, computed
    once; only the row's values go through them. psycopg prepares the statement server-side after a few runs."""

    def __init__(self, engine: Engine, statement: Select[Any] = FIND_PUBLIC_DOMAIN, key: str = "name") -> None:
        dialect = engine.dialect
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self._key = key
        self._params = compiled.construct_params()
        self._positional = compiled.positiontup if dialect.positional else None
        self.processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns
        ]
        self._dialect = dialect

    def params(self, value: Any) -> Any:
        params = {**self._params, self._key: value}
        return params if self._positional is None else [params[k] for k in self._positional]

    def record(self, row: Any) -> DomainRecord:
        values = (v if p is None else p(v) for p, v in zip(self.processors, row, strict=True))
        return _record(dict(zip(_LABELS, values, strict=True)))

    def is_disconnect(self, exc: Exception, dbapi_connection: Any, cursor: Any) -> bool:
        return isinstance(exc, self._dialect.loaded_dbapi.Error) and bool(
            self._dialect.is_disconnect(exc, dbapi_connection, cursor)
        )


_CURSOR: Final = "domainpriv_lookup_cursor"
_PREPARED: weakref.WeakKeyDictionary[Engine, _Prepared] = weakref.WeakKeyDictionary()


def find_public_domain(engine: Engine, a_label: str) -> DomainRecord | None:
    """The record of a normalised name with its published roles only, or None if there is no such domain.

    Without pre-ping (a round trip per checkout), a pooled connection that died since its last use fails on
    first use: it is invalidated, and the lookup is tried once more on a fresh connection. Errors after that
    (the database is down, the schema missing) propagate as the driver raised them."""
    prepared = _PREPARED.get(engine)
    if prepared is None:
        prepared = _PREPARED[engine] = _Prepared(engine)
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


def _record(m: dict[str, Any]) -> DomainRecord:
    return DomainRecord(
        name=m["name"],
        account=m["account"],
        reseller=m["reseller"],
        reseller_name=m["reseller_name"],
        registry_domain_id=m["registry_domain_id"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        updated_at=m["updated_at"],
        statuses=tuple(m["statuses"].split()),
        ds_records=tuple(DsRecord.from_text(line) for line in m["ds_records"].splitlines()),
        privacy_mode=m["privacy_mode"],
        relay_alias=m["relay_alias"],
        contacts={role: _contact(m, role) for role in PUBLIC_ROLES},
        nameservers=_nameservers(m["nameservers"]),
        consents=frozenset(ConsentPurpose(p) for p in (m["consents"] or "").split(",") if p),
    )


def _contact(m: dict[str, Any], role: str) -> ContactRecord | None:
    handle = m[f"{role}_handle"]
    if handle is None:
        return None
    street = tuple(s for s in (m[f"{role}_street1"], m[f"{role}_street2"], m[f"{role}_street3"]) if s is not None)
    data = ContactData(
        m[f"{role}_name"], m[f"{role}_org"], street, m[f"{role}_city"], m[f"{role}_state"],
        m[f"{role}_postal_code"], m[f"{role}_country"], m[f"{role}_phone"], m[f"{role}_phone_ext"],
        m[f"{role}_fax"], m[f"{role}_fax_ext"], m[f"{role}_email"],
    )  # fmt: skip
    return ContactRecord(
        handle, m[f"{role}_account"], data, m[f"{role}_verified_at"], m[f"{role}_created_at"], m[f"{role}_updated_at"]
    )


def _nameservers(aggregated: str | None) -> tuple[NameserverRecord, ...]:
    """`position TAB host TAB addresses` lines in any order (string aggregation has no portable ORDER BY)."""
    if not aggregated:
        return ()
    entries = sorted(
        (int(pos), host, addresses) for pos, host, addresses in (line.split("\t") for line in aggregated.split("\n"))
    )
    return tuple(NameserverRecord(host, tuple(addresses.split())) for _, host, addresses in entries)


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
        self._prepared = _Prepared(engine, FIND_PUBLIC_DOMAINS, "names")
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
