"""TOTP two-factor with recovery codes on real SQLite and PostgreSQL: set-up, login, replay, recovery."""

from __future__ import annotations

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from domainpriv.accounts import services as credentials
from domainpriv.accounts import sessions, two_factor
from domainpriv.registration.errors import ValidationError
from domainpriv.store import AuditEvent, UnitOfWork
from support.builders import ACTOR, make_account

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery staple"


def code_now(uow: UnitOfWork, secret: str, steps_back: int = 0) -> str:
    return pyotp.TOTP(secret).at(int(uow.clock().timestamp()) - 30 * steps_back)


@pytest.fixture
def enrolled(uow: UnitOfWork) -> tuple[str, str, list[str]]:
    handle = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=handle, password=PASSWORD, reason="test", hasher=FAST)
    enrolment = two_factor.begin(uow, actor=ACTOR, account=handle)
    assert enrolment.uri.startswith("otpauth://totp/") and "issuer=domainpriv" in enrolment.uri
    assert not two_factor.enabled(uow, handle)  # not in force before it is confirmed
    recovery = two_factor.confirm(uow, actor=ACTOR, account=handle, code=code_now(uow, enrolment.secret))
    assert two_factor.enabled(uow, handle) and len(recovery) == 10 and len(set(recovery)) == 10
    return handle, enrolment.secret, recovery


def login(uow: UnitOfWork, handle: str, code: str | None) -> sessions.LoggedIn:
    return sessions.login(uow, account=handle, password=PASSWORD, source="192.0.2.1", code=code, hasher=FAST)


def test_confirming_needs_a_matching_code_and_a_pending_set_up(uow: UnitOfWork) -> None:
    handle = make_account(uow).handle
    with pytest.raises(ValidationError, match="no two-factor set-up"):
        two_factor.confirm(uow, actor=ACTOR, account=handle, code="123456")
    enrolment = two_factor.begin(uow, actor=ACTOR, account=handle)
    wrong = f"{(int(code_now(uow, enrolment.secret)) + 1) % 1_000_000:06d}"
    with pytest.raises(ValidationError, match="does not match"):
        two_factor.confirm(uow, actor=ACTOR, account=handle, code=wrong)
    assert not two_factor.enabled(uow, handle)


def test_login_asks_for_the_code_after_the_password_and_accepts_the_current_one(
    uow: UnitOfWork, enrolled: tuple[str, str, list[str]], clock: object
) -> None:
    handle, secret, _ = enrolled
    with pytest.raises(sessions.LoginRefused) as asked:
        login(uow, handle, None)
    assert asked.value.needs_code
    clock.advance(seconds=60)  # type: ignore[attr-defined]  # a later step than the one confirmed
    assert login(uow, handle, code_now(uow, secret)).account == handle


def test_replay_a_used_code_is_refused_even_inside_its_window(
    uow: UnitOfWork, enrolled: tuple[str, str, list[str]], clock: object
) -> None:
    handle, secret, _ = enrolled
    clock.advance(seconds=60)  # type: ignore[attr-defined]
    code = code_now(uow, secret)
    login(uow, handle, code)
    with pytest.raises(sessions.LoginRefused, match="wrong two-factor code"):
        login(uow, handle, code)
    clock.advance(seconds=30)  # type: ignore[attr-defined]
    assert login(uow, handle, code_now(uow, secret)).account == handle
    stale = code_now(uow, secret, steps_back=3)
    with pytest.raises(sessions.LoginRefused):
        login(uow, handle, stale)


def test_a_recovery_code_works_once_and_its_use_is_audited(
    uow: UnitOfWork, enrolled: tuple[str, str, list[str]]
) -> None:
    handle, _, recovery = enrolled
    assert login(uow, handle, recovery[0].lower()).account == handle  # typed in lower case: still that code
    with pytest.raises(sessions.LoginRefused):
        login(uow, handle, recovery[0])
    with uow.reading() as r:
        actions = list(r.session.scalars(select(AuditEvent.action).where(AuditEvent.object_key == handle)))
        details = list(r.session.scalars(select(AuditEvent.details).where(AuditEvent.object_key == handle)))
    assert actions.count("account:2fa:recovery-code") == 1
    assert not any(code.replace("-", "") in " ".join(details) for code in recovery)


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦", "' OR 1=1", "9" * 500])
def test_malformed_codes_are_refused(uow: UnitOfWork, enrolled: tuple[str, str, list[str]], bad: str) -> None:
    handle, _, _ = enrolled
    assert not two_factor.verify(uow, account=handle, code=bad)


def test_disabling_removes_the_second_factor_and_its_codes(
    uow: UnitOfWork, enrolled: tuple[str, str, list[str]]
) -> None:
    handle, _, recovery = enrolled
    two_factor.disable(uow, actor=ACTOR, account=handle, reason="lost phone, identity checked by support")
    assert not two_factor.enabled(uow, handle)
    assert not two_factor.verify(uow, account=handle, code=recovery[1])
    assert login(uow, handle, None).account == handle
