"""What the public may see of a domain: the single input of every public renderer (WHOIS, RDAP, CLI).

A hidden value is never carried here, not even behind a flag: a field that is redacted is None and named in
`redacted`, so a renderer cannot leak what it never receives (STYLE §3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from domainpriv.registration.validation import DsRecord

# Names of contact fields that can be redacted; renderers map them to their own labels
# ("Registrant Phone" in WHOIS, the RFC 9537 `name.type` in RDAP).
RedactableField = Literal[
    "id", "name", "org", "street", "city", "postal_code", "phone", "phone_ext", "fax", "fax_ext", "email"
]
Role = Literal["registrant", "tech"]


@dataclass(frozen=True, slots=True)
class RegistrarIdentity:
    name: str
    iana_id: int
    url: str
    whois_server: str
    rdap_base_url: str
    abuse_email: str
    abuse_phone: str


@dataclass(frozen=True, slots=True)
class PublicContact:
    """One published contact. `email` and `contact_uri` are never both set; when `"email"` is in `redacted`
    the customer's address was replaced by a relay address (`email`) or a web form (`contact_uri`)."""

    role: Role
    name: str | None
    org: str | None
    street: tuple[str, ...]
    city: str | None
    state: str | None
    postal_code: str | None
    country: str | None
    phone: str | None
    phone_ext: str | None
    fax: str | None
    fax_ext: str | None
    email: str | None
    contact_uri: str | None
    redacted: frozenset[RedactableField]
    proxy: bool  # the privacy service's identity stands in for the customer's


@dataclass(frozen=True, slots=True)
class PublicRecord:
    name: str  # lowercase A-label
    unicode_name: str  # U-label form (equal to `name` for ASCII names)
    registry_domain_id: str
    registrar: RegistrarIdentity
    reseller: str | None
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    statuses: tuple[str, ...]  # EPP statuses
    ds_records: tuple[DsRecord, ...]  # empty: unsigned delegation
    nameservers: tuple[str, ...]  # lowercase A-labels
    registrant: PublicContact
    tech: PublicContact | None
    database_updated_at: datetime  # "Last update of WHOIS/RDAP database": when this view was read from the store

    @property
    def dnssec(self) -> bool:
        return bool(self.ds_records)

    @property
    def is_idn(self) -> bool:
        return self.unicode_name != self.name
