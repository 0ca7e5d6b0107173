"""Credentials of accounts: set and check passwords, issue, authenticate and revoke API tokens.

Each function owns its transaction and writes its audit event (STYLE §2). The events name the account and the
token's id and name, never a password, a hash or a token. Credentials are not public data: the change feed is not
written (`affects=NOTHING`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from sqlalchemy import select, update

from domainpriv.accounts import passwords, tokens
from domainpriv.accounts.rows import account_row
from domainpriv.audit import SYSTEM, Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import normalize_text
from domainpriv.store import Account, ApiToken, PasswordReset, UnitOfWork

__all__ = [
    "IssuedToken",
    "TokenRecord",
    "authenticate_token",
    "check_password",
    "issue_token",
    "list_tokens",
    "revoke_token",
    "set_password",
]


@dataclass(frozen=True, slots=True)
class TokenRecord:
    id: int
    account: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str  # shown once: only its digest is stored
    record: TokenRecord


def set_password(
    uow: UnitOfWork,
    *,
    actor: Actor,
    account: str,
    password: str,
    reason: str,
    hasher: PasswordHasher = passwords.DEFAULT_HASHER,
) -> None:
    """Set (or replace) an account's password; reset links mailed before stop working. Raises ValidationError,
    AccountNotFound."""
    passwords.check_new_password(password)
    hashed = passwords.hash_password(password, hasher)  # before the transaction: ~0.1 s of CPU, no lock held
    with uow:
        s = uow.session
        row = account_row(uow, account)
        had_one = row.password_hash is not None
        row.password_hash = hashed
        now = uow.clock()
        unused = (PasswordReset.account_id == row.id) & PasswordReset.used_at.is_(None)
        open_links = s.execute(update(PasswordReset).where(unused).values(used_at=now))
        record_event(
            s,
            now=now,
            actor=actor,
            action="account:password:set",
            object_type="account",
            object_key=row.handle,
            reason=reason,
            details={"replaced": had_one, "reset_links_ended": int(open_links.rowcount)},  # type: ignore[attr-defined]
            affects=NOTHING,
        )
        uow.commit()


def check_password(
    uow: UnitOfWork, *, account: str, password: str, hasher: PasswordHasher = passwords.DEFAULT_HASHER
) -> bool:
    """Whether the password is the account's. An unknown account, or one without a password, answers False
    after the same work as a wrong password. A match against a hash with outdated parameters re-hashes it."""
    with uow.reading() as r:
        stored = r.session.scalar(select(Account.password_hash).where(Account.handle == account))
    checked = passwords.check(stored, password, hasher)
    if checked.ok and checked.rehashed is not None:
        store_rehash(uow, account, stored, checked.rehashed)
    return checked.ok


def store_rehash(uow: UnitOfWork, account: str, old: str | None, new: str) -> None:
    """Store a hash made with the current parameters (`passwords.Checked.rehashed`) in place of `old`: every
    successful password check does, wherever it happens (login, re-verification, the API's check)."""
    with uow:
        s = uow.session
        # Only if the hash is still the one verified: a password set meanwhile wins.
        changed = s.execute(
            update(Account).where(Account.handle == account, Account.password_hash == old).values(password_hash=new)
        ).rowcount  # type: ignore[attr-defined]
        if not changed:
            return
        record_event(
            s,
            now=uow.clock(),
            actor=SYSTEM,
            action="account:password:rehash",
            object_type="account",
            object_key=account,
            reason="password hashing parameters changed",
            affects=NOTHING,
        )
        uow.commit()


def issue_token(uow: UnitOfWork, *, actor: Actor, account: str, name: str, reason: str) -> IssuedToken:
    """A new API token for the account. Raises ValidationError, AccountNotFound."""
    name = normalize_text(name, "name", max_length=64)
    token = tokens.new_token()
    with uow:
        now = uow.clock()
        s = uow.session
        owner = account_row(uow, account)
        row = ApiToken(account_id=owner.id, name=name, digest=tokens.token_digest(token), created_at=now)
        s.add(row)
        s.flush()  # flush: the event names the token's id
        record_event(
            s,
            now=now,
            actor=actor,
            action="account:token:issue",
            object_type="account",
            object_key=owner.handle,
            reason=reason,
            details={"token_id": row.id, "name": name},
            affects=NOTHING,
        )
        uow.commit()
        return IssuedToken(token, _token_record(row, owner.handle))


def authenticate_token(uow: UnitOfWork, token: str) -> str | None:
    """The handle of the account a valid, unrevoked token belongs to, else None (malformed tokens included)."""
    if not tokens.looks_like_token(token):
        return None
    with uow.reading() as r:
        return r.session.scalar(
            select(Account.handle)
            .join(ApiToken, ApiToken.account_id == Account.id)
            .where(ApiToken.digest == tokens.token_digest(token), ApiToken.revoked_at.is_(None))
        )


def list_tokens(uow: UnitOfWork, *, account: str) -> list[TokenRecord]:
    """The account's tokens, newest first (never the tokens themselves). Raises AccountNotFound."""
    with uow.reading() as r:
        owner = account_row(r, account)
        rows = r.session.scalars(select(ApiToken).where(ApiToken.account_id == owner.id).order_by(ApiToken.id.desc()))
        return [_token_record(row, owner.handle) for row in rows]


def revoke_token(uow: UnitOfWork, *, actor: Actor, account: str, token_id: int, reason: str) -> TokenRecord:
    """Revoke one of the account's tokens (idempotent). Another account's token is reported as not existing.
    Raises AccountNotFound, ValidationError."""
    with uow:
        now = uow.clock()
        s = uow.session
        owner = account_row(uow, account)
        row = s.scalar(select(ApiToken).where(ApiToken.id == token_id, ApiToken.account_id == owner.id))
        if row is None:
            raise ValidationError("token_id", f"no token {token_id} for account {owner.handle}")
        if row.revoked_at is None:
            row.revoked_at = now
            record_event(
                s,
                now=now,
                actor=actor,
                action="account:token:revoke",
                object_type="account",
                object_key=owner.handle,
                reason=reason,
                details={"token_id": row.id, "name": row.name},
                affects=NOTHING,
            )
            uow.commit()
        return _token_record(row, owner.handle)


def _token_record(row: ApiToken, handle: str) -> TokenRecord:
    return TokenRecord(row.id, handle, row.name, row.created_at, row.revoked_at)
