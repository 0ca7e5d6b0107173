"""What one deposited domain holds: the underlying data, whatever the privacy mode (DESIGN invariant 1).

Plain frozen values read from one snapshot (escrow/snapshot.py) and turned into CSV rows by the profiles
(escrow/profiles.py). No session behind them, no public-view substitution: escrow deposits what is stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domainpriv.vocabulary import PrivacyMode


@dataclass(frozen=True, slots=True)
class EscrowContact:
    """A stored contact, as entered by the customer (street: one to three lines)."""

    handle: str
    name: str
    org: str | None
    street: tuple[str, ...]
    city: str
    state: str | None
    postal_code: str | None
    country: str  # ISO 3166-1 alpha-2, upper case
    phone: str | None  # EPP form +CC.NNNN
    phone_ext: str | None
    fax: str | None
    fax_ext: str | None
    email: str


@dataclass(frozen=True, slots=True)
class EscrowNameserver:
    host: str  # lowercase A-label
    addresses: tuple[str, ...]  # glue, when any


@dataclass(frozen=True, slots=True)
class EscrowDomain:
    """One domain of a deposit: the registration data with its four contacts resolved."""

    name: str  # lowercase A-label
    registry_domain_id: str
    created_at: datetime  # UTC
    expires_at: datetime  # UTC
    updated_at: datetime  # UTC
    statuses: tuple[str, ...]  # EPP statuses, sorted
    privacy_mode: PrivacyMode
    account: str  # the customer account's handle
    reseller: str | None  # the reseller account's handle, when there is one
    registrant: EscrowContact  # always the underlying customer
    admin: EscrowContact | None
    tech: EscrowContact | None
    billing: EscrowContact | None
    nameservers: tuple[EscrowNameserver, ...]  # in their stored order


@dataclass(frozen=True, slots=True)
class EscrowDeletion:
    """A domain an incremental deposit reports as deleted since the previous deposit."""

    name: str  # lowercase A-label
    deleted_at: datetime  # UTC: when the change feed recorded it
