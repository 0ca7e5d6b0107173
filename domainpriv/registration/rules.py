"""Business rules of registration data that are not formats: ownership, hierarchy, identifiers.

Pure functions, shared by the per-object services and the bulk import so each rule is decided in one place.
"""

from __future__ import annotations

import hashlib
import re

from domainpriv.registration.errors import ConsentMissing, ContactNotOwned, InvalidAccountHierarchy, ValidationError
from domainpriv.vocabulary import AccountKind, ConsentPurpose, PrivacyMode

MAX_NAMESERVERS = 13  # the most a registry accepts in practice (RFC 5731 sets no limit; 13 fit a DNS referral)
_ROID = re.compile(r"^[\w]{1,80}-[\w]{1,8}$", re.ASCII)  # RFC 5730 roidType
_ACCOUNT_HANDLE = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,63}$")


def normalize_account_handle(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string")
    handle = value.strip().lower()
    if not _ACCOUNT_HANDLE.match(handle):
        raise ValidationError(field, "2-64 characters: letters, digits, '.', '_' or '-', starting alphanumeric")
    return handle


def parse_account_kind(value: object, field: str) -> AccountKind:
    try:
        return AccountKind(value)  # type: ignore[arg-type]  # any value: a wrong one is the error below
    except ValueError:
        raise ValidationError(field, f"must be one of {', '.join(k.value for k in AccountKind)}") from None


def parse_privacy_mode(value: object, field: str) -> PrivacyMode:
    try:
        return PrivacyMode(value)  # type: ignore[arg-type]  # any value: a wrong one is the error below
    except ValueError:
        raise ValidationError(field, f"must be one of {', '.join(m.value for m in PrivacyMode)}") from None


def check_hierarchy(kind: AccountKind, parent_kind: AccountKind | None) -> None:
    """Customers may belong to a reseller; resellers and staff stand alone."""
    if parent_kind is None:
        return
    if kind is not AccountKind.CUSTOMER:
        raise InvalidAccountHierarchy(f"a {kind.value} account cannot have a parent account")
    if parent_kind is not AccountKind.RESELLER:
        raise InvalidAccountHierarchy("the parent account must be a reseller")


def check_contact_owner(
    *,
    contact_handle: str,
    contact_account_id: int,
    owner_id: int,
    owner_handle: str,
    owner_parent_id: int | None,
) -> None:
    """A domain may use its own account's contacts, or those of the reseller the account belongs to."""
    if contact_account_id not in (owner_id, owner_parent_id):
        raise ContactNotOwned(contact_handle, owner_handle)


def check_publication_consent(mode: PrivacyMode, *, account: str, consents: frozenset[ConsentPurpose]) -> None:
    """Full publication (`public`) needs the account's consent to publish in force (DESIGN: privacy modes)."""
    if mode is PrivacyMode.PUBLIC and ConsentPurpose.PUBLISH_CONTACT_DATA not in consents:
        raise ConsentMissing(account, ConsentPurpose.PUBLISH_CONTACT_DATA.value)


def normalize_roid(value: object, field: str) -> str:
    if not isinstance(value, str) or not _ROID.match(value):
        raise ValidationError(field, "must be an EPP ROID like 2336799_DOMAIN_COM-VRSN")
    return value


def new_roid(a_label: str) -> str:
    """A stable, registry-like ROID for domains created here before the registry assigned one."""
    return f"D{hashlib.sha256(a_label.encode()).hexdigest()[:16].upper()}-DPRIV"
