"""Export of all registration data as JSON lines, streamed from one consistent snapshot.

Rows are read with server-side cursors in natural-key order (accounts with resellers first, consents by time,
contacts by handle, domains by name), so the output is deterministic and export -> import -> export is
byte-identical. Internal ids never appear: references are by handle and domain name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import IO, Any

import orjson
from sqlalchemy import Row, case, select
from sqlalchemy.orm import Session, aliased

from domainpriv.registration.validation import ContactData, DsRecord
from domainpriv.store import (
    Account,
    AccountKind,
    Consent,
    ConsentPurpose,
    Contact,
    Domain,
    Nameserver,
    PrivacyMode,
    UnitOfWork,
)
from domainpriv.transfer import jsonl

_STREAM = {"yield_per": 2000}


def _bytewise(column: Any, dialect: str) -> Any:
    """Order by code point on every backend, so both give the same export (PostgreSQL's locale collation
    would sort 'a-b.com' after 'ab.com')."""
    return column.collate("C") if dialect == "postgresql" else column


def export_registrations(uow: UnitOfWork, *, out: IO[bytes], progress: Callable[[int], None] | None = None) -> int:
    """Write every record to `out`; returns the number of lines. Read-only: nothing is audited."""
    lines = 0
    with uow.reading() as r:
        s = r.session
        if r.dialect == "postgresql":
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})  # one snapshot for all tables
        for record in _records(s, r.dialect):
            out.write(orjson.dumps(record) + b"\n")
            lines += 1
            if progress is not None and lines % 2000 == 0:
                progress(2000)
    if progress is not None:
        progress(lines % 2000)
    return lines


def count_records(uow: UnitOfWork) -> int:
    """How many lines an export will write (for a progress bar)."""
    from sqlalchemy import func

    with uow.reading() as r:
        s = r.session
        return 1 + sum(s.scalar(select(func.count()).select_from(t)) or 0 for t in (Account, Consent, Contact, Domain))


def _records(s: Session, dialect: str) -> Iterator[dict[str, Any]]:
    yield jsonl.HEADER
    parent = aliased(Account)
    accounts = (
        select(Account.handle, Account.kind, parent.handle, Account.name, Account.email, Account.created_at)
        .outerjoin(parent, Account.parent_id == parent.id)
        .order_by(case((Account.parent_id.is_(None), 0), else_=1), _bytewise(Account.handle, dialect))
    )
    for a in s.execute(accounts.execution_options(**_STREAM)):
        yield jsonl.format_account(jsonl.AccountLine(a[0], AccountKind(a[1]), a[2], a[3], a[4], a[5]))
    consents = (
        select(Account.handle, Consent.purpose, Consent.granted, Consent.recorded_at, Consent.source)
        .join(Account, Consent.account_id == Account.id)
        .order_by(Consent.id)
    )
    for c in s.execute(consents.execution_options(**_STREAM)):
        yield jsonl.format_consent(jsonl.ConsentLine(c[0], ConsentPurpose(c[1]), c[2], c[3], c[4]))
    contacts = (
        select(Contact, Account.handle)
        .join(Account, Contact.account_id == Account.id)
        .order_by(_bytewise(Contact.handle, dialect))
    )
    for contact, owner in s.execute(contacts.execution_options(**_STREAM)):
        yield jsonl.format_contact(_contact_line(contact, owner))
        s.expunge(contact)  # keep the identity map from growing with the export
    yield from _domains(s, dialect)


def _contact_line(c: Contact, owner: str) -> jsonl.ContactLine:
    street = tuple(x for x in (c.street1, c.street2, c.street3) if x is not None)
    data = ContactData(
        c.name,
        c.org,
        street,
        c.city,
        c.state,
        c.postal_code,
        c.country,
        c.phone,
        c.phone_ext,
        c.fax,
        c.fax_ext,
        c.email,
    )
    return jsonl.ContactLine(c.handle, owner, data, c.verified_at, c.created_at, c.updated_at)


def _domains(s: Session, dialect: str) -> Iterator[dict[str, Any]]:
    reg, adm, tec, bil = (aliased(Contact) for _ in range(4))
    domains = (
        select(
            Domain.id,
            Domain.name,
            Account.handle,
            Domain.registry_domain_id,
            Domain.created_at,
            Domain.expires_at,
            Domain.updated_at,
            Domain.statuses,
            Domain.ds_records,
            Domain.privacy_mode,
            Domain.relay_alias,
            reg.handle,
            adm.handle,
            tec.handle,
            bil.handle,
        )
        .join(Account, Domain.account_id == Account.id)
        .join(reg, Domain.registrant_id == reg.id)
        .outerjoin(adm, Domain.admin_id == adm.id)
        .outerjoin(tec, Domain.tech_id == tec.id)
        .outerjoin(bil, Domain.billing_id == bil.id)
        .order_by(_bytewise(Domain.name, dialect))
    )
    nameservers = (
        select(Domain.name, Nameserver.host, Nameserver.addresses)
        .join(Domain, Nameserver.domain_id == Domain.id)
        .order_by(_bytewise(Domain.name, dialect), Nameserver.position)
    )
    ns_rows: Iterator[Row[str, str, str]] = iter(s.execute(nameservers.execution_options(**_STREAM)))
    pending = next(ns_rows, None)
    for d in s.execute(domains.execution_options(**_STREAM)):
        ns: list[tuple[str, tuple[str, ...]]] = []
        while pending is not None and pending[0] == d[1]:  # both streams are ordered by domain name
            ns.append((pending[1], tuple(pending[2].split())))
            pending = next(ns_rows, None)
        yield jsonl.format_domain(
            jsonl.DomainLine(
                name=d[1],
                account=d[2],
                registry_domain_id=d[3],
                created_at=d[4],
                expires_at=d[5],
                updated_at=d[6],
                statuses=tuple(d[7].split()),
                ds_records=tuple(DsRecord.from_text(line) for line in d[8].splitlines()),
                privacy_mode=PrivacyMode(d[9]),
                relay_alias=d[10],
                contacts={"registrant": d[11], "admin": d[12], "tech": d[13], "billing": d[14]},
                nameservers=tuple(ns),
            )
        )
