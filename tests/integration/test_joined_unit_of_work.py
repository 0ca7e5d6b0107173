"""A service composed of others runs in one transaction (store/session.py): the inner commits only flush, the
outer block decides, and an inner failure cannot be committed by catching it. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from domainpriv.registration.errors import AccountExists
from domainpriv.store import Account, UnitOfWork
from support.builders import make_account


def accounts(uow: UnitOfWork) -> int:
    with uow.reading() as r:
        return int(r.session.scalar(select(func.count()).select_from(Account)) or 0)


def test_inner_services_commit_only_with_the_outer_block(uow: UnitOfWork) -> None:
    with uow:
        make_account(uow, "inner-1")
        make_account(uow, "inner-2")
        assert accounts(uow) == 0  # another transaction does not see them yet
    assert accounts(uow) == 0  # the outer block ended without commit: everything rolled back
    with uow:
        make_account(uow, "inner-1")
        uow.commit()
    assert accounts(uow) == 1


def test_a_caught_inner_failure_spoils_the_transaction(uow: UnitOfWork) -> None:
    make_account(uow, "taken")
    with uow:
        make_account(uow, "would-be-half")
        with pytest.raises(AccountExists):
            make_account(uow, "taken")
        with pytest.raises(RuntimeError, match="cannot commit"):
            uow.commit()
    assert accounts(uow) == 1
    with uow:  # the next transaction starts clean
        make_account(uow, "after")
        uow.commit()
    assert accounts(uow) == 2
