"""Re-verification before a sensitive step, on real SQLite and PostgreSQL: by password or by an e-mailed code,
fresh for ten minutes, the code single-use with five tries."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from conftest import FrozenClock
from sqlalchemy import select

from domainpriv.accounts import reverify, sessions
from domainpriv.accounts import services as credentials
from domainpriv.store import Account, AuditEvent, Notice, UnitOfWork
from support.builders import ACTOR, make_account

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery staple"


def logged_in(uow: UnitOfWork) -> str:
    handle = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=handle, password=PASSWORD, reason="test", hasher=FAST)
    return sessions.login(uow, account=handle, password=PASSWORD, source="192.0.2.1", hasher=FAST).session_id


def test_the_password_makes_the_session_fresh_for_ten_minutes(uow: UnitOfWork, clock: FrozenClock) -> None:
    session_id = logged_in(uow)
    assert not reverify.is_fresh(uow, session_id=session_id)
    assert not reverify.with_password(uow, session_id=session_id, password="wrong password here", hasher=FAST)
    assert not reverify.is_fresh(uow, session_id=session_id)
    assert reverify.with_password(uow, session_id=session_id, password=PASSWORD, hasher=FAST)
    assert reverify.is_fresh(uow, session_id=session_id)
    clock.advance(minutes=11)
    assert not reverify.is_fresh(uow, session_id=session_id)


def test_the_password_rehashes_a_hash_made_with_old_parameters(uow: UnitOfWork) -> None:
    """As a login does (passwords.check): the stored hash follows the configured parameters."""
    session_id = logged_in(uow)
    faster = PasswordHasher(time_cost=2, memory_cost=8 * 1024, parallelism=1)
    assert reverify.with_password(uow, session_id=session_id, password=PASSWORD, hasher=faster)
    with uow.reading() as r:
        stored = r.session.scalars(select(Account.password_hash)).all()
        actions = r.session.scalars(select(AuditEvent.action)).all()
    assert len(stored) == 1 and stored[0] is not None and not faster.check_needs_rehash(stored[0])
    assert actions.count("account:password:rehash") == 1
    assert reverify.with_password(uow, session_id=session_id, password=PASSWORD, hasher=faster)  # nothing to redo
    with uow.reading() as r:
        assert r.session.scalars(select(AuditEvent.action)).all().count("account:password:rehash") == 1


def test_the_emailed_code_works_once_and_five_wrong_tries_use_it_up(uow: UnitOfWork) -> None:
    session_id = logged_in(uow)
    assert reverify.send_code(uow, session_id=session_id)
    with uow.reading() as r:
        body = r.session.scalars(select(Notice.body).where(Notice.kind == "verification-code")).one()
    code = re.search(r"\b(\d{6})\b", body).group(1)  # type: ignore[union-attr]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert not reverify.with_code(uow, session_id=session_id, code=wrong)
    assert reverify.with_code(uow, session_id=session_id, code=code)
    assert reverify.is_fresh(uow, session_id=session_id)
    assert not reverify.with_code(uow, session_id=session_id, code=code)  # used

    reverify.send_code(uow, session_id=session_id)
    with uow.reading() as r:
        body = r.session.scalars(select(Notice.body).where(Notice.kind == "verification-code").order_by(
            Notice.id.desc()).limit(1)).one()  # fmt: skip
    code = re.search(r"\b(\d{6})\b", body).group(1)  # type: ignore[union-attr]
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(reverify.MAX_CODE_ATTEMPTS):
        assert not reverify.with_code(uow, session_id=session_id, code=wrong)
    assert not reverify.with_code(uow, session_id=session_id, code=code)  # too many tries: the code is spent


def test_at_most_five_codes_an_hour_are_mailed(uow: UnitOfWork, clock: FrozenClock) -> None:
    """Five tries per code and a new code on demand would be unlimited guessing: the codes themselves are capped."""
    session_id = logged_in(uow)
    for minute in range(reverify.MAX_CODES_PER_HOUR):
        assert reverify.send_code(uow, session_id=session_id)
        clock.advance(minutes=10 if minute == 0 else 1)
    with pytest.raises(reverify.TooManyCodes) as refused:
        reverify.send_code(uow, session_id=session_id)
    assert refused.value.retry_after_seconds == 46 * 60  # the first code (14 minutes ago) leaves the hour then
    assert "46 min" in str(refused.value)
    assert codes_mailed(uow) == reverify.MAX_CODES_PER_HOUR  # the refused request mailed nothing
    clock.advance(minutes=46)
    assert reverify.send_code(uow, session_id=session_id)
    assert codes_mailed(uow) == reverify.MAX_CODES_PER_HOUR + 1


def codes_mailed(uow: UnitOfWork) -> int:
    with uow.reading() as r:
        return len(r.session.scalars(select(Notice.id).where(Notice.kind == "verification-code")).all())


def test_an_unknown_session_is_never_fresh(uow: UnitOfWork) -> None:
    assert not reverify.is_fresh(uow, session_id="dp_not-a-session")
    assert not reverify.with_password(uow, session_id="dp_not-a-session", password=PASSWORD, hasher=FAST)
    assert not reverify.send_code(uow, session_id="garbage")
