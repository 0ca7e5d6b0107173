"""Conversions between ORM rows and the frozen records services hand out (inside an open session)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domainpriv.registration.records import AccountRecord, ContactRecord, DomainRecord, NameserverRecord
from domainpriv.registration.validation import ContactData, DsRecord
from domainpriv.store import Account, Consent, Contact, Domain
from domainpriv.vocabulary import ConsentPurpose


def account_record(row: Account) -> AccountRecord:
    parent = row.parent.handle if row.parent else None
    return AccountRecord(row.handle, row.kind.value, parent, row.name, row.email, row.created_at)


def contact_data(row: Contact) -> ContactData:
    street = tuple(s for s in (row.street1, row.street2, row.street3) if s is not None)
    return ContactData(
        row.name,
        row.org,
        street,
        row.city,
        row.state,
        row.postal_code,
        row.country,
        row.phone,
        row.phone_ext,
        row.fax,
        row.fax_ext,
        row.email,
    )


def contact_record(row: Contact) -> ContactRecord:
    return ContactRecord(
        row.handle, row.account.handle, contact_data(row), row.verified_at, row.created_at, row.updated_at
    )


def domain_record(session: Session, row: Domain) -> DomainRecord:
    def rec(c: Contact | None) -> ContactRecord | None:
        return None if c is None else contact_record(c)

    parent = row.account.parent
    return DomainRecord(
        name=row.name,
        account=row.account.handle,
        reseller=parent.handle if parent else None,
        reseller_name=parent.name if parent else None,
        registry_domain_id=row.registry_domain_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        statuses=tuple(row.statuses.split()),
        ds_records=tuple(DsRecord.from_text(line) for line in row.ds_records.splitlines()),
        privacy_mode=row.privacy_mode,
        relay_alias=row.relay_alias,
        contacts={
            "registrant": rec(row.registrant),
            "admin": rec(row.admin),
            "tech": rec(row.tech),
            "billing": rec(row.billing),
        },
        nameservers=tuple(NameserverRecord(ns.host, tuple(ns.addresses.split())) for ns in row.nameservers),
        consents=consents_in_force(session, row.account_id),
    )


def consents_in_force(session: Session, account_id: int) -> frozenset[ConsentPurpose]:
    """The purposes whose newest record for the account is a grant."""
    state: dict[ConsentPurpose, bool] = {}
    for purpose, granted in session.execute(
        select(Consent.purpose, Consent.granted).where(Consent.account_id == account_id).order_by(Consent.id)
    ):
        state[purpose] = granted
    return frozenset(p for p, granted in state.items() if granted)


def contact_columns(data: ContactData) -> dict[str, Any]:
    """The Contact column values for `data` (street lines spread over street1..3)."""
    street = [*data.street, None, None, None][:3]
    return {
        "name": data.name,
        "org": data.org,
        "street1": street[0],
        "street2": street[1],
        "street3": street[2],
        "city": data.city,
        "state": data.state,
        "postal_code": data.postal_code,
        "country": data.country,
        "phone": data.phone,
        "phone_ext": data.phone_ext,
        "fax": data.fax,
        "fax_ext": data.fax_ext,
        "email": data.email,
    }
