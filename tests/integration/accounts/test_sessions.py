"""Login, throttling and server-side sessions on real SQLite and PostgreSQL, each attack named."""

from __future__ import annotations

import threading
from datetime import timedelta

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select, text

from domainpriv.accounts import services as credentials
from domainpriv.accounts import sessions, two_factor
from domainpriv.audit import verify_chain
from domainpriv.store import AuditEvent, LoginAttempt, UnitOfWork
from domainpriv.vocabulary import AccountKind
from support.builders import ACTOR, make_account

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery staple"
HERE = "192.0.2.10"


@pytest.fixture
def customer(uow: UnitOfWork) -> str:
    handle = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=handle, password=PASSWORD, reason="test", hasher=FAST)
    return handle


def login(uow: UnitOfWork, account: str, password: str = PASSWORD, source: str = HERE) -> sessions.LoggedIn:
    return sessions.login(uow, account=account, password=password, source=source, hasher=FAST)


def test_a_login_opens_a_session_that_logout_ends(uow: UnitOfWork, customer: str, engine: Engine) -> None:
    done = login(uow, customer)
    info = sessions.current_session(uow, done.session_id)
    assert info is not None and info.account == customer
    with engine.connect() as conn:  # the cookie's value is nowhere in the database
        stored = "\n".join(str(v) for row in conn.execute(text("SELECT * FROM login_session")) for v in row)
    assert done.session_id not in stored
    assert sessions.logout(uow, done.session_id)
    assert sessions.current_session(uow, done.session_id) is None
    assert not sessions.logout(uow, done.session_id)
    with uow.reading() as r:
        actions = list(r.session.scalars(select(AuditEvent.action).where(AuditEvent.object_key == customer)))
        verify_chain(r.session)
    assert actions[-2:] == ["account:session:start", "account:session:end"]


@pytest.mark.parametrize("kind", list(AccountKind))
def test_a_login_and_its_logout_are_audited_as_the_account_s_own_kind(uow: UnitOfWork, kind: AccountKind) -> None:
    """An auditor reading the chain must see a staff member's login as staff, a reseller's as a reseller's."""
    handle = make_account(uow, kind=kind).handle
    credentials.set_password(uow, actor=ACTOR, account=handle, password=PASSWORD, reason="test", hasher=FAST)
    assert sessions.logout(uow, login(uow, handle).session_id)
    with uow.reading() as r:
        actors = r.session.execute(select(AuditEvent.action, AuditEvent.actor).where(
            AuditEvent.object_key == handle, AuditEvent.action.like("account:session:%"))).all()  # fmt: skip
    assert [tuple(a) for a in actors] == [("account:session:start", f"{kind.value}:{handle}"),
                                          ("account:session:end", f"{kind.value}:{handle}")]  # fmt: skip


def test_wrong_password_and_unknown_account_get_the_same_refusal(uow: UnitOfWork, customer: str) -> None:
    with pytest.raises(sessions.LoginRefused) as wrong:
        login(uow, customer, "not the password at all")
    with pytest.raises(sessions.LoginRefused) as unknown:
        login(uow, "no-such-account")
    assert str(wrong.value) == str(unknown.value) == "wrong account or password"
    assert wrong.value.retry_after_seconds is None


def test_password_guessing_is_throttled_per_account_then_allowed_after_the_window(
    uow: UnitOfWork, customer: str, clock: object
) -> None:
    for i in range(5):
        with pytest.raises(sessions.LoginRefused):
            login(uow, customer, f"guess number {i}!", source=f"198.51.100.{i}")  # spread over addresses
    with pytest.raises(sessions.LoginRefused) as throttled:
        login(uow, customer)  # even the right password: refused before it is checked
    assert throttled.value.retry_after_seconds is not None and 0 < throttled.value.retry_after_seconds <= 15 * 60
    assert "try again in" in str(throttled.value)
    clock.advance(minutes=16)  # type: ignore[attr-defined]
    assert sessions.current_session(uow, login(uow, customer).session_id) is not None


def test_password_spraying_from_one_source_is_throttled_per_source(uow: UnitOfWork, customer: str) -> None:
    for i in range(20):
        with pytest.raises(sessions.LoginRefused):
            login(uow, f"sprayed-{i}", "Summer2026!!!", source="203.0.113.7")
    with pytest.raises(sessions.LoginRefused) as throttled:
        login(uow, customer, source="203.0.113.7")
    assert throttled.value.retry_after_seconds is not None
    assert login(uow, customer, source=HERE).account == customer  # another source is not punished
    with uow.reading() as r:
        assert r.session.scalar(select(LoginAttempt.id).where(LoginAttempt.account == "sprayed-3")) is not None


@pytest.mark.parametrize("spread", ["one-account", "one-source"])
def test_parallel_guesses_get_no_more_password_checks_than_the_limit(
    uow: UnitOfWork, customer: str, spread: str
) -> None:
    """A burst of guesses sent at once: each reserves its place in the count before its password is checked, so
    no more than the limit are ever checked (counting first and recording after let the whole burst through)."""
    guesses, limit = (12, 5) if spread == "one-account" else (30, 20)
    start = threading.Barrier(guesses)
    outcomes: list[str] = []

    def guess(i: int) -> None:
        account, source = (customer, f"198.51.100.{i}") if spread == "one-account" else (f"sprayed-{i}", HERE)
        start.wait()
        try:
            login(uow, account, f"guess number {i}!", source=source)
            outcomes.append("logged in")
        except sessions.LoginRefused as refused:
            outcomes.append("throttled" if refused.retry_after_seconds else str(refused))

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(guesses)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == sorted(["wrong account or password"] * limit + ["throttled"] * (guesses - limit))
    with uow.reading() as r:  # every guess that was checked is recorded, and none that was refused unchecked
        recorded = r.session.scalar(select(func.count()).select_from(LoginAttempt))
    assert recorded == limit


def test_a_login_that_needs_its_code_counts_no_failure(uow: UnitOfWork, customer: str) -> None:
    """The password step of a two-factor login is not a failed attempt: a customer who logs in six times in a
    quarter of an hour is not locked out by their own code prompts."""
    secret = two_factor.begin(uow, actor=ACTOR, account=customer).secret
    two_factor.confirm(uow, actor=ACTOR, account=customer, code=pyotp.TOTP(secret).at(uow.clock()))
    for _ in range(6):
        with pytest.raises(sessions.LoginRefused) as asked:
            login(uow, customer)
        assert asked.value.needs_code
    with uow.reading() as r:
        assert r.session.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def test_sessions_expire_when_idle_and_at_their_absolute_limit(uow: UnitOfWork, customer: str, clock: object) -> None:
    idle = login(uow, customer)
    clock.advance(minutes=31)  # type: ignore[attr-defined]
    assert sessions.current_session(uow, idle.session_id) is None
    busy = login(uow, customer)
    for _ in range(25):  # active every 29 minutes: never idle, but 12 hours is the limit
        clock.advance(minutes=29)  # type: ignore[attr-defined]
        if sessions.current_session(uow, busy.session_id) is None:
            break
    else:
        pytest.fail("a session outlived its absolute limit")
    assert busy.expires_at - timedelta(minutes=29) <= uow.clock() <= busy.expires_at + timedelta(minutes=29)


def test_logout_everywhere_ends_every_session_of_the_account_only(uow: UnitOfWork, customer: str) -> None:
    other = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=other, password=PASSWORD, reason="test", hasher=FAST)
    mine = [login(uow, customer, source=f"192.0.2.{i}") for i in range(3)]
    theirs = login(uow, other)
    assert sessions.end_all_sessions(uow, actor=ACTOR, account=customer, reason="lost laptop") == 3
    assert all(sessions.current_session(uow, s.session_id) is None for s in mine)
    assert sessions.current_session(uow, theirs.session_id) is not None


@pytest.mark.parametrize("forged", ["", "dp_", "dp_" + "A" * 43, "x" * 5000, "' OR '1'='1", "dp_\x00abc"])
def test_a_forged_or_malformed_session_id_opens_nothing(uow: UnitOfWork, customer: str, forged: str) -> None:
    login(uow, customer)
    assert sessions.current_session(uow, forged) is None
    assert not sessions.logout(uow, forged)


def test_session_fixation_a_login_always_issues_a_new_id(uow: UnitOfWork, customer: str) -> None:
    """An id chosen by an attacker before login is never the one the login returns."""
    ids = {login(uow, customer).session_id for _ in range(3)}
    assert len(ids) == 3
