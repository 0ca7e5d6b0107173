"""Password reset by e-mailed link on real SQLite and PostgreSQL, mailed through the outbox to a real SMTP sink."""

from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, text

from domainpriv.accounts import password_reset, sessions
from domainpriv.accounts import services as credentials
from domainpriv.config import MailSettings
from domainpriv.notify.delivery import deliver_due
from domainpriv.registration.errors import ValidationError
from domainpriv.store import Account, Notice, UnitOfWork
from support.builders import ACTOR, make_account, make_contact, make_domain
from support.smtp_sink import Sink, smtp_sink

FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
OLD, NEW = "correct horse battery staple", "a new and longer passphrase"
BASE = "http://127.0.0.1:8081"


def mail(sink: Sink) -> MailSettings:
    return MailSettings.model_validate({
        "smtp_host": "127.0.0.1", "smtp_port": sink.port, "from_address": "noreply@registrar.example",
        "starttls": False, "username": "", "password": "", "timeout_seconds": 5, "max_attempts": 3,
        "backoff_seconds": 60,
    })  # fmt: skip


@pytest.fixture
def account(uow: UnitOfWork) -> tuple[str, str]:
    record = make_account(uow)
    credentials.set_password(uow, actor=ACTOR, account=record.handle, password=OLD, reason="test", hasher=FAST)
    return record.handle, record.email


def mailed_token(uow: UnitOfWork, email: str) -> str:
    """The token of the reset link mailed to `email` (delivered to a real SMTP sink)."""
    with smtp_sink() as sink:
        deliver_due(uow, mail(sink))
    (message,) = [m for m in sink.messages if m["To"] == email and m["Subject"] == "Reset your password"]
    found = re.search(re.escape(BASE) + r"/password-reset/(\S+)", message.get_content())
    assert found is not None
    return found.group(1)


def test_the_mailed_link_sets_the_new_password_once_and_ends_every_session(
    uow: UnitOfWork, account: tuple[str, str], engine: Engine
) -> None:
    handle, email = account
    open_session = sessions.login(uow, account=handle, password=OLD, source="192.0.2.1", hasher=FAST)
    password_reset.request_reset(uow, email=email.upper(), link_base=BASE)  # addresses match case-insensitively
    token = mailed_token(uow, email)
    with engine.connect() as conn:
        stored = "\n".join(str(v) for row in conn.execute(text("SELECT * FROM password_reset")) for v in row)
    assert token not in stored
    assert password_reset.reset_password(uow, token=token, password=NEW, hasher=FAST) == handle
    assert credentials.check_password(uow, account=handle, password=NEW, hasher=FAST)
    assert not credentials.check_password(uow, account=handle, password=OLD, hasher=FAST)
    assert sessions.current_session(uow, open_session.session_id) is None
    with pytest.raises(password_reset.ResetRefused):  # replay of a used link
        password_reset.reset_password(uow, token=token, password="yet another passphrase", hasher=FAST)
    with uow.reading() as r:
        kinds = list(r.session.scalars(select(Notice.kind).where(Notice.to_address == email).order_by(Notice.id)))
    assert kinds == ["password-reset", "password-changed"]


def test_an_unknown_address_gets_the_same_answer_and_no_mail(uow: UnitOfWork, account: tuple[str, str]) -> None:
    assert password_reset.request_reset(uow, email="nobody@nowhere.example", link_base=BASE) is None
    assert password_reset.request_reset(uow, email="' OR 1=1 --", link_base=BASE) is None
    with uow.reading() as r:
        assert r.session.scalar(select(Notice.id)) is None


def test_a_link_expires_after_an_hour(uow: UnitOfWork, account: tuple[str, str], clock: object) -> None:
    handle, email = account
    password_reset.request_reset(uow, email=email, link_base=BASE)
    token = mailed_token(uow, email)
    clock.advance(minutes=61)  # type: ignore[attr-defined]
    with pytest.raises(password_reset.ResetRefused, match="unknown, used or expired"):
        password_reset.reset_password(uow, token=token, password=NEW, hasher=FAST)
    assert credentials.check_password(uow, account=handle, password=OLD, hasher=FAST)


def test_a_weak_new_password_does_not_use_the_link_up(uow: UnitOfWork, account: tuple[str, str]) -> None:
    handle, email = account
    password_reset.request_reset(uow, email=email, link_base=BASE)
    token = mailed_token(uow, email)
    with pytest.raises(ValidationError):
        password_reset.reset_password(uow, token=token, password="short", hasher=FAST)
    assert password_reset.reset_password(uow, token=token, password=NEW, hasher=FAST) == handle


@pytest.mark.parametrize("forged", ["", "dp_", "dp_" + "A" * 43, "x" * 3000, "../../etc/passwd"])
def test_a_forged_link_is_refused(uow: UnitOfWork, account: tuple[str, str], forged: str) -> None:
    with pytest.raises(password_reset.ResetRefused):
        password_reset.reset_password(uow, token=forged, password=NEW, hasher=FAST)


def test_the_notices_are_linked_to_their_account(uow: UnitOfWork, account: tuple[str, str]) -> None:
    handle, email = account
    password_reset.request_reset(uow, email=email, link_base=BASE)
    password_reset.reset_password(uow, token=mailed_token(uow, email), password=NEW, hasher=FAST)
    with uow.reading() as r:
        linked = list(r.session.execute(select(Notice.kind, Account.handle).join(Account).order_by(Notice.id)))
    assert [tuple(row) for row in linked] == [("password-reset", handle), ("password-changed", handle)]


@pytest.fixture
def domain_of_account(uow: UnitOfWork, account: tuple[str, str]) -> str:
    """A domain of the account whose registrant e-mail differs from the account's address."""
    registrant = make_contact(uow, account[0], email="registrant@bakery.example")
    return make_domain(uow, "bakery-reset.com", account=account[0], registrant=registrant.handle).name


def test_reset_to_registrant_mails_the_link_to_the_registrant_email_on_the_domain_record(
    uow: UnitOfWork, account: tuple[str, str], domain_of_account: str
) -> None:
    """Seed 000: "request a new password ... to the email address on the domain registration record"."""
    handle, email = account
    password_reset.request_reset(uow, domain="BAKERY-RESET.COM.", link_base=BASE, reset_to="registrant")
    with uow.reading() as r:
        (notice,) = r.session.scalars(select(Notice))
        assert (notice.to_address, notice.kind) == ("registrant@bakery.example", "password-reset")
    token = mailed_token(uow, "registrant@bakery.example")
    assert password_reset.reset_password(uow, token=token, password=NEW, hasher=FAST) == handle
    assert credentials.check_password(uow, account=handle, password=NEW, hasher=FAST)
    with uow.reading() as r:
        to = r.session.scalars(select(Notice.to_address).where(Notice.kind == "password-changed"))
        assert list(to) == [email]  # the confirmation goes to the account's own address


@pytest.mark.parametrize("asked", ["unknown-domain.com", "not a domain", "' OR 1=1 --", "x" * 5000, ""])
def test_reset_to_registrant_answers_the_same_for_an_unknown_domain_and_mails_nothing(
    uow: UnitOfWork, domain_of_account: str, asked: str
) -> None:
    assert password_reset.request_reset(uow, domain=asked, link_base=BASE, reset_to="registrant") is None
    with uow.reading() as r:
        assert r.session.scalar(select(Notice.id)) is None


def test_reset_to_registrant_still_serves_a_request_by_account_address(
    uow: UnitOfWork, account: tuple[str, str], domain_of_account: str
) -> None:
    handle, email = account
    password_reset.request_reset(uow, email=email, link_base=BASE, reset_to="registrant")
    assert password_reset.reset_password(uow, token=mailed_token(uow, email), password=NEW, hasher=FAST) == handle


def test_reset_to_account_does_not_mail_a_registrant_for_a_domain_name(uow: UnitOfWork, domain_of_account: str) -> None:
    password_reset.request_reset(uow, domain=domain_of_account, link_base=BASE)
    with uow.reading() as r:
        assert r.session.scalar(select(Notice.id)) is None
