"""A service composed of others runs in one transaction (store/session.py): the inner commits only flush, the
outer block decides, and an inner failure cannot be committed by catching it. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading

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


def test_threads_sharing_one_unit_of_work_each_get_their_own_transaction(uow: UnitOfWork) -> None:
    """The portal's request handlers share the daemon's UnitOfWork from a thread pool: concurrent changes must
    neither join nor spoil each other's transactions (bench_portal found 1,054 of 1,070 changes failing)."""
    threads, per_thread = 8, 15
    start = threading.Barrier(threads)
    failures: list[BaseException] = []

    def work(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            try:
                with uow:  # an outer block per change, as a service call makes
                    make_account(uow, f"t{t}-a{i}")
                    if i % 3 == 0:  # a failing change in one thread spoils only its own transaction
                        with pytest.raises(AccountExists):
                            make_account(uow, f"t{t}-a{i}")
                        continue
                    uow.commit()
            except BaseException as exc:
                failures.append(exc)

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert failures == []
    assert accounts(uow) == threads * (per_thread - len(range(0, per_thread, 3)))
