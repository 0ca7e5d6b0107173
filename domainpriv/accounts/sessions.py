"""Login with throttling, server-side sessions, logout and "log out everywhere".

Why server-side sessions with a digest: the browser's cookie holds 256 random bits; the database holds their
SHA-256, so neither a database copy nor a log line lets anyone take over a session, and ending a session (logout,
a password reset, "everywhere") takes effect on the next request, which a signed cookie could not do.

Throttling counts failed attempts in a sliding window, per account name as typed (unknown names too: otherwise the
answer would tell which accounts exist) and per source address. A throttled login is refused before the password
is checked, with the time to wait; a refusal for bad credentials never says which part was wrong.

The count is atomic: an attempt is recorded as failed, in the transaction that counted it and under a lock
(PostgreSQL: a transaction advisory lock; SQLite: its write lock), before its password is checked, and marked
succeeded afterwards if it was right. Counting first and recording after let a burst of parallel guesses all
pass the same count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from argon2 import PasswordHasher
from sqlalchemy import Select, delete, func, select, text, update
from sqlalchemy.orm import Session

from domainpriv.accounts import passwords, tokens, two_factor
from domainpriv.accounts.access import account_actor
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.errors import DomainprivError
from domainpriv.store import Account, LoginAttempt, LoginSession, UnitOfWork


@dataclass(frozen=True, slots=True)
class SessionPolicy:
    idle: timedelta = timedelta(minutes=30)
    absolute: timedelta = timedelta(hours=12)
    window: timedelta = timedelta(minutes=15)
    max_failures_per_account: int = 5
    max_failures_per_source: int = 20


DEFAULT_POLICY = SessionPolicy()


class LoginRefused(DomainprivError):
    """Bad credentials, or too many recent failures (`retry_after_seconds` set)."""

    def __init__(self, message: str, *, retry_after_seconds: int | None = None, needs_code: bool = False) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds
        self.needs_code = needs_code


@dataclass(frozen=True, slots=True)
class LoggedIn:
    session_id: str  # for the cookie; only its digest is stored
    account: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: int
    account: str
    created_at: datetime
    last_seen_at: datetime


def login(
    uow: UnitOfWork,
    *,
    account: str,
    password: str,
    source: str,
    code: str | None = None,
    policy: SessionPolicy = DEFAULT_POLICY,
    hasher: PasswordHasher = passwords.DEFAULT_HASHER,
) -> LoggedIn:
    """Check the password (and, where two-factor is on, the `code`) and open a session. Raises LoginRefused
    (`needs_code` when the password was right and a code is needed)."""
    handle, source = account.strip()[:64], source[:64]
    now = uow.clock()
    attempt = _reserve_attempt(uow, handle, source, now, policy)
    with uow.reading() as r:
        row = r.session.execute(
            select(Account.id, Account.kind, Account.password_hash, Account.totp_enabled_at).where(
                Account.handle == handle
            )
        ).first()
    checked = passwords.check(row.password_hash if row else None, password, hasher)
    second = checked.ok and row is not None and row.totp_enabled_at is not None
    if second and code is None:  # the password step of a two-factor login: not a failure
        with uow:
            uow.session.execute(delete(LoginAttempt).where(LoginAttempt.id == attempt))
            uow.commit()
        raise LoginRefused("a two-factor code is needed", needs_code=True)
    code_ok = not second or two_factor.verify(uow, account=handle, code=code or "")
    if not checked.ok or row is None:
        raise LoginRefused("wrong account or password")  # recorded as failed already
    if not code_ok:
        raise LoginRefused("wrong two-factor code", needs_code=True)
    with uow:
        s = uow.session
        s.execute(update(LoginAttempt).where(LoginAttempt.id == attempt).values(succeeded=True))
        session_id = tokens.new_token()
        expires_at = now + policy.absolute
        entry = LoginSession(account_id=row.id, digest=tokens.token_digest(session_id), created_at=now,
                             last_seen_at=now, expires_at=expires_at, source=source)  # fmt: skip
        s.add(entry)
        if checked.rehashed is not None:
            s.execute(update(Account).where(Account.id == row.id).values(password_hash=checked.rehashed))
        s.flush()  # flush: the event names the session's id
        record_event(
            s,
            now=now,
            actor=account_actor(row.kind, handle),
            action="account:session:start",
            object_type="account",
            object_key=handle,
            reason="login",
            details={"session_id": entry.id, "rehashed": checked.rehashed is not None},
            affects=NOTHING,
        )
        uow.commit()
    return LoggedIn(session_id, handle, expires_at)


def current_session(uow: UnitOfWork, session_id: str, *, policy: SessionPolicy = DEFAULT_POLICY) -> SessionInfo | None:
    """The open session a cookie names, or None (unknown, ended, idle too long or past its absolute limit).
    Touches `last_seen_at` (at most once a minute, so that browsing is not a write per page)."""
    if not tokens.looks_like_token(session_id):
        return None
    now = uow.clock()
    with uow.reading() as r:  # a read: most requests do not touch the session
        found = r.session.execute(_open_session(session_id)).first()
    if found is None:
        return None
    entry, handle, _ = found
    if now >= entry.expires_at or now - entry.last_seen_at >= policy.idle:
        return None
    if now - entry.last_seen_at >= timedelta(minutes=1):
        with uow:
            uow.session.execute(update(LoginSession).where(LoginSession.id == entry.id).values(last_seen_at=now))
            uow.commit()
        return SessionInfo(entry.id, handle, entry.created_at, now)
    return SessionInfo(entry.id, handle, entry.created_at, entry.last_seen_at)


def _open_session(session_id: str) -> Select[LoginSession, str, str]:
    return (
        select(LoginSession, Account.handle, Account.kind)
        .join(Account, Account.id == LoginSession.account_id)
        .where(LoginSession.digest == tokens.token_digest(session_id), LoginSession.ended_at.is_(None))
    )


def logout(uow: UnitOfWork, session_id: str) -> bool:
    """End the session the cookie names; False if there was none open."""
    if not tokens.looks_like_token(session_id):
        return False
    with uow:
        s = uow.session
        now = uow.clock()
        found = s.execute(_open_session(session_id)).first()
        if found is None:
            return False
        entry, handle, kind = found
        entry.ended_at = now
        record_event(s, now=now, actor=account_actor(kind, handle), action="account:session:end", object_type="account",
                     object_key=handle, reason="logout", details={"session_id": entry.id}, affects=NOTHING)  # fmt: skip
        uow.commit()
        return True


def end_all_sessions(uow: UnitOfWork, *, actor: Actor, account: str, reason: str) -> int:
    """Log the account out everywhere (also what a password reset does); returns how many sessions ended."""
    with uow:
        s = uow.session
        now = uow.clock()
        account_id = s.scalar(select(Account.id).where(Account.handle == account))
        if account_id is None:
            return 0
        ended = s.execute(
            update(LoginSession)
            .where(LoginSession.account_id == account_id, LoginSession.ended_at.is_(None))
            .values(ended_at=now)
        ).rowcount  # type: ignore[attr-defined]
        record_event(s, now=now, actor=actor, action="account:session:end-all", object_type="account",
                     object_key=account, reason=reason, details={"sessions": ended}, affects=NOTHING)  # fmt: skip
        uow.commit()
        return int(ended)


def _reserve_attempt(uow: UnitOfWork, handle: str, source: str, now: datetime, policy: SessionPolicy) -> int:
    """The id of this attempt's row, recorded as failed; or LoginRefused with the wait if a limit is reached."""
    with uow:
        s = uow.session
        if uow.dialect == "postgresql":  # SQLite: the write transaction (BEGIN IMMEDIATE) already serialises this
            s.execute(_THROTTLE_LOCK)
        wait = _throttled_for(s, handle, source, now, policy)
        if wait is not None:
            raise LoginRefused(f"too many failed logins; try again in {wait} s", retry_after_seconds=wait)
        attempt = LoginAttempt(account=handle, source=source, succeeded=False, at=now)
        s.add(attempt)
        s.flush()
        uow.commit()
        return attempt.id


# One lock for every login's count-and-record step (a few milliseconds; the password check runs outside it), per
# schema. Two-key form with a class of its own, "doml" (domainpriv login): it never meets the audit chain's
# one-key lock nor the scheduler's two-key locks ("doms").
_THROTTLE_LOCK: Final = text("SELECT pg_advisory_xact_lock(x'646f6d6c'::int, hashtext(current_schema()))")


def _throttled_for(s: Session, handle: str, source: str, now: datetime, policy: SessionPolicy) -> int | None:
    """Seconds until the oldest counted failure leaves the window, if a limit is reached; else None."""
    since = now - policy.window
    for column, value, limit in (
        (LoginAttempt.account, handle, policy.max_failures_per_account),
        (LoginAttempt.source, source, policy.max_failures_per_source),
    ):
        recent = (column == value) & (LoginAttempt.at > since) & LoginAttempt.succeeded.is_(False)
        count, oldest = s.execute(select(func.count(), func.min(LoginAttempt.at)).where(recent)).one()
        if count >= limit and oldest is not None:
            # The oldest of the last `limit` failures leaves the window first; approximated by the oldest.
            return max(1, math.ceil((oldest + policy.window - now).total_seconds()))
    return None
