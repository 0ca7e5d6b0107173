"""Conversions between stored rows and the frozen records services hand out (the domain record: record_query.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from domainpriv.registration.records import AccountRecord
from domainpriv.registration.validation import ContactData
from domainpriv.store import Account, Consent, Contact
from domainpriv.vocabulary import ConsentPurpose


def account_record(row: Account) -> AccountRecord:
    parent = row.parent.handle if row.parent else None
    return AccountRecord(row.handle, row.kind.value, parent, row.name, row.email, row.created_at)


def contact_data(row: Contact | Row[Any]) -> ContactData:
    """From an ORM contact or a plain row with the contact table's columns."""
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
