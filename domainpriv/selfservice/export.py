"""The personal-data export as the portal, the API and staff ask for it: authorised and tenant-scoped here,
made and audited by accounts/export.py."""

from __future__ import annotations

from typing import Any

from domainpriv.accounts.access import Permission, Principal, require, scoped_account
from domainpriv.accounts.export import export_account
from domainpriv.registration.validation import normalize_text
from domainpriv.store import UnitOfWork


def export_in_scope(uow: UnitOfWork, principal: Principal, *, account: str, reason: str) -> dict[str, Any]:
    """The export of an account in the principal's scope. Raises Forbidden, AccountNotFound (also another
    tenant's), ValidationError (reason)."""
    require(principal, Permission.EXPORT)
    scoped_account(uow, principal, account)
    return export_account(uow, actor=principal.actor, account=account,
                          reason=normalize_text(reason, "reason", max_length=200))  # fmt: skip
