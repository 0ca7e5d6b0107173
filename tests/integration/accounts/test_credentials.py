"""Passwords and API tokens on real SQLite and PostgreSQL: rules, re-hashing, revocation, audit without secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select, text

from domainpriv.accounts import services as credentials
from domainpriv.registration.errors import AccountNotFound, ValidationError
from domainpriv.store import Account, ApiToken, AuditEvent, UnitOfWork
from support.builders import ACTOR, make_account

# Cheap parameters keep the suite fast; the production defaults are argon2-cffi's (about 0.1 s a hash).
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
FASTER = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=2)  # "the parameters changed"
PASSWORD = "correct horse battery staple"


def audit_rows(uow: UnitOfWork) -> list[AuditEvent]:
    with uow.reading() as r:
        return list(r.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def everything_stored(engine: Engine) -> str:
    """Every text value of the credential-bearing tables and the audit log, to search for secrets."""
    with engine.connect() as conn:
        rows = [
            *conn.execute(text("SELECT * FROM audit_event")),
            *conn.execute(text("SELECT * FROM api_token")),
            *conn.execute(text("SELECT handle, name, email FROM account")),
        ]
    return "\n".join(str(value) for row in rows for value in row)


def test_a_password_is_checked_and_a_wrong_one_refused(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=acct, password=PASSWORD, reason="test", hasher=FAST)
    assert credentials.check_password(uow, account=acct, password=PASSWORD, hasher=FAST)
    assert not credentials.check_password(uow, account=acct, password=PASSWORD + "!", hasher=FAST)
    assert not credentials.check_password(uow, account=acct, password="", hasher=FAST)
    assert not credentials.check_password(uow, account="nobody", password=PASSWORD, hasher=FAST)
    other = make_account(uow).handle  # no password set: refused, never an error
    assert not credentials.check_password(uow, account=other, password=PASSWORD, hasher=FAST)
    with uow.reading() as r:
        stored = r.session.scalar(select(Account.password_hash).where(Account.handle == acct))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored


@pytest.mark.parametrize(
    ("password", "problem"),
    [
        ("short", "at least 12 characters"),
        ("x" * 1025, "at most 1024 characters"),
        (" " * 14, "only white space"),
        ("twelve chars\x00!", "control characters"),
    ],
)
def test_a_weak_or_malformed_password_is_refused_naming_the_field_and_nothing_is_written(
    uow: UnitOfWork, password: str, problem: str
) -> None:
    acct = make_account(uow).handle
    events = len(audit_rows(uow))
    with pytest.raises(ValidationError) as refused:
        credentials.set_password(uow, actor=ACTOR, account=acct, password=password, reason="test", hasher=FAST)
    assert refused.value.field == "password" and problem in str(refused.value)
    assert password.strip() == "" or password not in str(refused.value)
    assert len(audit_rows(uow)) == events
    with uow.reading() as r:
        assert r.session.scalar(select(Account.password_hash).where(Account.handle == acct)) is None


def test_an_unknown_account_is_named(uow: UnitOfWork) -> None:
    with pytest.raises(AccountNotFound):
        credentials.set_password(uow, actor=ACTOR, account="ghost", password=PASSWORD, reason="test", hasher=FAST)
    with pytest.raises(AccountNotFound):
        credentials.issue_token(uow, actor=ACTOR, account="ghost", name="ci", reason="test")


def test_a_login_rehashes_a_hash_made_with_old_parameters_once(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=acct, password=PASSWORD, reason="test", hasher=FAST)
    assert credentials.check_password(uow, account=acct, password=PASSWORD, hasher=FASTER)
    with uow.reading() as r:
        stored = r.session.scalar(select(Account.password_hash).where(Account.handle == acct))
    assert stored is not None and not FASTER.check_needs_rehash(stored)
    assert credentials.check_password(uow, account=acct, password=PASSWORD, hasher=FASTER)  # no second rehash
    actions = [e.action for e in audit_rows(uow) if e.object_key == acct]
    assert actions.count("account:password:rehash") == 1
    assert not credentials.check_password(uow, account=acct, password="wrong password!", hasher=FAST)


def test_tokens_authenticate_until_revoked_and_are_stored_only_as_digests(uow: UnitOfWork, engine: Engine) -> None:
    a, b = make_account(uow).handle, make_account(uow).handle
    issued = credentials.issue_token(uow, actor=ACTOR, account=a, name="deploy bot", reason="test")
    other = credentials.issue_token(uow, actor=ACTOR, account=b, name="b's", reason="test")
    assert issued.token.startswith("dp_") and issued.token != other.token
    assert credentials.authenticate_token(uow, issued.token) == a
    assert credentials.authenticate_token(uow, other.token) == b
    for bad in ("", "dp_", issued.token[:-1], issued.token + "x", "Bearer " + issued.token, "' OR 1=1 --"):
        assert credentials.authenticate_token(uow, bad) is None
    assert issued.token not in everything_stored(engine)

    with pytest.raises(ValidationError):  # another account's token: exactly like one that does not exist
        credentials.revoke_token(uow, actor=ACTOR, account=a, token_id=other.record.id, reason="test")
    assert credentials.authenticate_token(uow, other.token) == b
    revoked = credentials.revoke_token(uow, actor=ACTOR, account=a, token_id=issued.record.id, reason="leaked")
    assert revoked.revoked_at is not None
    assert credentials.authenticate_token(uow, issued.token) is None
    again = credentials.revoke_token(uow, actor=ACTOR, account=a, token_id=issued.record.id, reason="leaked")
    assert again.revoked_at == revoked.revoked_at  # idempotent, one event
    assert [t.name for t in credentials.list_tokens(uow, account=a)] == ["deploy bot"]
    actions = [e.action for e in audit_rows(uow) if e.object_key == a]
    assert actions.count("account:token:issue") == 1 and actions.count("account:token:revoke") == 1


def test_audit_events_name_the_change_but_hold_no_secret(uow: UnitOfWork, engine: Engine) -> None:
    acct = make_account(uow).handle
    credentials.set_password(uow, actor=ACTOR, account=acct, password=PASSWORD, reason="test", hasher=FAST)
    credentials.set_password(uow, actor=ACTOR, account=acct, password=PASSWORD[::-1], reason="test", hasher=FAST)
    credentials.issue_token(uow, actor=ACTOR, account=acct, name="ci", reason="test")
    events = [e for e in audit_rows(uow) if e.object_key == acct]
    assert [e.action for e in events][-3:] == ["account:password:set", "account:password:set", "account:token:issue"]
    audit_text = "\n".join(f"{e.details} {e.reason} {e.before_digest} {e.after_digest}" for e in events)
    with uow.reading() as r:
        stored_hash = r.session.scalar(select(Account.password_hash).where(Account.handle == acct))
        digest = r.session.scalar(select(ApiToken.digest))
    assert stored_hash is not None and digest is not None
    for secret in (PASSWORD, PASSWORD[::-1], stored_hash, digest):
        assert secret not in audit_text


def test_the_cli_sets_a_password_from_stdin_and_prints_a_token_once(
    uow: UnitOfWork, db_url: str, tmp_path: Path
) -> None:
    acct = make_account(uow).handle
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
    env["DOMAINPRIV_DATABASE_URL"] = db_url

    def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "domainpriv", *args], input=stdin, env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, check=False)  # fmt: skip

    done = run("account", "passwd", acct, stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr
    assert credentials.check_password(uow, account=acct, password=PASSWORD)  # the default (production) hasher
    weak = run("account", "passwd", acct, stdin="short\n")
    assert weak.returncode == 1 and weak.stderr.startswith("error: ") and "password" in weak.stderr
    assert "short" not in weak.stderr
    printed = run("account", "token", acct, "--name", "ops")
    assert printed.returncode == 0, printed.stderr
    token = printed.stdout.strip()
    assert credentials.authenticate_token(uow, token) == acct
    assert "shown once" in printed.stderr and token not in printed.stderr
    missing = run("account", "token", "ghost")
    assert missing.returncode == 1 and "ghost" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1
