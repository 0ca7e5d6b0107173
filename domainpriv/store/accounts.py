"""Accounts (customers, resellers, staff) and their consent records."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Enum, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domainpriv.store.base import Base, UTCDateTime
from domainpriv.vocabulary import AccountKind, ConsentPurpose, StaffRole


class Account(Base):
    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[AccountKind] = mapped_column(
        Enum(AccountKind, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("account.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    # Staff accounts only: what the account may do (domainpriv/accounts/access.py). NULL for customers and resellers.
    staff_role: Mapped[StaffRole | None] = mapped_column(
        Enum(StaffRole, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    # Two-factor (TOTP, RFC 6238): the secret while being set up and once confirmed; the last accepted time
    # step, so that a code cannot be used twice (pyotp does not prevent reuse).
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))

    parent: Mapped[Account | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Account]] = relationship(back_populates="parent")
    consents: Mapped[list[Consent]] = relationship(back_populates="account", order_by="Consent.id")


class Consent(Base):
    """One recorded grant or withdrawal; the newest row per (account, purpose) is in force."""

    __tablename__ = "consent"
    __table_args__ = (
        Index(None, "account_id", "purpose", "id"),
        CheckConstraint("length(source) > 0", name="source_not_empty"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(ConsentPurpose, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    granted: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(64))
    # The version of the policy text the customer saw when granting or withdrawing; NULL for records imported
    # or made before versions were kept.
    policy_version: Mapped[str | None] = mapped_column(String(32))

    account: Mapped[Account] = relationship(back_populates="consents")


class ApiToken(Base):
    """A named bearer token of an account. Only the SHA-256 of the token is stored: it is shown once, at issue."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginSession(Base):
    """A server-side login session. The browser holds a random id; only its SHA-256 is stored, so a copy of the
    database does not let anyone log in."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())  # absolute limit; idle expiry from last_seen_at
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(64))  # the client address the login came from
    # When the holder last proved it again (password or e-mailed code): export, e-mail change and privacy →
    # public need a recent one.
    reverified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class LoginAttempt(Base):
    """One password check at login, kept for throttling (per account and per source) and the account's history.
    `account` is the handle as typed: attempts on names that do not exist are throttled too."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index(None, "account", "at"), Index(None, "source", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class RecoveryCode(Base):
    """A single-use two-factor recovery code (80 random bits), stored as its SHA-256."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PasswordReset(Base):
    """A single-use password-reset token (mailed as a link); only its SHA-256 is stored."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class UnsubscribeLink(Base):
    """The token of an unsubscribe link in one mailing: it withdraws one purpose of one account without a login.
    Only its SHA-256 is stored. Usable more than once (a second click changes nothing), never for anything else."""

    __tablename__ = "unsubscribe_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[ConsentPurpose] = mapped_column(
        Enum(ConsentPurpose, native_enum=False, length=32, values_callable=lambda e: [m.value for m in e])
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class VerificationCode(Base):
    """A short code e-mailed to the account to re-verify the holder before a sensitive step (SHA-256 stored)."""

    __tablename__ = "verification_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
