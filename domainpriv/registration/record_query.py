"""One domain's record in ONE statement returning one plain row: the load of the public read path and of the
audited writes.

Why not the ORM: a public server loads a record on every cache miss, and an audited change loads one before and
hands one back after; the ORM load (joined contacts and accounts, a second query for the name servers, a third
for the consents, the object graph) cost about 13 index scans and 4-10 ms of Python (issue 7). This is a single
indexed lookup with its joins by primary key, the name servers and the consents in force folded in by correlated
subqueries; the result is the same frozen `DomainRecord` (STYLE §3, stage "load").

`roles` chooses which contacts are loaded: the public servers ask for the published roles only (least privilege:
admin and billing contacts are never published, so those servers never hold them); the services ask for all four.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import String, and_, bindparam, case, cast, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from domainpriv.registration.records import ContactRecord, DomainRecord, NameserverRecord
from domainpriv.registration.validation import ContactData, DsRecord
from domainpriv.store import CONTACT_ROLES, Account, Consent, Contact, Domain, Nameserver
from domainpriv.vocabulary import ConsentPurpose

_CONTACT_FIELDS: Final = (
    "handle", "name", "org", "street1", "street2", "street3", "city", "state", "postal_code", "country", "phone",
    "phone_ext", "fax", "fax_ext", "email", "verified_at", "created_at", "updated_at",
)  # fmt: skip


def record_statement(roles: Sequence[str], *, batch: bool = False, for_update: bool = False) -> Select[Any]:
    """By one name (`:name`), or (`batch`, PostgreSQL only) by an array of names: `name = ANY(:names)`, one SQL
    text for any number of names, so it stays a prepared statement. `for_update` locks the domain row (PostgreSQL;
    a SQLite write transaction holds the database lock already)."""
    domain = Domain.__table__
    account = Account.__table__.alias("a")
    parent = Account.__table__.alias("p")
    columns: list[Any] = [
        domain.c.id, domain.c.account_id, account.c.parent_id.label("account_parent_id"),
        domain.c.name, domain.c.registry_domain_id, domain.c.created_at, domain.c.expires_at, domain.c.updated_at,
        domain.c.statuses, domain.c.ds_records, domain.c.privacy_mode, domain.c.relay_alias,
        account.c.handle.label("account"), parent.c.handle.label("reseller"), parent.c.name.label("reseller_name"),
    ]  # fmt: skip
    joined = domain.join(account, account.c.id == domain.c.account_id).outerjoin(
        parent, parent.c.id == account.c.parent_id
    )
    for role in roles:
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
        statement = select(*columns).select_from(joined).where(domain.c.name == func.any(names))
    else:
        statement = select(*columns).select_from(joined).where(domain.c.name == bindparam("name", ""))
    return statement.with_for_update(of=domain) if for_update else statement


@dataclass(frozen=True, slots=True)
class DomainKeys:
    """The row ids a write needs beside the record (never handed out of the services)."""

    id: int
    account_id: int
    account_parent_id: int | None


class Prepared:
    """A record statement compiled once for one dialect, run on a DBAPI cursor.

    Why not `Connection.execute`: with 50-100 columns, SQLAlchemy's per-execution result set-up (cursor
    description, column objects, a Result) cost more than the query itself. The SQL text, the parameter order and
    each column's result processor (UTC timestamps, the privacy-mode enum, SQLite's text dates) are SQLAlchemy's
    own, computed once; only the row's values go through them. psycopg prepares the statement server-side after a
    few runs."""

    def __init__(self, dialect: Dialect, statement: Select[Any], roles: Sequence[str], key: str = "name") -> None:
        compiled = statement.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
        self.sql = compiled.string
        self.roles = tuple(roles)
        self._key = key
        self._params = compiled.construct_params()
        self._positional = compiled.positiontup if dialect.positional else None
        self._labels = tuple(str(c.key) for c in statement.selected_columns)
        self.processors = [
            c.type.dialect_impl(dialect).result_processor(dialect, None) for c in statement.selected_columns
        ]
        self._processing = tuple((at, p) for at, p in enumerate(self.processors) if p is not None)
        self.dialect = dialect

    def params(self, value: Any) -> Any:
        params = {**self._params, self._key: value}
        return params if self._positional is None else [params[k] for k in self._positional]

    def values(self, row: Any) -> dict[str, Any]:
        values = list(row)
        for at, process in self._processing:  # most columns have none: only those that do are visited
            values[at] = process(values[at])
        return dict(zip(self._labels, values, strict=True))

    def record(self, row: Any) -> DomainRecord:
        return _record(self.values(row), self.roles)

    def is_disconnect(self, exc: Exception, dbapi_connection: Any, cursor: Any) -> bool:
        return isinstance(exc, self.dialect.loaded_dbapi.Error) and bool(
            self.dialect.is_disconnect(exc, dbapi_connection, cursor)
        )


_FOR_SERVICES: weakref.WeakKeyDictionary[Dialect, dict[bool, Prepared]] = weakref.WeakKeyDictionary()


def load_domain(session: Session, a_label: str, *, for_update: bool = False) -> tuple[DomainRecord, DomainKeys] | None:
    """The full record (all four roles) inside the session's transaction, or None. `for_update` locks the row
    until commit, so that two concurrent changes of one domain are applied, and audited, one after the other.
    The session must have nothing left to flush (this reads past the ORM)."""
    dialect = session.get_bind().dialect
    by_lock = _FOR_SERVICES.setdefault(dialect, {})
    prepared = by_lock.get(for_update)
    if prepared is None:
        statement = record_statement(CONTACT_ROLES, for_update=for_update)
        prepared = by_lock[for_update] = Prepared(dialect, statement, CONTACT_ROLES)
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(prepared.sql, prepared.params(a_label))
        row = cursor.fetchone()
    finally:
        cursor.close()
    if row is None:
        return None
    values = prepared.values(row)
    keys = DomainKeys(values["id"], values["account_id"], values["account_parent_id"])
    return _record(values, CONTACT_ROLES), keys


def _record(m: dict[str, Any], roles: Sequence[str]) -> DomainRecord:
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
        contacts={role: _contact(m, role) for role in roles},
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
