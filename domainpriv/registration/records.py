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

from domainpriv.registration.validation import ContactData, DsRecord, u_label
from domainpriv.vocabulary import ConsentPurpose, PrivacyMode


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
    reseller_name: str | None
    registry_domain_id: str
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    statuses: tuple[str, ...]
    ds_records: tuple[DsRecord, ...]  # empty: unsigned delegation
    privacy_mode: PrivacyMode
    relay_alias: str | None
    contacts: Mapping[str, ContactRecord | None]  # registrant, admin, tech, billing
    nameservers: tuple[NameserverRecord, ...]
    consents: frozenset[ConsentPurpose]  # the account's consents in force

    @property
    def dnssec(self) -> bool:
        return bool(self.ds_records)

    @property
    def u_label(self) -> str:
        return u_label(self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "unicode_name": self.u_label,
            "account": self.account,
            "reseller": self.reseller,
            "reseller_name": self.reseller_name,
            "registry_domain_id": self.registry_domain_id,
            "created_at": iso(self.created_at),
            "expires_at": iso(self.expires_at),
            "updated_at": iso(self.updated_at),
            "statuses": list(self.statuses),
            "dnssec": self.dnssec,
            "ds_records": [ds.to_json() for ds in self.ds_records],
            "privacy_mode": self.privacy_mode.value,
            "relay_alias": self.relay_alias,
            "contacts": {role: (c.to_json() if c else None) for role, c in self.contacts.items()},
            "nameservers": [ns.to_json() for ns in self.nameservers],
            "consents": sorted(c.value for c in self.consents),
        }
