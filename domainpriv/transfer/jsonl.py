"""The JSON-lines interchange format of registration data (version 1), both directions.

One JSON object per line, each with a `type`; a record may only refer to records on earlier lines or already
in the database. The order written by export is: header, accounts (resellers before their customers),
consents, contacts, domains. Timestamps are RFC 3339 in UTC with `Z`. Full schema: docs/jsonl-format.md.

`parse_*` turn a decoded line into a typed row and `format_*` do the reverse, so export -> import -> export
is byte-identical (tests prove the round trip).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from domainpriv.registration import rules
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.records import iso
from domainpriv.registration.validation import (
    ContactData,
    DsRecord,
    normalize_domain_name,
    normalize_ds_records,
    normalize_email,
    normalize_handle,
    normalize_host_name,
    normalize_ip_address,
    normalize_statuses,
    normalize_text,
    validate_contact,
)
from domainpriv.store import CONTACT_ROLES, AccountKind, ConsentPurpose, PrivacyMode

FORMAT = "domainpriv-registrations"
VERSION = 1
HEADER: dict[str, Any] = {"type": "header", "format": FORMAT, "version": VERSION}

_CONTACT_KEYS = frozenset(ContactData.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class AccountLine:
    handle: str
    kind: AccountKind
    parent: str | None
    name: str
    email: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ConsentLine:
    account: str
    purpose: ConsentPurpose
    granted: bool
    recorded_at: datetime
    source: str


@dataclass(frozen=True, slots=True)
class ContactLine:
    handle: str
    account: str
    data: ContactData
    verified_at: datetime | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class DomainLine:
    name: str
    account: str
    registry_domain_id: str
    created_at: datetime
    expires_at: datetime
    updated_at: datetime
    statuses: tuple[str, ...]
    ds_records: tuple[DsRecord, ...]
    privacy_mode: PrivacyMode
    relay_alias: str | None
    contacts: dict[str, str | None]
    nameservers: tuple[tuple[str, tuple[str, ...]], ...]


Line = AccountLine | ConsentLine | ContactLine | DomainLine


def parse_header(obj: Mapping[str, Any]) -> None:
    _keys(obj, {"type", "format", "version"}, {"type", "format", "version"})
    if obj["format"] != FORMAT or obj["version"] != VERSION:
        raise ValidationError("version", f"expected format {FORMAT} version {VERSION}")


def parse_account(obj: Mapping[str, Any]) -> AccountLine:
    _keys(
        obj,
        {"type", "handle", "kind", "parent", "name", "email", "created_at"},
        {"type", "handle", "kind", "name", "email", "created_at"},
    )
    parent = obj.get("parent")
    return AccountLine(
        handle=rules.normalize_account_handle(obj["handle"], "handle"),
        kind=rules.parse_account_kind(obj["kind"], "kind"),
        parent=None if parent is None else rules.normalize_account_handle(parent, "parent"),
        name=normalize_text(obj["name"], "name", max_length=255),
        email=normalize_email(obj["email"], "email"),
        created_at=parse_time(obj["created_at"], "created_at"),
    )


def parse_consent(obj: Mapping[str, Any]) -> ConsentLine:
    _keys(
        obj,
        {"type", "account", "purpose", "granted", "recorded_at", "source"},
        {"type", "account", "purpose", "granted", "recorded_at", "source"},
    )
    try:
        purpose = ConsentPurpose(obj["purpose"])
    except ValueError:
        raise ValidationError("purpose", f"must be one of {', '.join(p.value for p in ConsentPurpose)}") from None
    return ConsentLine(
        account=rules.normalize_account_handle(obj["account"], "account"),
        purpose=purpose,
        granted=_bool(obj["granted"], "granted"),
        recorded_at=parse_time(obj["recorded_at"], "recorded_at"),
        source=normalize_text(obj["source"], "source", max_length=64),
    )


def parse_contact(obj: Mapping[str, Any], now: datetime) -> ContactLine:
    meta = {"type", "handle", "account", "verified_at", "created_at", "updated_at"}
    _keys(obj, meta | _CONTACT_KEYS, {"type", "handle", "account"})
    created = parse_time(obj["created_at"], "created_at") if obj.get("created_at") is not None else now
    verified = obj.get("verified_at")
    return ContactLine(
        handle=normalize_handle(obj["handle"], "handle"),
        account=rules.normalize_account_handle(obj["account"], "account"),
        data=validate_contact({k: v for k, v in obj.items() if k not in meta}, field="contact"),
        verified_at=None if verified is None else parse_time(verified, "verified_at"),
        created_at=created,
        updated_at=parse_time(obj["updated_at"], "updated_at") if obj.get("updated_at") is not None else created,
    )


def parse_domain(obj: Mapping[str, Any]) -> DomainLine:
    _keys(
        obj,
        {
            "type",
            "name",
            "account",
            "registry_domain_id",
            "created_at",
            "expires_at",
            "updated_at",
            "statuses",
            "ds_records",
            "privacy_mode",
            "relay_alias",
            "contacts",
            "nameservers",
        },
        {"type", "name", "account", "created_at", "expires_at", "contacts"},
    )
    name = normalize_domain_name(obj["name"], "name")
    created = parse_time(obj["created_at"], "created_at")
    roid = obj.get("registry_domain_id")
    alias = obj.get("relay_alias")
    return DomainLine(
        name=name,
        account=rules.normalize_account_handle(obj["account"], "account"),
        registry_domain_id=rules.new_roid(name) if roid is None else rules.normalize_roid(roid, "registry_domain_id"),
        created_at=created,
        expires_at=parse_time(obj["expires_at"], "expires_at"),
        updated_at=parse_time(obj["updated_at"], "updated_at") if obj.get("updated_at") is not None else created,
        statuses=_statuses(obj.get("statuses", ["ok"])),
        ds_records=normalize_ds_records(obj.get("ds_records", []), "ds_records"),
        privacy_mode=rules.parse_privacy_mode(obj.get("privacy_mode", "redacted"), "privacy_mode"),
        relay_alias=None if alias is None else normalize_handle(alias, "relay_alias"),
        contacts=_contacts(obj["contacts"]),
        nameservers=_nameservers(obj.get("nameservers", [])),
    )


def parse_time(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise ValidationError(field, "must be an RFC 3339 timestamp string")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(field, "must be an RFC 3339 timestamp like 2026-01-31T12:00:00Z") from None
    if ts.tzinfo is None:
        raise ValidationError(field, "must carry a time zone (use Z for UTC)")
    return ts.astimezone(UTC)


def format_account(a: AccountLine) -> dict[str, Any]:
    return {
        "type": "account",
        "handle": a.handle,
        "kind": a.kind.value,
        "parent": a.parent,
        "name": a.name,
        "email": a.email,
        "created_at": iso(a.created_at),
    }


def format_consent(c: ConsentLine) -> dict[str, Any]:
    return {
        "type": "consent",
        "account": c.account,
        "purpose": c.purpose.value,
        "granted": c.granted,
        "recorded_at": iso(c.recorded_at),
        "source": c.source,
    }


def format_contact(c: ContactLine) -> dict[str, Any]:
    return {
        "type": "contact",
        "handle": c.handle,
        "account": c.account,
        **c.data.to_json(),
        "verified_at": iso(c.verified_at),
        "created_at": iso(c.created_at),
        "updated_at": iso(c.updated_at),
    }


def format_domain(d: DomainLine) -> dict[str, Any]:
    return {
        "type": "domain",
        "name": d.name,
        "account": d.account,
        "registry_domain_id": d.registry_domain_id,
        "created_at": iso(d.created_at),
        "expires_at": iso(d.expires_at),
        "updated_at": iso(d.updated_at),
        "statuses": list(d.statuses),
        "ds_records": [ds.to_json() for ds in d.ds_records],
        "privacy_mode": d.privacy_mode.value,
        "relay_alias": d.relay_alias,
        "contacts": d.contacts,
        "nameservers": [{"host": h, "addresses": list(a)} for h, a in d.nameservers],
    }


# -- field helpers ---------------------------------------------------------------------------------------------

_status_cache: dict[tuple[str, ...], tuple[str, ...]] = {}


def _statuses(value: object) -> tuple[str, ...]:
    # Few distinct status sets exist in real data; cache the validated ones (bounded below).
    key = tuple(value) if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
    if key is not None and key in _status_cache:
        return _status_cache[key]
    result = normalize_statuses(value, "statuses")
    if key is not None and len(_status_cache) < 1024:
        _status_cache[key] = result
    return result


def _contacts(value: object) -> dict[str, str | None]:
    if not isinstance(value, dict):
        raise ValidationError("contacts", "must be an object with registrant, admin, tech, billing")
    unknown = set(value) - set(CONTACT_ROLES)
    if unknown:
        raise ValidationError(f"contacts.{sorted(unknown)[0]}", "unknown role")
    out: dict[str, str | None] = {}
    for role in CONTACT_ROLES:
        handle = value.get(role)
        out[role] = None if handle is None else normalize_handle(handle, f"contacts.{role}")
    if out["registrant"] is None:
        raise ValidationError("contacts.registrant", "is required")
    return out


def _nameservers(value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, list):
        raise ValidationError("nameservers", "must be a list")
    if len(value) > rules.MAX_NAMESERVERS:
        raise ValidationError("nameservers", f"at most {rules.MAX_NAMESERVERS} name servers")
    out: list[tuple[str, tuple[str, ...]]] = []
    for i, ns in enumerate(value):
        field = f"nameservers[{i}]"
        if not isinstance(ns, dict):
            raise ValidationError(field, "must be an object with host and addresses")
        _keys(ns, {"host", "addresses"}, {"host"}, prefix=f"{field}.")
        addresses = ns.get("addresses", [])
        if not isinstance(addresses, list):
            raise ValidationError(f"{field}.addresses", "must be a list")
        host = _host(ns["host"], field)
        if any(host == h for h, _ in out):
            raise ValidationError(f"{field}.host", f"name server {host} is listed twice")
        out.append((host, tuple(_address(a, field, j) for j, a in enumerate(addresses))))
    return tuple(out)


# Name-server hosts and their glue addresses repeat across many domains (a hosting company's ns1/ns2), so the
# validated forms are cached, bounded (LRU). Only valid strings are cached: the normalizers are pure functions of
# the value (the field name only appears in the error), and anything the cached call rejects is validated again
# with its real field name, so errors are exactly those of the uncached call.
_NS_CACHE_SIZE = 1 << 16


@lru_cache(maxsize=_NS_CACHE_SIZE)
def _host_cached(value: str) -> str:
    return normalize_host_name(value, "host")


@lru_cache(maxsize=_NS_CACHE_SIZE)
def _address_cached(value: str) -> str:
    return normalize_ip_address(value, "address")


def _host(value: object, field: str) -> str:
    if type(value) is str:
        try:
            return _host_cached(value)
        except ValidationError:
            pass
    return normalize_host_name(value, f"{field}.host")


def _address(value: object, field: str, j: int) -> str:
    if type(value) is str:
        try:
            return _address_cached(value)
        except ValidationError:
            pass
    return normalize_ip_address(value, f"{field}.addresses[{j}]")


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def _keys(obj: Mapping[str, Any], allowed: set[str] | frozenset[str], required: set[str], prefix: str = "") -> None:
    for key in obj:
        if key not in allowed:
            raise ValidationError(f"{prefix}{key}", "unknown field")
    for key in required:
        if key not in obj:
            raise ValidationError(f"{prefix}{key}", "is required")
