"""Transactional entry points for registration data: accounts, contacts, domains, name servers, privacy.

Each function owns one transaction (STYLE §2): take `now` once from the unit of work's clock, load or raise a
named not-found error, check the rules, write, record the audit event, commit. Callers never commit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session, joinedload

from domainpriv.audit import Actor, record_event
from domainpriv.changes import EVERYTHING, NOTHING, domains, domains_of_account, domains_of_contact
from domainpriv.config import PrivacyServiceSettings
from domainpriv.registration import lookup, rules
from domainpriv.registration.errors import (
    AccountExists,
    AccountNotFound,
    ContactExists,
    ContactNotFound,
    DomainExists,
    DomainNotFound,
    ValidationError,
)
from domainpriv.registration.record_query import DomainKeys, load_domain
from domainpriv.registration.records import AccountRecord, ContactRecord, DomainRecord, NameserverRecord
from domainpriv.registration.rows import account_record, consents_in_force, contact_columns, contact_data
from domainpriv.registration.validation import (
    ContactData,
    normalize_domain_name,
    normalize_ds_records,
    normalize_email,
    normalize_handle,
    normalize_host_name,
    normalize_ip_address,
    normalize_statuses,
    normalize_text,
)
from domainpriv.store import (
    CONTACT_ROLES,
    Account,
    AccountKind,
    Consent,
    ConsentPurpose,
    Contact,
    Domain,
    Nameserver,
    PrivacyMode,
    PrivacyServiceIdentity,
    UnitOfWork,
)

_DOMAIN = cast(Table, Domain.__table__)
_CONTACT = cast(Table, Contact.__table__)
_NAMESERVER = cast(Table, Nameserver.__table__)
_ACCOUNT = cast(Table, Account.__table__)

# The statements of the frequent changes, built once (with bound parameters) and run on the session's connection:
# building a statement per call and the ORM layer cost more than running them. An UPDATE without `values()` sets
# the columns named by the parameters it is run with.
_UPDATE_DOMAIN = update(_DOMAIN).where(_DOMAIN.c.id == bindparam("domain_id"))
_UPDATE_CONTACT = update(_CONTACT).where(_CONTACT.c.id == bindparam("contact_id"))
_DELETE_NAMESERVERS = delete(_NAMESERVER).where(_NAMESERVER.c.domain_id == bindparam("domain_id"))
_INSERT_NAMESERVER = insert(_NAMESERVER)
_CONTACT_BY_HANDLE = (
    select(_CONTACT, _ACCOUNT.c.handle.label("account_handle"))
    .join(_ACCOUNT, _ACCOUNT.c.id == _CONTACT.c.account_id)
    .where(_CONTACT.c.handle == bindparam("handle"))
)
_CONTACT_FOR_UPDATE = _CONTACT_BY_HANDLE.with_for_update(of=_CONTACT)

__all__ = [
    "CONSENT_SOURCES",
    "create_account",
    "create_contact",
    "create_domain",
    "find_public_domain",
    "get_domain",
    "record_consent",
    "set_domain_contact",
    "set_nameservers",
    "set_privacy_mode",
    "sync_privacy_service",
    "update_contact",
]


# -- accounts --------------------------------------------------------------------------------------------------


def create_account(
    uow: UnitOfWork,
    *,
    actor: Actor,
    handle: str,
    kind: AccountKind,
    name: str,
    email: str,
    parent: str | None = None,
    reason: str,
) -> AccountRecord:
    """Open an account. Raises ValidationError, AccountExists, AccountNotFound (parent),
    InvalidAccountHierarchy."""
    handle = rules.normalize_account_handle(handle, "handle")
    name = normalize_text(name, "name", max_length=255)
    email = normalize_email(email, "email")
    with uow:
        now = uow.clock()
        s = uow.session
        if s.scalar(select(Account.id).where(Account.handle == handle)) is not None:
            raise AccountExists(handle)
        parent_row = _account(s, parent) if parent is not None else None
        rules.check_hierarchy(kind, parent_row.kind if parent_row else None)
        row = Account(handle=handle, kind=kind, name=name, email=email, parent=parent_row, created_at=now)
        s.add(row)
        s.flush()  # flush: the snapshot reads the parent relationship
        record = account_record(row)
        record_event(
            s,
            now=now,
            actor=actor,
            action="account::create",
            object_type="account",
            object_key=handle,
            reason=reason,
            after=record.to_json(),
            affects=NOTHING,
        )
        uow.commit()
    return record


# Where a grant or withdrawal came from: a closed set, so the ledger the customer sees reads the same everywhere.
CONSENT_SOURCES = ("portal", "api", "unsubscribe-link", "staff-email-request", "import", "cli")


def record_consent(
    uow: UnitOfWork,
    *,
    actor: Actor,
    account: str,
    purpose: ConsentPurpose,
    granted: bool,
    source: str,
    reason: str,
    policy_version: str | None = None,
) -> None:
    """Record a grant or a withdrawal; the newest record per purpose is the one in force. `policy_version`: the
    policy text the customer saw (config consent.policy_version), kept with the record.
    Withdrawing consent to publish moves the account's `public` domains back to `redacted`.
    Raises AccountNotFound, ValidationError (source not one of CONSENT_SOURCES, policy_version)."""
    if source not in CONSENT_SOURCES:
        raise ValidationError("source", f"must be one of {', '.join(CONSENT_SOURCES)}")
    if policy_version is not None:
        policy_version = normalize_text(policy_version, "policy_version", max_length=32)
    with uow:
        now = uow.clock()
        s = uow.session
        row = _account(s, account)
        s.add(Consent(account=row, purpose=purpose, granted=granted, recorded_at=now, source=source,
                      policy_version=policy_version))  # fmt: skip
        unpublished: list[str] = []
        if purpose is ConsentPurpose.PUBLISH_CONTACT_DATA and not granted:
            # Before the events: a writer takes no row lock after the audit chain's lock (audit.py). RETURNING:
            # exactly the rows changed, also when a concurrent change of one of them committed meanwhile.
            public = (_DOMAIN.c.account_id == row.id) & (_DOMAIN.c.privacy_mode == PrivacyMode.PUBLIC)
            changed = update(_DOMAIN).where(public).values(privacy_mode=PrivacyMode.REDACTED, updated_at=now)
            unpublished = sorted(s.scalars(changed.returning(_DOMAIN.c.name)))
        record_event(
            s,
            now=now,
            actor=actor,
            action=f"account:consent:{'grant' if granted else 'withdraw'}",
            object_type="account",
            object_key=row.handle,
            reason=reason,
            details={"purpose": purpose.value, "source": source, "policy_version": policy_version},
            affects=domains_of_account(row.id),
        )
        for name in unpublished:
            _privacy_event(s, name, PrivacyMode.PUBLIC, PrivacyMode.REDACTED, now=now, actor=actor,
                           reason="consent to publish withdrawn")  # fmt: skip
        uow.commit()


# -- contacts --------------------------------------------------------------------------------------------------


def create_contact(
    uow: UnitOfWork, *, actor: Actor, handle: str, account: str, data: ContactData, reason: str
) -> ContactRecord:
    """Create a contact owned by `account`. Raises ValidationError, ContactExists, AccountNotFound."""
    handle = normalize_handle(handle, "handle")
    with uow:
        now = uow.clock()
        s = uow.session
        owner = _account(s, account)
        if s.scalar(select(Contact.id).where(Contact.handle == handle)) is not None:
            raise ContactExists(handle)
        row = Contact(handle=handle, account=owner, created_at=now, updated_at=now, **contact_columns(data))
        s.add(row)
        record = ContactRecord(handle, owner.handle, data, None, now, now)
        record_event(
            s,
            now=now,
            actor=actor,
            action="contact::create",
            object_type="contact",
            object_key=handle,
            reason=reason,
            after=record.to_json(),
            affects=NOTHING,
        )
        uow.commit()
    return record


def update_contact(uow: UnitOfWork, *, actor: Actor, handle: str, data: ContactData, reason: str) -> ContactRecord:
    """Replace a contact's data; every domain using it shows the change. A changed e-mail address clears the
    verification. Raises ContactNotFound."""
    with uow:
        now = uow.clock()
        s = uow.session
        contact_id, _, before = _contact_row(s, handle, for_update=True)
        verified_at = before.verified_at if data.email == before.data.email else None
        values = {**contact_columns(data), "verified_at": verified_at, "updated_at": now}
        s.connection().execute(_UPDATE_CONTACT, {"contact_id": contact_id, **values})
        after = replace(before, data=data, verified_at=verified_at, updated_at=now)
        record_event(
            s,
            now=now,
            actor=actor,
            action="contact::update",
            object_type="contact",
            object_key=handle,
            reason=reason,
            before=before.to_json(),
            after=after.to_json(),
            affects=domains_of_contact(contact_id),
        )
        uow.commit()
    return after


# -- domains ---------------------------------------------------------------------------------------------------


def create_domain(
    uow: UnitOfWork,
    *,
    actor: Actor,
    name: str,
    account: str,
    registrant: str,
    admin: str | None = None,
    tech: str | None = None,
    billing: str | None = None,
    nameservers: Sequence[tuple[str, Sequence[str]]] = (),
    period_years: int = 1,
    registry_domain_id: str | None = None,
    statuses: Sequence[str] = ("ok",),
    ds_records: Sequence[Mapping[str, object]] = (),
    privacy_mode: PrivacyMode = PrivacyMode.REDACTED,
    reason: str,
) -> DomainRecord:
    """Register a domain for `account` with its contacts (by handle) and name servers.

    Raises ValidationError, DomainExists, AccountNotFound, ContactNotFound, ContactNotOwned, ConsentMissing."""
    a_label = normalize_domain_name(name, "name")
    if not 1 <= period_years <= 10:  # RFC 5731 §2.1: registration periods of 1 to 99, registries sell 1-10
        raise ValidationError("period_years", "must be between 1 and 10")
    status_tuple = normalize_statuses(list(statuses), "statuses")
    ds_tuple = normalize_ds_records(list(ds_records), "ds_records")
    ns = _normalize_nameservers(nameservers)
    roid = rules.normalize_roid(registry_domain_id, "registry_domain_id") if registry_domain_id else None
    with uow:
        now = uow.clock()
        s = uow.session
        owner = _account(s, account)
        if s.scalar(select(Domain.id).where(Domain.name == a_label)) is not None:
            raise DomainExists(a_label)
        roles = {"registrant": registrant, "admin": admin, "tech": tech, "billing": billing}
        usable = functools.partial(
            _usable_contact, s, owner_id=owner.id, owner_handle=owner.handle, owner_parent_id=owner.parent_id
        )
        contact_ids = {role: usable(h)[0] for role, h in roles.items() if h}
        rules.check_publication_consent(privacy_mode, account=owner.handle, consents=consents_in_force(s, owner.id))
        row = Domain(
            name=a_label,
            account=owner,
            registry_domain_id=roid or rules.new_roid(a_label),
            created_at=now,
            expires_at=_add_years(now, period_years),
            updated_at=now,
            statuses=" ".join(status_tuple),
            ds_records="\n".join(ds.to_text() for ds in ds_tuple),
            privacy_mode=privacy_mode,
            registrant_id=contact_ids["registrant"],
            admin_id=contact_ids.get("admin"),
            tech_id=contact_ids.get("tech"),
            billing_id=contact_ids.get("billing"),
            nameservers=[Nameserver(position=i, host=h, addresses=" ".join(a)) for i, (h, a) in enumerate(ns)],
        )
        s.add(row)
        s.flush()  # flush: the record is read back in SQL
        record, _ = _load(s, a_label)
        record_event(
            s,
            now=now,
            actor=actor,
            action="domain::create",
            object_type="domain",
            object_key=a_label,
            reason=reason,
            after=record.to_json(),
            affects=domains(a_label),
        )
        uow.commit()
    return record


def find_public_domain(uow: UnitOfWork, *, a_label: str) -> DomainRecord | None:
    """The record of an already normalised name with the roles the public may see (registrant, tech), or None:
    the read path of the public servers, which answer "not found" without raising. One statement, no ORM
    (registration/lookup.py); on the daemon's read engine, no transaction either."""
    return lookup.find_public_domain(uow.engine, a_label)


def get_domain(uow: UnitOfWork, *, name: str) -> DomainRecord:
    """The stored record (staff view). Raises ValidationError, DomainNotFound."""
    a_label = normalize_domain_name(name, "name")
    with uow.reading() as r:
        return _load(r.session, a_label)[0]


def set_domain_contact(
    uow: UnitOfWork, *, actor: Actor, domain: str, role: str, contact: str | None, reason: str
) -> DomainRecord:
    """Point one role at another contact (None removes an optional role).
    Raises ValidationError, DomainNotFound, ContactNotFound, ContactNotOwned."""
    a_label = normalize_domain_name(domain, "domain")
    if role not in CONTACT_ROLES:
        raise ValidationError("role", f"must be one of {', '.join(CONTACT_ROLES)}")
    if contact is None and role == "registrant":
        raise ValidationError("contact", "a domain always has a registrant")
    with uow:
        now = uow.clock()
        s = uow.session
        before, keys = _load(s, a_label, for_update=True)
        contact_id, new = (None, None)
        if contact:
            contact_id, new = _usable_contact(s, contact, owner_id=keys.account_id, owner_handle=before.account,
                                              owner_parent_id=keys.account_parent_id)  # fmt: skip
        _update_domain(s, keys.id, {f"{role}_id": contact_id, "updated_at": now})
        after = replace(before, updated_at=now, contacts={**before.contacts, role: new})
        record_event(
            s,
            now=now,
            actor=actor,
            action=f"domain:contact:{role}",
            object_type="domain",
            object_key=a_label,
            reason=reason,
            before=before.to_json(),
            after=after.to_json(),
            affects=domains(a_label),
        )
        uow.commit()
    return after


def set_nameservers(
    uow: UnitOfWork,
    *,
    actor: Actor,
    domain: str,
    nameservers: Sequence[tuple[str, Sequence[str]]],
    reason: str,
) -> DomainRecord:
    """Replace the domain's name servers (host, glue addresses), in the given order.
    Raises ValidationError, DomainNotFound."""
    a_label = normalize_domain_name(domain, "domain")
    ns = _normalize_nameservers(nameservers)
    with uow:
        now = uow.clock()
        s = uow.session
        before, keys = _load(s, a_label, for_update=True)
        conn = s.connection()
        conn.execute(_DELETE_NAMESERVERS, {"domain_id": keys.id})
        if ns:
            rows = [
                {"domain_id": keys.id, "position": i, "host": h, "addresses": " ".join(a)}
                for i, (h, a) in enumerate(ns)
            ]
            conn.execute(_INSERT_NAMESERVER, rows)
        _update_domain(s, keys.id, {"updated_at": now})
        after = replace(before, updated_at=now, nameservers=tuple(NameserverRecord(h, tuple(a)) for h, a in ns))
        record_event(
            s,
            now=now,
            actor=actor,
            action="domain:nameservers:set",
            object_type="domain",
            object_key=a_label,
            reason=reason,
            before=before.to_json(),
            after=after.to_json(),
            affects=domains(a_label),
        )
        uow.commit()
    return after


def set_privacy_mode(
    uow: UnitOfWork, *, actor: Actor, domain: str, mode: PrivacyMode | str, reason: str
) -> DomainRecord:
    """Switch a domain's publication mode; the stored contacts never change (DESIGN invariant 1).
    `public` needs the account's recorded consent to publish. Raises ValidationError, DomainNotFound,
    ConsentMissing."""
    a_label = normalize_domain_name(domain, "domain")
    new_mode = rules.parse_privacy_mode(mode, "mode")
    with uow:
        now = uow.clock()
        s = uow.session
        before, keys = _load(s, a_label, for_update=True)
        rules.check_publication_consent(new_mode, account=before.account, consents=before.consents)
        _update_domain(s, keys.id, {"privacy_mode": new_mode, "updated_at": now})
        _privacy_event(s, a_label, before.privacy_mode, new_mode, now=now, actor=actor, reason=reason)
        uow.commit()
    return replace(before, privacy_mode=new_mode, updated_at=now)


def set_statuses(uow: UnitOfWork, *, actor: Actor, domain: str, statuses: Sequence[str], reason: str) -> DomainRecord:
    """Set a domain's EPP statuses (a legal case's hold and its lifting, cases/deactivation.py). The change feed
    names the domain, so WHOIS and RDAP show the new statuses at once. Raises ValidationError, DomainNotFound."""
    a_label = normalize_domain_name(domain, "domain")
    after = normalize_statuses(list(statuses), "statuses")
    with uow:
        now = uow.clock()
        s = uow.session
        before, keys = _load(s, a_label, for_update=True)
        _update_domain(s, keys.id, {"statuses": " ".join(after), "updated_at": now})
        record_event(
            s,
            now=now,
            actor=actor,
            action="domain:statuses:set",
            object_type="domain",
            object_key=a_label,
            reason=reason,
            details={"from": list(before.statuses), "to": list(after)},
            affects=domains(a_label),
        )
        uow.commit()
    return replace(before, statuses=after, updated_at=now)


def delete_domain(uow: UnitOfWork, *, actor: Actor, domain: str, reason: str) -> DomainRecord:
    """Delete a domain registration (staff: a deletion at the registry, a cancelled order). Its contacts stay (other
    domains may use them). The change feed names the domain, so caches drop it and the next incremental escrow
    deposit reports it as deleted. Returns the record as it was. Raises ValidationError, DomainNotFound."""
    a_label = normalize_domain_name(domain, "domain")
    with uow:
        now = uow.clock()
        s = uow.session
        before, keys = _load(s, a_label, for_update=True)
        s.execute(delete(_DOMAIN).where(_DOMAIN.c.id == keys.id))  # its name servers go with it (ON DELETE CASCADE)
        record_event(
            s,
            now=now,
            actor=actor,
            action="domain:delete",
            object_type="domain",
            object_key=a_label,
            reason=reason,
            before=before.to_json(),
            after=None,
            affects=domains(a_label),
        )
        uow.commit()
    return before


def sync_privacy_service(uow: UnitOfWork, *, actor: Actor, settings: PrivacyServiceSettings) -> bool:
    """Make the stored privacy-service identity match the config; audited when it changes. Returns whether
    anything changed."""
    values = {
        "name": settings.name,
        "org": settings.org,
        "street": "\n".join(settings.street),
        "city": settings.city,
        "state": settings.state,
        "postal_code": settings.postal_code,
        "country": settings.country,
        "phone": settings.phone,
        "relay_domain": settings.relay_domain,
    }
    with uow:
        now = uow.clock()
        s = uow.session
        row = s.scalar(select(PrivacyServiceIdentity).where(PrivacyServiceIdentity.key == "default"))
        before = None if row is None else {k: getattr(row, k) for k in values}
        if before == values:
            return False
        if row is None:
            row = PrivacyServiceIdentity(key="default", updated_at=now, **values)
            s.add(row)
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = now
        record_event(
            s,
            now=now,
            actor=actor,
            action="privacy:service:sync",
            object_type="privacy_service",
            object_key="default",
            reason="configuration changed",
            before=before,
            after=values,
            affects=EVERYTHING,
        )
        uow.commit()
    return True


# -- steps shared by the services above (they run inside the caller's transaction and never commit) -----------


def _account(s: Session, handle: str) -> Account:
    row = s.scalar(select(Account).where(Account.handle == handle).options(joinedload(Account.parent)))
    if row is None:
        raise AccountNotFound(handle)
    return row


def _load(s: Session, a_label: str, *, for_update: bool = False) -> tuple[DomainRecord, DomainKeys]:
    found = load_domain(s, a_label, for_update=for_update)
    if found is None:
        raise DomainNotFound(a_label)
    return found


def _contact_row(s: Session, handle: str, *, for_update: bool = False) -> tuple[int, int, ContactRecord]:
    """(id, owning account id, record) of a contact, in plain rows."""
    statement = _CONTACT_FOR_UPDATE if for_update else _CONTACT_BY_HANDLE
    row = s.connection().execute(statement, {"handle": handle}).first()
    if row is None:
        raise ContactNotFound(handle)
    record = ContactRecord(
        row.handle, row.account_handle, contact_data(row), row.verified_at, row.created_at, row.updated_at
    )
    return row.id, row.account_id, record


def _update_domain(s: Session, domain_id: int, values: Mapping[str, object]) -> None:
    """UPDATE domain SET <the keys of values> WHERE id = domain_id (one statement built once per set of keys)."""
    s.connection().execute(_UPDATE_DOMAIN, {"domain_id": domain_id, **values})


def _usable_contact(
    s: Session, handle: str, *, owner_id: int, owner_handle: str, owner_parent_id: int | None
) -> tuple[int, ContactRecord]:
    """A contact the owning account may use (its own or its reseller's), as (id, record)."""
    contact_id, contact_account_id, record = _contact_row(s, handle)
    rules.check_contact_owner(
        contact_handle=handle,
        contact_account_id=contact_account_id,
        owner_id=owner_id,
        owner_handle=owner_handle,
        owner_parent_id=owner_parent_id,
    )
    return contact_id, record


def _privacy_event(
    s: Session, name: str, before: PrivacyMode, mode: PrivacyMode, *, now: datetime, actor: Actor, reason: str
) -> None:
    record_event(
        s,
        now=now,
        actor=actor,
        action="domain:privacy:set",
        object_type="domain",
        object_key=name,
        reason=reason,
        details={"from": before.value, "to": mode.value},
        affects=domains(name),
    )


def _normalize_nameservers(nameservers: Iterable[tuple[str, Sequence[str]]]) -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    seen: set[str] = set()
    for i, (host, addresses) in enumerate(nameservers):
        field = f"nameservers[{i}]"
        h = normalize_host_name(host, f"{field}.host")
        if h in seen:
            raise ValidationError(f"{field}.host", f"name server {h} is listed twice")
        seen.add(h)
        out.append((h, [normalize_ip_address(a, f"{field}.addresses[{j}]") for j, a in enumerate(addresses)]))
    if len(out) > rules.MAX_NAMESERVERS:
        raise ValidationError("nameservers", f"at most {rules.MAX_NAMESERVERS} name servers")
    return out


def _add_years(ts: datetime, years: int) -> datetime:
    try:
        return ts.replace(year=ts.year + years)
    except ValueError:  # 29 February in a year that has none
        return ts.replace(year=ts.year + years, day=28) + timedelta(days=1)
