"""Transactional entry points for registration data: accounts, contacts, domains, name servers, privacy.

Each function owns one transaction (STYLE §2): take `now` once from the unit of work's clock, load or raise a
named not-found error, check the rules, write, record the audit event, commit. Callers never commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

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
from domainpriv.registration.records import AccountRecord, ContactRecord, DomainRecord
from domainpriv.registration.rows import (
    account_record,
    consents_in_force,
    contact_columns,
    contact_record,
    domain_record,
)
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

__all__ = [
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


def record_consent(
    uow: UnitOfWork,
    *,
    actor: Actor,
    account: str,
    purpose: ConsentPurpose,
    granted: bool,
    source: str,
    reason: str,
) -> None:
    """Record a grant or a withdrawal; the newest record per purpose is the one in force.
    Withdrawing consent to publish moves the account's `public` domains back to `redacted`.
    Raises AccountNotFound, ValidationError."""
    source = normalize_text(source, "source", max_length=64)
    with uow:
        now = uow.clock()
        s = uow.session
        row = _account(s, account)
        s.add(Consent(account=row, purpose=purpose, granted=granted, recorded_at=now, source=source))
        record_event(
            s,
            now=now,
            actor=actor,
            action=f"account:consent:{'grant' if granted else 'withdraw'}",
            object_type="account",
            object_key=row.handle,
            reason=reason,
            details={"purpose": purpose.value, "source": source},
            affects=domains_of_account(row.id),
        )
        if purpose is ConsentPurpose.PUBLISH_CONTACT_DATA and not granted:
            public = s.scalars(
                select(Domain).where(Domain.account_id == row.id, Domain.privacy_mode == PrivacyMode.PUBLIC)
            )
            for domain in public:
                _write_privacy_mode(
                    s,
                    domain,
                    PrivacyMode.REDACTED,
                    now=now,
                    actor=actor,
                    reason="consent to publish withdrawn",
                )
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
        row = _contact(s, handle)
        before = contact_record(row)
        for key, value in contact_columns(data).items():
            setattr(row, key, value)
        if data.email != before.data.email:
            row.verified_at = None
        row.updated_at = now
        after = replace(before, data=data, verified_at=row.verified_at, updated_at=now)
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
            affects=domains_of_contact(row.id),
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
        contacts = {role: (_usable_contact(s, h, owner) if h else None) for role, h in roles.items()}
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
            registrant=contacts["registrant"],
            admin=contacts["admin"],
            tech=contacts["tech"],
            billing=contacts["billing"],
            nameservers=[Nameserver(position=i, host=h, addresses=" ".join(a)) for i, (h, a) in enumerate(ns)],
        )
        s.add(row)
        s.flush()  # flush: the snapshot reads relationships of the new row
        record = domain_record(s, row)
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
        return domain_record(r.session, _domain(r.session, a_label))


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
        row = _domain(s, a_label)
        before = domain_record(s, row)
        setattr(row, role, _usable_contact(s, contact, row.account) if contact else None)
        row.updated_at = now
        s.flush()  # flush: the snapshot reads the new relationship
        after = domain_record(s, row)
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
        row = _domain(s, a_label)
        before = domain_record(s, row)
        row.nameservers.clear()
        s.flush()  # flush: delete the old rows before inserting ones with the same (domain, host)
        row.nameservers.extend(Nameserver(position=i, host=h, addresses=" ".join(a)) for i, (h, a) in enumerate(ns))
        row.updated_at = now
        s.flush()  # flush: the snapshot reads the new rows
        after = domain_record(s, row)
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
        row = _domain(s, a_label)
        if new_mode is PrivacyMode.PUBLIC:
            rules.check_publication_consent(new_mode, account=row.account.handle,
                                            consents=consents_in_force(s, row.account_id))  # fmt: skip
        _write_privacy_mode(s, row, new_mode, now=now, actor=actor, reason=reason)
        record = domain_record(s, row)
        uow.commit()
    return record


def delete_domain(uow: UnitOfWork, *, actor: Actor, domain: str, reason: str) -> DomainRecord:
    """Delete a domain registration (staff: a deletion at the registry, a cancelled order). Its contacts stay (other
    domains may use them). The change feed names the domain, so caches drop it and the next incremental escrow
    deposit reports it as deleted. Returns the record as it was. Raises ValidationError, DomainNotFound."""
    a_label = normalize_domain_name(domain, "domain")
    with uow:
        now = uow.clock()
        s = uow.session
        row = _domain(s, a_label)
        before = domain_record(s, row)
        s.delete(row)
        s.flush()  # flush: the name servers go with it (cascade) before the event is chained
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


def _contact(s: Session, handle: str) -> Contact:
    row = s.scalar(select(Contact).where(Contact.handle == handle).options(joinedload(Contact.account)))
    if row is None:
        raise ContactNotFound(handle)
    return row


def _domain(s: Session, a_label: str) -> Domain:
    row = _domain_row(s, a_label)
    if row is None:
        raise DomainNotFound(a_label)
    return row


def _domain_row(s: Session, a_label: str) -> Domain | None:
    contacts = (Domain.registrant, Domain.admin, Domain.tech, Domain.billing)
    return s.scalar(
        select(Domain)
        .where(Domain.name == a_label)
        .options(
            joinedload(Domain.account).joinedload(Account.parent),
            *(joinedload(c).joinedload(Contact.account) for c in contacts),
            selectinload(Domain.nameservers),
        )
    )


def _usable_contact(s: Session, handle: str, owner: Account) -> Contact:
    contact = _contact(s, handle)
    rules.check_contact_owner(
        contact_handle=handle,
        contact_account_id=contact.account_id,
        owner_id=owner.id,
        owner_handle=owner.handle,
        owner_parent_id=owner.parent_id,
    )
    return contact


def _write_privacy_mode(
    s: Session, row: Domain, mode: PrivacyMode, *, now: datetime, actor: Actor, reason: str
) -> None:
    before = row.privacy_mode
    row.privacy_mode = mode
    row.updated_at = now
    record_event(
        s,
        now=now,
        actor=actor,
        action="domain:privacy:set",
        object_type="domain",
        object_key=row.name,
        reason=reason,
        details={"from": before.value, "to": mode.value},
        affects=domains(row.name),
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
