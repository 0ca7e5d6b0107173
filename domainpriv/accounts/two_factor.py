"""Two-factor authentication: TOTP (RFC 6238, pyotp) with single-use recovery codes.

Set-up is two steps, so that a secret the customer's authenticator never received cannot lock them out: `begin`
stores a new secret (not yet in force) and returns its provisioning URI for a QR code; `confirm` turns it on when a
code from the authenticator matches, and returns ten recovery codes, shown once. A code is accepted for its 30 s
step and the one before (clock drift), and never twice: the last accepted step is stored (pyotp does not do that).

Known limit, left for the portal's issue: the TOTP secret is stored as is (the database must be protected like the
keys it holds); encrypting it needs a key outside the database, which the configuration does not have yet.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import func, select

from domainpriv.accounts.access import account_actor
from domainpriv.accounts.rows import account_row
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.registration.errors import ValidationError
from domainpriv.store import Account, RecoveryCode, UnitOfWork

ISSUER = "domainpriv"
RECOVERY_CODES = 10
STEP_SECONDS = 30


@dataclass(frozen=True, slots=True)
class Enrolment:
    secret: str  # base32, for manual entry
    uri: str  # otpauth:// provisioning URI (the QR code's content)


def begin(uow: UnitOfWork, *, actor: Actor, account: str) -> Enrolment:
    """A new secret for the account, not in force until confirmed. Raises AccountNotFound."""
    secret = pyotp.random_base32()
    with uow:
        row = account_row(uow, account)
        row.totp_secret = secret
        row.totp_enabled_at = None
        row.totp_last_step = None
        _audit(uow, actor, row.handle, "account:2fa:begin", "two-factor set-up started")
        uow.commit()
    return Enrolment(secret, pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER))


def confirm(uow: UnitOfWork, *, actor: Actor, account: str, code: str) -> list[str]:
    """Turn two-factor on with a first code; returns the recovery codes (shown once).
    Raises ValidationError (no set-up begun, or a wrong code), AccountNotFound."""
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    with uow:
        now = uow.clock()
        row = account_row(uow, account)
        if row.totp_secret is None or row.totp_enabled_at is not None:
            raise ValidationError("code", "no two-factor set-up is waiting for confirmation")
        step = _matching_step(row.totp_secret, code, now, after=None)
        if step is None:
            raise ValidationError("code", "does not match the authenticator's current code")
        row.totp_enabled_at, row.totp_last_step = now, step
        s = uow.session
        for old in s.scalars(select(RecoveryCode).where(RecoveryCode.account_id == row.id)):
            s.delete(old)
        s.add_all(RecoveryCode(account_id=row.id, digest=_digest(c)) for c in codes)
        _audit(uow, actor, row.handle, "account:2fa:enable", "two-factor turned on", {"recovery_codes": len(codes)})
        uow.commit()
    return codes


def pending(uow: UnitOfWork, account: str) -> Enrolment | None:
    """The set-up begun and not yet confirmed, if any (to show its key again after a mistyped code)."""
    with uow.reading() as r:
        row = r.session.execute(
            select(Account.totp_secret, Account.totp_enabled_at).where(Account.handle == account)
        ).first()
    if row is None or row.totp_secret is None or row.totp_enabled_at is not None:
        return None
    return Enrolment(row.totp_secret, pyotp.TOTP(row.totp_secret).provisioning_uri(name=account, issuer_name=ISSUER))


def enabled(uow: UnitOfWork, account: str) -> bool:
    with uow.reading() as r:
        return r.session.scalar(select(Account.totp_enabled_at).where(Account.handle == account)) is not None


def verify(uow: UnitOfWork, *, account: str, code: str) -> bool:
    """A current TOTP code not used before, or an unused recovery code (then used up). False otherwise, also
    for an account without two-factor."""
    code = code.strip().replace(" ", "")
    if not code or len(code) > 64:
        return False
    with uow:
        now = uow.clock()
        s = uow.session
        row = s.scalar(select(Account).where(Account.handle == account))
        if row is None or row.totp_secret is None or row.totp_enabled_at is None:
            return False
        step = _matching_step(row.totp_secret, code, now, after=row.totp_last_step)
        if step is not None:
            row.totp_last_step = step
            uow.commit()
            return True
        spare = s.scalar(
            select(RecoveryCode).where(
                RecoveryCode.account_id == row.id,
                RecoveryCode.digest == _digest(code.upper()),
                RecoveryCode.used_at.is_(None),
            )
        )
        if spare is None:
            return False
        spare.used_at = now
        s.flush()  # flush: the count below no longer includes this code
        unused = (RecoveryCode.account_id == row.id) & RecoveryCode.used_at.is_(None)
        left = s.scalar(select(func.count()).select_from(RecoveryCode).where(unused))
        _audit(uow, account_actor(row.kind, row.handle), row.handle, "account:2fa:recovery-code", "recovery code used",
               {"left": left})  # fmt: skip
        uow.commit()
        return True


def disable(uow: UnitOfWork, *, actor: Actor, account: str, reason: str) -> None:
    with uow:
        row = account_row(uow, account)
        row.totp_secret = row.totp_enabled_at = row.totp_last_step = None
        for old in uow.session.scalars(select(RecoveryCode).where(RecoveryCode.account_id == row.id)):
            uow.session.delete(old)
        _audit(uow, actor, row.handle, "account:2fa:disable", reason)
        uow.commit()


def _matching_step(secret: str, code: str, now: datetime, *, after: int | None) -> int | None:
    """The time step (this one or the previous) whose code is `code`, if newer than `after`."""
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in (current, current - 1):
        if (after is None or step > after) and secrets.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()  # 80 bits, 16 characters
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def _digest(code: str) -> str:
    return hashlib.sha256(code.replace("-", "").encode()).hexdigest()


def _audit(
    uow: UnitOfWork, actor: Actor, handle: str, action: str, reason: str, details: dict[str, object] | None = None
) -> None:
    record_event(uow.session, now=uow.clock(), actor=actor, action=action, object_type="account", object_key=handle,
                 reason=reason, details=details, affects=NOTHING)  # fmt: skip
