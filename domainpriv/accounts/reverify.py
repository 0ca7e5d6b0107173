"""Re-verification before a sensitive step (export, e-mail change, privacy → public; seed 002: identity is
verified before access or correction): the session's holder proves it again with the password or a six-digit
code e-mailed to the account, and the session remembers when (`login_session.reverified_at`) for a few minutes.

Why on the session: a stolen session cookie alone then cannot export the account or publish its data.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from sqlalchemy import select, update

from domainpriv.accounts import passwords, tokens
from domainpriv.accounts import services as credentials
from domainpriv.accounts.access import account_actor
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.errors import DomainprivError
from domainpriv.notify.outbox import enqueue
from domainpriv.notify.templates import render
from domainpriv.store import Account, LoginSession, UnitOfWork, VerificationCode

FRESH_FOR = timedelta(minutes=10)
CODE_VALID_FOR = timedelta(minutes=10)
MAX_CODE_ATTEMPTS = 5
# Codes e-mailed per account in any hour: each code allows MAX_CODE_ATTEMPTS guesses, so without a cap a stolen
# session could ask for code after code and guess on for ever; 5 codes, 25 guesses an hour, of a million.
MAX_CODES_PER_HOUR = 5
_CODE_WINDOW = timedelta(hours=1)


class TooManyCodes(DomainprivError):
    """MAX_CODES_PER_HOUR codes were already e-mailed to the account this hour; `retry_after_seconds` says when
    the next one may be."""

    def __init__(self, retry_after_seconds: int) -> None:
        minutes = -(-retry_after_seconds // 60)
        super().__init__(f"{MAX_CODES_PER_HOUR} codes were sent in the last hour; ask again in {minutes} min")
        self.retry_after_seconds = retry_after_seconds


def with_password(
    uow: UnitOfWork, *, session_id: str, password: str, hasher: PasswordHasher = passwords.DEFAULT_HASHER
) -> bool:
    """Re-verify the session's holder by password; False (and nothing recorded as fresh) when wrong."""
    found = _session(uow, session_id)
    if found is None:
        return False
    entry_id, _, actor, stored = found
    checked = passwords.check(stored, password, hasher)
    if not checked.ok:
        _audit(uow, actor, "password", ok=False)
        return False
    if checked.rehashed is not None:
        credentials.store_rehash(uow, actor.name, stored, checked.rehashed)
    _mark(uow, entry_id, actor, "password")
    return True


def send_code(uow: UnitOfWork, *, session_id: str) -> bool:
    """E-mail a fresh six-digit code to the account's address (earlier codes stop working). Raises TooManyCodes
    past MAX_CODES_PER_HOUR; the account row is locked first, so parallel requests cannot both pass the count."""
    found = _session(uow, session_id)
    if found is None:
        return False
    _, account_id, _, _ = found
    code = f"{secrets.randbelow(10**6):06d}"
    with uow:
        s = uow.session
        now = uow.clock()
        email = s.scalar(select(Account.email).where(Account.id == account_id).with_for_update())
        assert email is not None
        recent = s.scalars(select(VerificationCode.created_at).where(
            VerificationCode.account_id == account_id, VerificationCode.created_at > now - _CODE_WINDOW,
        ).order_by(VerificationCode.created_at)).all()  # fmt: skip
        if len(recent) >= MAX_CODES_PER_HOUR:
            frees_at = recent[-MAX_CODES_PER_HOUR] + _CODE_WINDOW  # when the oldest of the last five leaves it
            raise TooManyCodes(max(1, int((frees_at - now).total_seconds() + 0.999)))
        s.execute(update(VerificationCode).where(VerificationCode.account_id == account_id,
                                                 VerificationCode.used_at.is_(None)).values(used_at=now))  # fmt: skip
        s.add(VerificationCode(account_id=account_id, digest=tokens.token_digest(code), created_at=now,
                               expires_at=now + CODE_VALID_FOR, attempts=0))  # fmt: skip
        subject, body = render("verification-code", code=code, valid_minutes=int(CODE_VALID_FOR.total_seconds() // 60))
        enqueue(s, now=now, kind="verification-code", to=email, subject=subject, body=body, mandatory=True,
                account_id=account_id)  # fmt: skip
        uow.commit()
    return True


def with_code(uow: UnitOfWork, *, session_id: str, code: str) -> bool:
    """Re-verify by the e-mailed code: single use, ten minutes, five tries."""
    found = _session(uow, session_id)
    if found is None:
        return False
    entry_id, account_id, actor, _ = found
    with uow:
        s = uow.session
        now = uow.clock()
        row = s.scalar(select(VerificationCode).where(VerificationCode.account_id == account_id,
                                                      VerificationCode.used_at.is_(None),
                                                      VerificationCode.expires_at > now)
                       .order_by(VerificationCode.id.desc()).limit(1).with_for_update())  # fmt: skip
        if row is None or row.attempts >= MAX_CODE_ATTEMPTS:
            return False
        row.attempts += 1
        ok = hmac.compare_digest(row.digest, tokens.token_digest(code.strip()))
        if ok:
            row.used_at = now
        uow.commit()
    if ok:
        _mark(uow, entry_id, actor, "e-mailed code")
    else:
        _audit(uow, actor, "e-mailed code", ok=False)
    return ok


def is_fresh(uow: UnitOfWork, *, session_id: str) -> bool:
    """Whether the session was re-verified within the last ten minutes."""
    if not tokens.looks_like_token(session_id):
        return False
    with uow.reading() as r:
        at = r.session.scalar(select(LoginSession.reverified_at).where(
            LoginSession.digest == tokens.token_digest(session_id), LoginSession.ended_at.is_(None)))  # fmt: skip
    return at is not None and uow.clock() - at < FRESH_FOR


def _session(uow: UnitOfWork, session_id: str) -> tuple[int, int, Actor, str | None] | None:
    if not tokens.looks_like_token(session_id):
        return None
    with uow.reading() as r:
        row = r.session.execute(
            select(LoginSession.id, Account.id, Account.kind, Account.handle, Account.password_hash)
            .join(Account, Account.id == LoginSession.account_id)
            .where(LoginSession.digest == tokens.token_digest(session_id), LoginSession.ended_at.is_(None))
        ).first()
    return None if row is None else (row[0], row[1], account_actor(row[2], row[3]), row[4])


def _mark(uow: UnitOfWork, entry_id: int, actor: Actor, how: str) -> None:
    with uow:
        now = uow.clock()
        uow.session.execute(update(LoginSession).where(LoginSession.id == entry_id).values(reverified_at=now))
        record_event(uow.session, now=now, actor=actor, action="account:reverify:ok",
                     object_type="account", object_key=actor.name, reason=how, affects=NOTHING)  # fmt: skip
        uow.commit()


def _audit(uow: UnitOfWork, actor: Actor, how: str, *, ok: bool) -> None:
    with uow:
        record_event(uow.session, now=uow.clock(), actor=actor,
                     action=f"account:reverify:{'ok' if ok else 'failed'}", object_type="account",
                     object_key=actor.name, reason=how, affects=NOTHING)  # fmt: skip
        uow.commit()
