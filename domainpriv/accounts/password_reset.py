"""Password reset by e-mailed link: a single-use token, valid for an hour, stored as its SHA-256.

The link goes to the account's own address, or (`accounts.reset_to = "registrant"`, seed 000) to the registrant
e-mail on the record of a domain the request names. The request answers the same whether or not the address or
domain is known (the caller shows one message: "if it is known, a link is on its way"), so the form cannot be
used to find out who is a customer. The mail goes through the outbox in the request's transaction. Using the
link sets the new password, uses up every open reset of the account and ends all its sessions.

Known limit: an unknown address or domain costs one read, a known one a short write as well; the difference
(milliseconds) is below the network's jitter but not zero. Sending from a queue would hide it completely.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from argon2 import PasswordHasher
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from domainpriv.accounts import passwords, tokens
from domainpriv.accounts.access import account_actor
from domainpriv.audit import record_event
from domainpriv.changes import NOTHING
from domainpriv.errors import DomainprivError
from domainpriv.notify.outbox import enqueue
from domainpriv.notify.templates import render
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import normalize_domain_name
from domainpriv.store import Account, Contact, Domain, LoginSession, PasswordReset, UnitOfWork

VALID_FOR = timedelta(hours=1)
ResetTo = Literal["account", "registrant"]  # the setting accounts.reset_to


class ResetRefused(DomainprivError):
    """The link is unknown, used or expired (one message for all three)."""


def request_reset(
    uow: UnitOfWork,
    *,
    email: str = "",
    domain: str = "",
    link_base: str,
    valid_for: timedelta = VALID_FOR,
    reset_to: ResetTo = "account",
) -> None:
    """Mail a reset link, if the request names an account. Returns nothing either way.

    `reset_to` is the setting `accounts.reset_to`. "account": the link goes to the account whose address is
    `email`. "registrant" (seed 000: "to the email address on the domain registration record"): a request naming
    `domain` mails the link for that domain's account to the registrant e-mail on its record (an e-mail given as
    well is then not used); a request naming only an e-mail address is served as with "account"."""
    with uow:
        now = uow.clock()
        s = uow.session
        if reset_to == "registrant" and domain.strip():
            found = _by_domain(s, domain)
        else:
            found = _by_address(s, email) if email.strip() else None
        if found is None:
            return
        row, address, to = found
        token = tokens.new_token()
        s.add(PasswordReset(account_id=row.id, digest=tokens.token_digest(token), created_at=now,
                            expires_at=now + valid_for))  # fmt: skip
        subject, body = render("password-reset", account=row.handle, valid_minutes=int(valid_for.total_seconds() // 60),
                               link=f"{link_base.rstrip('/')}/password-reset/{token}")  # fmt: skip
        enqueue(s, now=now, kind="password-reset", to=address, subject=subject, body=body, mandatory=True,
                account_id=row.id)  # fmt: skip
        record_event(s, now=now, actor=account_actor(row.kind, row.handle), action="account:password:reset-request",
                     object_type="account", object_key=row.handle, reason="reset link requested",
                     details={"to": to}, affects=NOTHING)  # fmt: skip
        uow.commit()


def _by_address(s: Session, email: str) -> tuple[Account, str, ResetTo] | None:
    """The account with this address (case-insensitively), and the address to mail."""
    address = email.strip()[:254]
    row = s.scalar(select(Account).where(func.lower(Account.email) == address.lower()).order_by(Account.id))
    return None if row is None else (row, row.email, "account")


def _by_domain(s: Session, domain: str) -> tuple[Account, str, ResetTo] | None:
    """The account holding this domain, and the registrant e-mail on the domain's record."""
    try:
        name = normalize_domain_name(domain.strip()[:300])
    except ValidationError:
        return None  # not a domain name: the same answer as an unknown one
    found = s.execute(
        select(Account, Contact.email)
        .join(Domain, Domain.account_id == Account.id)
        .join(Contact, Contact.id == Domain.registrant_id)
        .where(Domain.name == name)
    ).first()
    return None if found is None else (found[0], found[1], "registrant")


def reset_password(
    uow: UnitOfWork, *, token: str, password: str, hasher: PasswordHasher = passwords.DEFAULT_HASHER
) -> str:
    """Set the new password from a reset link; returns the account's handle. Raises ResetRefused,
    ValidationError (the password's rules, checked first: a weak password does not use the link up)."""
    passwords.check_new_password(password)
    if not tokens.looks_like_token(token):
        raise ResetRefused("this reset link is not valid (unknown, used or expired): ask for a new one")
    with uow.reading() as r:  # a link that cannot work costs no hash (~0.1 s of CPU anyone could make us spend)
        usable = r.session.scalar(select(PasswordReset.id).where(
            PasswordReset.digest == tokens.token_digest(token), PasswordReset.used_at.is_(None),
            PasswordReset.expires_at > uow.clock()))  # fmt: skip
    if usable is None:
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
        subject, body = render("password-changed", account=account.handle)
        enqueue(s, now=now, kind="password-changed", to=account.email, subject=subject, body=body, mandatory=True,
                account_id=account.id)  # fmt: skip
        record_event(s, now=now, actor=account_actor(account.kind, account.handle), action="account:password:reset",
                     object_type="account", object_key=account.handle, reason="reset link used",
                     details={"sessions_ended": ended}, affects=NOTHING)  # fmt: skip
        uow.commit()
        return account.handle
