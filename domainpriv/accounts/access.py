"""Who may do what: the principal behind a request, the permissions of each kind and staff role, and the tenant
scope (which accounts' data a principal may see).

Why one table: least privilege is auditable only when it is written down once. The portal, the API and the
authorisation-matrix test all read `PERMISSIONS`; a route names the permission it needs and `require` is the only
check. Tenant scope is separate from permissions: a customer has `domains:write`, but only on its own domains;
another tenant's object is refused as `NotFound`, exactly like a missing one, so that a probe learns nothing.

Staff roles (vocabulary.StaffRole) act only with two-factor on: a staff session without it gets no permission
but `self` (enough to enrol). Resellers act for their own customers (accounts whose parent they are).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select

from domainpriv.audit import Actor
from domainpriv.errors import DomainprivError
from domainpriv.registration.errors import AccountNotFound
from domainpriv.store import Account, UnitOfWork
from domainpriv.vocabulary import AccountKind, StaffRole


class Permission(enum.StrEnum):
    SELF = "self"  # one's own login, password, two-factor, tokens
    DOMAINS_READ = "domains:read"  # registration data of the accounts in scope
    DOMAINS_WRITE = "domains:write"  # contacts, name servers, privacy of the accounts in scope
    CONSENT_WRITE = "consent:write"  # grant or withdraw consents of the accounts in scope
    EXPORT = "export"  # the personal-data export of the accounts in scope
    CUSTOMERS_FIND = "customers:find"  # search every customer (staff)
    CASES = "cases"  # complaints and disclosure requests (issue 10)
    ESCROW = "escrow"  # escrow deposits
    STAFF_ADMIN = "staff:admin"  # staff accounts and roles


P = Permission
_TENANT = frozenset({P.SELF, P.DOMAINS_READ, P.DOMAINS_WRITE, P.CONSENT_WRITE, P.EXPORT})

# Every principal kind and staff role with what it may do; nothing else is allowed.
PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    AccountKind.CUSTOMER.value: _TENANT,
    AccountKind.RESELLER.value: _TENANT,
    StaffRole.SUPPORT.value: _TENANT | {P.CUSTOMERS_FIND},
    StaffRole.LEGAL.value: frozenset({P.SELF, P.DOMAINS_READ, P.CUSTOMERS_FIND, P.CASES}),
    StaffRole.ESCROW_OPS.value: frozenset({P.SELF, P.ESCROW}),
    StaffRole.ADMIN.value: frozenset(Permission),
}


class Forbidden(DomainprivError):
    """The principal lacks a permission (answered 403; never used for another tenant's objects: NotFound)."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(f"not allowed: needs the {permission.value} permission")
        self.permission = permission


class StaffNeedTwoFactor(Forbidden):
    def __init__(self, permission: Permission) -> None:
        super().__init__(permission)
        self.args = ("staff accounts must turn on two-factor authentication before anything else",)


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated account behind a request, as much as authorisation needs."""

    account_id: int
    handle: str
    kind: AccountKind
    staff_role: StaffRole | None
    two_factor: bool
    via: str  # "session" or "token"

    @property
    def is_staff(self) -> bool:
        return self.kind is AccountKind.STAFF

    @property
    def role_name(self) -> str:
        return self.staff_role.value if self.staff_role is not None else self.kind.value

    @property
    def permissions(self) -> frozenset[Permission]:
        if self.is_staff and (self.staff_role is None or not self.two_factor):
            return frozenset({P.SELF})
        return PERMISSIONS[self.role_name]

    @property
    def actor(self) -> Actor:
        return account_actor(self.kind, self.handle)


def account_actor(kind: AccountKind | str, handle: str) -> Actor:
    """The audit actor of an account, whether it acts through a principal or on its own credentials (login,
    logout, reset, re-verification, a recovery code): by its kind, so that a staff member is audited as
    `staff:HANDLE`, a reseller as `reseller:HANDLE`, never as a customer."""
    return Actor(AccountKind(kind).value, handle)


def require(principal: Principal, permission: Permission) -> None:
    """Raise Forbidden unless the principal holds `permission`."""
    if permission in principal.permissions:
        return
    if principal.is_staff and permission in PERMISSIONS.get(principal.role_name, frozenset()):
        raise StaffNeedTwoFactor(permission)
    raise Forbidden(permission)


def principal_for(uow: UnitOfWork, handle: str, *, via: str) -> Principal:
    """The principal of an authenticated account handle. Raises AccountNotFound."""
    with uow.reading() as r:
        columns = select(Account.id, Account.kind, Account.staff_role, Account.totp_enabled_at)
        row = r.session.execute(columns.where(Account.handle == handle)).first()
    if row is None:
        raise AccountNotFound(handle)
    return Principal(row.id, handle, row.kind, row.staff_role, row.totp_enabled_at is not None, via)


def in_scope(principal: Principal, owner_id: int, owner_parent_id: int | None) -> bool:
    """Whether the principal may see data of the account `owner_id` (whose reseller is `owner_parent_id`):
    its own, a reseller's customers', and every account for staff with read access."""
    if principal.is_staff:
        return P.DOMAINS_READ in principal.permissions
    return owner_id == principal.account_id or owner_parent_id == principal.account_id


def scoped_account(uow: UnitOfWork, principal: Principal, handle: str) -> int:
    """The id of account `handle` if it is in the principal's scope; AccountNotFound otherwise (also when it
    exists but belongs to another tenant)."""
    with uow.reading() as r:
        row = r.session.execute(select(Account.id, Account.parent_id).where(Account.handle == handle)).first()
    if row is None or not in_scope(principal, row.id, row.parent_id):
        raise AccountNotFound(handle)
    return int(row.id)


def acting_reason(principal: Principal, reason: str, *, owner: str, ticket: str | None = None) -> str:
    """The audit reason of a change made for `owner`: staff name the customer and the ticket of the e-mailed
    request, resellers the customer they act for."""
    if principal.is_staff:
        return f"for {owner}, ticket {ticket}: {reason}" if ticket else f"for {owner}: {reason}"
    if principal.handle != owner:
        return f"for {owner}: {reason}"
    return reason
