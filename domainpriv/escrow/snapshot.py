"""The deposit's read side: every deposited row from ONE consistent snapshot, streamed.

PostgreSQL: a `REPEATABLE READ READ ONLY` transaction (one snapshot for every statement, taken at the first one;
it never blocks writers and writers never block it). SQLite: one read transaction in WAL mode, which sees the
database as of its first read. The first statement reads the change feed's newest position, so the deposit knows
exactly which changes it contains: an incremental deposit later carries the domains changed after it.

Rows are plain Core rows turned into frozen `EscrowDomain`s one by one (server-side cursor on PostgreSQL), so
memory stays flat in the number of domains. The registrant is always the stored, underlying customer: escrow
never sees the public view (DESIGN invariant 1).
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Select, String, cast, func, select, union
from sqlalchemy.orm import Session

from domainpriv.escrow.record import EscrowContact, EscrowDomain, EscrowNameserver
from domainpriv.store import Account, Contact, Domain, Nameserver, UnitOfWork
from domainpriv.store.changes import ChangeFeedState, DomainChange
from domainpriv.vocabulary import PrivacyMode

ROLES: Final = ("registrant", "admin", "tech", "billing")
_CONTACT_FIELDS: Final = (
    "handle", "name", "org", "street1", "street2", "street3", "city", "state", "postal_code", "country", "phone",
    "phone_ext", "fax", "fax_ext", "email",
)  # fmt: skip
_BATCH: Final = 1000  # names per statement when reading named domains
_STREAM: Final = {"yield_per": 2000}


@dataclass(frozen=True, slots=True)
class ChangedNames:
    """What the change feed says changed in (after, snapshot position]."""

    everything: bool  # a bulk import or a publication-wide change: every domain
    last_change: dict[str, datetime]  # domain -> its newest change in the range


class FeedPruned(Exception):
    """The change feed no longer holds the rows an incremental needs (they were pruned)."""


class Snapshot:
    """One read transaction; valid inside `open_snapshot` only."""

    def __init__(self, session: Session, dialect: str, watermark: datetime) -> None:
        self._s = session
        self._dialect = dialect
        self.watermark = watermark
        self._streams: list[Generator[bytes, None, None]] = []  # open COPY streams, closed by `close`
        self.feed_position = int(session.scalar(select(func.coalesce(func.max(DomainChange.position), 0))) or 0)
        self.pruned_through = int(
            session.scalar(select(ChangeFeedState.pruned_through).where(ChangeFeedState.id == 1)) or 0
        )

    def count_domains(self) -> int:
        return int(self._s.scalar(select(func.count()).select_from(Domain)) or 0)

    def domains(self) -> Iterator[EscrowDomain]:
        """Every domain, in the order of its row id: deterministic, and read along the primary key instead of
        sorting a million wide rows (an ORDER BY name took PostgreSQL 18 % longer at 1,000,000 domains)."""
        statement = _DOMAINS.order_by(Domain.__table__.c.id)
        for row in self._s.execute(statement.execution_options(**_STREAM)):
            yield _domain(row)

    def records(self, fields_sql: str | None) -> Iterator[bytes] | None:
        """Every domain's CSV record rendered by PostgreSQL (`fields_sql`: Layout.sql_fields), in the order of
        `domains()` (row id); None where there is no such fast path (SQLite, or a layout without SQL forms).

        Why: formatting a million rows in Python costs several times what the raw tools (COPY | gzip | gpg) take;
        the database computes the values and its C CSV writer quotes them, while this process only ends each
        record in CRLF (COPY ends them in LF) and hashes and pipes them on."""
        if self._dialect != "postgresql" or fields_sql is None:
            return None
        stream = self._copied(f"COPY (SELECT {fields_sql} FROM {_COPY_FROM} ORDER BY d.id) TO STDOUT (FORMAT csv)")  # noqa: S608
        self._streams.append(stream)
        return stream

    def close(self) -> None:
        """End every COPY stream still open. A COPY holds the connection: left suspended (a deposit writer that
        failed half-way), the transaction's rollback would wait on it for ever. Closing one cancels it."""
        while self._streams:
            self._streams.pop().close()

    def _copied(self, statement: str) -> Generator[bytes, None, None]:
        dbapi = self._s.connection().connection.driver_connection  # inside this snapshot's transaction
        assert dbapi is not None
        with dbapi.cursor() as cursor, cursor.copy(statement) as copy:
            while row := copy.read():  # one CopyData message: exactly one record, its own LF last
                yield bytes(row[:-1]) + b"\r\n"

    def domains_named(self, names: Sequence[str]) -> Iterator[EscrowDomain]:
        """The named domains that exist, in the order of `names` (sorted by the caller)."""
        for start in range(0, len(names), _BATCH):
            chunk = names[start : start + _BATCH]
            found = {
                row.name: _domain(row) for row in self._s.execute(_DOMAINS.where(Domain.__table__.c.name.in_(chunk)))
            }
            yield from (found[n] for n in chunk if n in found)

    def contacts(self, names: Sequence[str] | None = None) -> Iterator[EscrowContact]:
        """The contacts the deposited domains use (every domain, or the named ones), once each, by handle."""
        d = Domain.__table__
        used = union(*(select(d.c[f"{role}_id"].label("id")).where(d.c[f"{role}_id"].is_not(None)) for role in ROLES))
        if names is not None:
            ids: set[int] = set()
            for start in range(0, len(names), _BATCH):
                chunk = names[start : start + _BATCH]
                for row in self._s.execute(select(*(d.c[f"{r}_id"] for r in ROLES)).where(d.c.name.in_(chunk))):
                    ids.update(i for i in row if i is not None)
            statement = _CONTACTS.where(Contact.__table__.c.id.in_(sorted(ids)))
        else:
            statement = _CONTACTS.where(Contact.__table__.c.id.in_(select(used.subquery().c.id)))
        statement = statement.order_by(self._bytewise(Contact.__table__.c.handle))
        for row in self._s.execute(statement.execution_options(**_STREAM)):
            contact = _contact(row, 0)
            assert contact is not None  # a contact row always has its handle
            yield contact

    def changed_since(self, position: int, until: int | None = None) -> ChangedNames:
        """The domains the feed names in (position, until] (until: this snapshot's position). Raises FeedPruned
        when rows of that range may be gone."""
        if position < self.pruned_through:
            raise FeedPruned(f"the change feed was pruned through position {self.pruned_through}, after {position}")
        f = DomainChange.__table__
        rows = self._s.execute(
            select(f.c.domain, func.max(f.c.changed_at))
            .where(f.c.position > position, f.c.position <= (self.feed_position if until is None else until))
            .group_by(f.c.domain)
        )
        last: dict[str, datetime] = {}
        everything = False
        for name, changed_at in rows:
            if name is None:
                everything = True
            else:
                last[name] = changed_at
        return ChangedNames(everything, last)

    def _bytewise(self, column: Any) -> Any:
        return column.collate("C") if self._dialect == "postgresql" else column


@contextmanager
def open_snapshot(uow: UnitOfWork) -> Iterator[Snapshot]:
    """A consistent, read-only view of the whole database for the duration of the block."""
    with uow.reading() as r:
        s = r.session
        if r.dialect == "postgresql":
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            s.execute(select(func.set_config("transaction_read_only", "on", True)))  # takes the snapshot
        snapshot = Snapshot(s, r.dialect, uow.clock())  # on SQLite, its first read takes the snapshot
        try:
            yield snapshot
        finally:
            snapshot.close()


def _statement() -> Select[Any]:
    domain = Domain.__table__
    account = Account.__table__.alias("a")
    parent = Account.__table__.alias("p")
    columns: list[Any] = [
        domain.c.name, domain.c.registry_domain_id, domain.c.created_at, domain.c.expires_at, domain.c.updated_at,
        domain.c.statuses, domain.c.privacy_mode, account.c.handle.label("account"), parent.c.handle.label("reseller"),
    ]  # fmt: skip
    joined = domain.join(account, account.c.id == domain.c.account_id).outerjoin(
        parent, parent.c.id == account.c.parent_id
    )
    for role in ROLES:
        contact = Contact.__table__.alias(role)
        joined = joined.outerjoin(contact, contact.c.id == domain.c[f"{role}_id"])
        columns += [contact.c[f].label(f"{role}_{f}") for f in _CONTACT_FIELDS]
    ns = Nameserver.__table__
    columns.append(
        select(func.aggregate_strings(cast(ns.c.position, String) + "\t" + ns.c.host + "\t" + ns.c.addresses, "\n"))
        .where(ns.c.domain_id == domain.c.id)
        .scalar_subquery()
        .label("nameservers")
    )
    return select(*columns).select_from(joined)


_DOMAINS: Final = _statement()
# The joins of _DOMAINS under the aliases the profiles' SQL forms use (profiles.Column.sql). The name servers are
# folded by one grouped pass joined by hash: a correlated subquery per domain cost more than the rest of the record.
_COPY_FROM: Final = (
    "domain d JOIN account a ON a.id = d.account_id"
    " LEFT JOIN contact rt ON rt.id = d.registrant_id LEFT JOIN contact ac ON ac.id = d.admin_id"
    " LEFT JOIN contact tc ON tc.id = d.tech_id LEFT JOIN contact bc ON bc.id = d.billing_id"
    " LEFT JOIN (SELECT n.domain_id, string_agg(n.host, ' ' ORDER BY n.position) AS hosts,"
    " string_agg(n.host || '=' || array_to_string(regexp_split_to_array(btrim(n.addresses), '\\s+'), ','), ' '"
    " ORDER BY n.position) FILTER (WHERE btrim(n.addresses) <> '') AS glue"
    " FROM nameserver n GROUP BY n.domain_id) ns ON ns.domain_id = d.id"
)
_CONTACTS: Final = select(*(Contact.__table__.c[f] for f in _CONTACT_FIELDS))
_FIRST_CONTACT_COLUMN: Final = 9  # where the registrant's columns start in a _DOMAINS row
_WIDTH: Final = len(_CONTACT_FIELDS)


def _domain(row: Any) -> EscrowDomain:
    contacts = [_contact(row, _FIRST_CONTACT_COLUMN + i * _WIDTH) for i in range(len(ROLES))]
    registrant = contacts[0]
    if registrant is None:  # the schema makes it impossible; say so instead of depositing a hole
        raise ValueError(f"domain {row.name} has no registrant contact")
    return EscrowDomain(
        name=row.name,
        registry_domain_id=row.registry_domain_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        statuses=tuple(row.statuses.split()),
        privacy_mode=PrivacyMode(row.privacy_mode),
        account=row.account,
        reseller=row.reseller,
        registrant=registrant,
        admin=contacts[1],
        tech=contacts[2],
        billing=contacts[3],
        nameservers=_nameservers(row.nameservers),
    )


def _contact(row: Any, at: int) -> EscrowContact | None:
    v = row[at : at + _WIDTH]
    if v[0] is None:
        return None
    return EscrowContact(
        handle=v[0],
        name=v[1],
        org=v[2],
        street=tuple(s for s in v[3:6] if s is not None),
        city=v[6],
        state=v[7],
        postal_code=v[8],
        country=v[9],
        phone=v[10],
        phone_ext=v[11],
        fax=v[12],
        fax_ext=v[13],
        email=v[14],
    )


def _nameservers(folded: str | None) -> tuple[EscrowNameserver, ...]:
    if not folded:
        return ()
    entries = sorted((line.split("\t") for line in folded.split("\n")), key=lambda e: int(e[0]))
    return tuple(EscrowNameserver(host, tuple(addresses.split())) for _, host, addresses in entries)
