"""Frozen snapshots of stored registration data, handed out by services instead of live ORM rows.

`DomainRecord` is the "load" stage of the public view (STYLE §3): everything a renderer or the privacy policy
may need, with no session behind it. `to_json` is the staff view (`domainpriv domain show --json`) and the input
of audit digests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domainpriv.registration.validation import ContactData, u_label
from domainpriv.store import Account, Contact, Domain, PrivacyMode


def iso(ts: datetime | None) -> str | None:
    return None if ts is None else ts.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class AccountRecord:
    handle: str
    kind: str
    parent: str | None
    name: str
    email: str
    created_at: datetime

    @classmethod
    def from_row(cls, row: Account) -> AccountRecord:
        return cls(
            row.handle,
            row.kind.value,
            row.parent.handle if row.parent else None,
            row.name,
            row.email,
            row.created_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "kind": self.kind,
            "parent": self.parent,
            "name": self.name,
            "email": self.email,
            "created_at": iso(self.created_at),
        }


@dataclass(frozen=True, slots=True)
class ContactRecord:
    handle: str
    account: str
    data: ContactData
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: Contact) -> ContactRecord:
        return cls(row.handle, row.account.handle, contact_data(row), row.verified_at, row.created_at, row.updated_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "handle": self.handle,
            "account": self.account,
            **self.data.to_json(),
            "verified_at": iso(self.verified_at),
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


@dataclass(frozen=True, slots=True)
class NameserverRecord:
    host: str
    addresses: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"host": self.host, "addresses": list(self.addresses)}


@dataclass(frozen=True, slots=True)
class DomainRecord:
    name: str  # lowercase A-label
    account: str
    reseller: str | None
    registry_domain_id: str
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    statuses: tuple[str, ...]
    dnssec: bool
    privacy_mode: PrivacyMode
    relay_alias: str | None
    contacts: Mapping[str, ContactRecord | None]  # registrant, admin, tech, billing
    nameservers: tuple[NameserverRecord, ...]

    @property
    def u_label(self) -> str:
        return u_label(self.name)

    @classmethod
    def from_row(cls, row: Domain) -> DomainRecord:
        def rec(c: Contact | None) -> ContactRecord | None:
            return None if c is None else ContactRecord.from_row(c)

        return cls(
            name=row.name,
            account=row.account.handle,
            reseller=row.account.parent.handle if row.account.parent else None,
            registry_domain_id=row.registry_domain_id,
            created_at=row.created_at,
            expires_at=row.expires_at,
            updated_at=row.updated_at,
            statuses=tuple(row.statuses.split()),
            dnssec=row.dnssec,
            privacy_mode=row.privacy_mode,
            relay_alias=row.relay_alias,
            contacts={
                "registrant": rec(row.registrant),
                "admin": rec(row.admin),
                "tech": rec(row.tech),
                "billing": rec(row.billing),
            },
            nameservers=tuple(NameserverRecord(ns.host, tuple(ns.addresses.split())) for ns in row.nameservers),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unicode_name": self.u_label,
            "account": self.account,
            "reseller": self.reseller,
            "registry_domain_id": self.registry_domain_id,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "updated_at": iso(self.updated_at),
            "statuses": list(self.statuses),
            "dnssec": self.dnssec,
            "privacy_mode": self.privacy_mode.value,
            "relay_alias": self.relay_alias,
            "contacts": {role: (c.to_json() if c else None) for role, c in self.contacts.items()},
            "nameservers": [ns.to_json() for ns in self.nameservers],
        }


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
