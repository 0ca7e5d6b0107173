"""Password reset by e-mailed link: a single-use token, valid for an hour, stored as its SHA-256.

The request answers the same whether or not the address belongs to an account (the caller shows one message:
"if the address is known, a link is on its way"), so the form cannot be used to find out who is a customer. The
mail goes through the outbox in the request's transaction. Using the link sets the new password, uses up every
open reset of the account and ends all its sessions.

Known limit: an unknown address costs one read, a known one a short write as well; the difference (milliseconds)
is below the network's jitter but not zero. Sending from a queue would hide it completely.
"""

from __future__ import annotations

from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import func, select, update

from domainpriv.accounts import passwords, tokens
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.errors import DomainprivError
from domainpriv.notify.outbox import enqueue
from domainpriv.store import Account, LoginSession, PasswordReset, UnitOfWork

VALID_FOR = timedelta(hours=1)


class ResetRefused(DomainprivError):
    """The link is unknown, used or expired (one message for all three)."""


def request_reset(uow: UnitOfWork, *, email: str, link_base: str, valid_for: timedelta = VALID_FOR) -> None:
    """Mail a reset link to the account with this address, if there is one. Returns nothing either way."""
    address = email.strip()[:254]
    with uow:
        now = uow.clock()
        s = uow.session
        row = s.scalar(select(Account).where(func.lower(Account.email) == address.lower()).order_by(Account.id))
        if row is None:
            return
        token = tokens.new_token()
        s.add(PasswordReset(account_id=row.id, digest=tokens.token_digest(token), created_at=now,
                            expires_at=now + valid_for))  # fmt: skip
        minutes = int(valid_for.total_seconds() // 60)
        enqueue(s, now=now, kind="password-reset", to=row.email, subject="Reset your password", mandatory=True,
                body=f"Someone asked to reset the password of account {row.handle}.\n\n"
                     f"To choose a new password, open this link within {minutes} minutes:\n"
                     f"{link_base.rstrip('/')}/password-reset/{token}\n\n"
                     "If it was not you, ignore this message: your password stays as it is.\n")  # fmt: skip
        record_event(s, now=now, actor=Actor("customer", row.handle), action="account:password:reset-request",
                     object_type="account", object_key=row.handle, reason="reset link requested",
                     affects=NOTHING)  # fmt: skip
        uow.commit()


def reset_password(
    uow: UnitOfWork, *, token: str, password: str, hasher: PasswordHasher = passwords.DEFAULT_HASHER
) -> str:
    """Set the new password from a reset link; returns the account's handle. Raises ResetRefused,
    ValidationError (the password's rules, checked first: a weak password does not use the link up)."""
    passwords.check_new_password(password)
    if not tokens.looks_like_token(token):
        raise ResetRefused("this reset link is not valid (unknown, used or expired): ask for a new one")
    hashed = passwords.hash_password(password, hasher)
    with uow:
        now = uow.clock()
        s = uow.session
        found = s.execute(
            select(PasswordReset, Account)
            .join(Account, Account.id == PasswordReset.account_id)
            .where(PasswordReset.digest == tokens.token_digest(token))
            .with_for_update(of=PasswordReset)
        ).first()
        if found is None or found[0].used_at is not None or now >= found[0].expires_at:
            raise ResetRefused("this reset link is not valid (unknown, used or expired): ask for a new one")
        account = found[1]
        account.password_hash = hashed
        s.execute(update(PasswordReset).where(PasswordReset.account_id == account.id,
                                              PasswordReset.used_at.is_(None)).values(used_at=now))  # fmt: skip
        ended_sessions = s.execute(update(LoginSession).where(LoginSession.account_id == account.id,
                                                     LoginSession.ended_at.is_(None)).values(ended_at=now))  # fmt: skip
        ended = int(ended_sessions.rowcount)  # type: ignore[attr-defined]
        enqueue(s, now=now, kind="password-changed", to=account.email, subject="Your password was changed",
                mandatory=True, body=f"The password of account {account.handle} was changed with a reset link.\n"
                "If it was not you, contact support at once.\n")  # fmt: skip
        record_event(s, now=now, actor=Actor("customer", account.handle), action="account:password:reset",
                     object_type="account", object_key=account.handle, reason="reset link used",
                     details={"sessions_ended": ended}, affects=NOTHING)  # fmt: skip
        uow.commit()
        return account.handle
