"""Reading what a principal may see: its domains, one domain, its contacts, and (support, legal) customers.

Every read goes through the tenant check of accounts/access.py; another tenant's domain or contact raises the
same NotFound as a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from domainpriv.accounts.access import Permission, Principal, in_scope, require
from domainpriv.registration.errors import AccountNotFound, ContactNotFound, DomainNotFound
from domainpriv.registration.record_query import DomainKeys, load_domain
from domainpriv.registration.records import ContactRecord, DomainRecord
from domainpriv.registration.rows import contact_data
from domainpriv.registration.validation import normalize_domain_name, normalize_text, u_label
from domainpriv.store import Account, Contact, Domain, UnitOfWork
from domainpriv.vocabulary import AccountKind, PrivacyMode

PAGE = 100


@dataclass(frozen=True, slots=True)
class DomainSummary:
    name: str
    unicode_name: str
    account: str
    expires_at: datetime
    privacy_mode: PrivacyMode


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    handle: str
    kind: str
    name: str
    email: str
    domains: int


def list_domains(
    uow: UnitOfWork, principal: Principal, *, account: str | None = None, after: str = "", limit: int = PAGE
) -> list[DomainSummary]:
    """The domains of `account` (in scope), or the principal's own (a reseller's: also its customers'), by
    name, `limit` after `after`. Staff name the customer's account: there is no list of everything."""
    require(principal, Permission.DOMAINS_READ)
    limit = max(1, min(limit, 1000))
    statement = select(Domain.name, Account.handle, Domain.expires_at, Domain.privacy_mode).join(
        Account, Account.id == Domain.account_id
    )
    with uow.reading() as r:
        if account is not None:
            statement = statement.where(Account.id == _scoped_owner(r.session, principal, account).id)
        else:
            statement = statement.where(
                or_(Account.id == principal.account_id, Account.parent_id == principal.account_id)
            )
        rows = r.session.execute(statement.where(Domain.name > after).order_by(Domain.name).limit(limit)).all()
    return [DomainSummary(n, u_label(n), a, e, m) for n, a, e, m in rows]


def get_domain(uow: UnitOfWork, principal: Principal, name: str) -> DomainRecord:
    """The stored record of a domain in scope. Raises ValidationError, DomainNotFound (also another tenant's)."""
    require(principal, Permission.DOMAINS_READ)
    a_label = normalize_domain_name(name, "name")
    with uow.reading() as r:
        return load_in_scope(r.session, principal, a_label)[0]


def load_in_scope(
    session: Session, principal: Principal, a_label: str, *, for_update: bool = False
) -> tuple[DomainRecord, DomainKeys]:
    """Inside a service's transaction: the record and keys of a domain in scope, or DomainNotFound."""
    found = load_domain(session, a_label, for_update=for_update)
    if found is None or not in_scope(principal, found[1].account_id, found[1].account_parent_id):
        raise DomainNotFound(a_label)
    return found


def list_contacts(uow: UnitOfWork, principal: Principal, *, account: str | None = None) -> list[ContactRecord]:
    """The contacts of the principal's own account (or of `account` in its scope), by handle."""
    require(principal, Permission.DOMAINS_READ)
    with uow.reading() as r:
        s = r.session
        owner = _scoped_owner(s, principal, account or principal.handle)
        rows = s.scalars(select(Contact).where(Contact.account_id == owner.id).order_by(Contact.handle)).all()
        return [ContactRecord(c.handle, owner.handle, contact_data(c), c.verified_at, c.created_at, c.updated_at)
                for c in rows]  # fmt: skip


def get_contact(uow: UnitOfWork, principal: Principal, handle: str) -> ContactRecord:
    """One contact in scope. Raises ContactNotFound (also another tenant's)."""
    require(principal, Permission.DOMAINS_READ)
    with uow.reading() as r:
        c = contact_in_scope(r.session, principal, handle)
        return ContactRecord(c.handle, c.account.handle, contact_data(c), c.verified_at, c.created_at, c.updated_at)


def contact_in_scope(session: Session, principal: Principal, handle: str, *, for_update: bool = False) -> Contact:
    """Inside a transaction: a contact whose account is in scope, or ContactNotFound."""
    statement = select(Contact).where(Contact.handle == handle)
    contact = session.scalar(statement.with_for_update() if for_update else statement)
    if contact is None:
        raise ContactNotFound(handle)
    owner = session.get(Account, contact.account_id)
    if owner is None or not in_scope(principal, owner.id, owner.parent_id):
        raise ContactNotFound(handle)
    return contact


def _scoped_owner(session: Session, principal: Principal, handle: str) -> Account:
    owner = session.scalar(select(Account).where(Account.handle == handle))
    if owner is None or not in_scope(principal, owner.id, owner.parent_id):
        raise AccountNotFound(handle)
    return owner


def find_customers(uow: UnitOfWork, principal: Principal, text: str, *, limit: int = 50) -> list[CustomerSummary]:
    """Staff (support, legal, admin): customers and resellers whose handle, name or e-mail contains `text`, or
    who hold the domain named `text`. The search text is never logged (it is personal data)."""
    require(principal, Permission.CUSTOMERS_FIND)
    needle = normalize_text(text, "q", max_length=254).lower()
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    domains = select(func.count()).where(Domain.account_id == Account.id).scalar_subquery()
    holder = select(Domain.account_id).where(Domain.name == needle).scalar_subquery()
    matches = or_(
        func.lower(Account.handle).like(pattern, escape="\\"),
        func.lower(Account.name).like(pattern, escape="\\"),
        func.lower(Account.email).like(pattern, escape="\\"),
        Account.id == holder,
    )
    with uow.reading() as r:
        rows = r.session.execute(
            select(Account.handle, Account.kind, Account.name, Account.email, domains)
            .where(matches, Account.kind != AccountKind.STAFF)
            .order_by(Account.handle)
            .limit(max(1, min(limit, 200)))
        ).all()
    return [CustomerSummary(h, k.value, n, e, int(d)) for h, k, n, e, d in rows]
