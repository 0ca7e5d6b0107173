"""Loading an account by handle inside a service's open transaction (shared by the credential services)."""

from __future__ import annotations

from sqlalchemy import select

from domainpriv.registration.errors import AccountNotFound
from domainpriv.store import Account, UnitOfWork


def account_row(uow: UnitOfWork, handle: str) -> Account:
    """The account row, or AccountNotFound naming the handle."""
    row = uow.session.scalar(select(Account).where(Account.handle == handle))
    if row is None:
        raise AccountNotFound(handle)
    return row
