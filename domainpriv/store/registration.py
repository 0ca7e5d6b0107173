"""Domain Name Registration Information: contacts, domains and their name servers.

The four contact roles are four foreign-key columns on `domain` rather than a link table: a role holds at most
one contact (RFC 5731 allows several admin/tech/billing contacts, but no registrar in the seeds uses that), a
column makes "at most one per role" a schema fact, and a bulk import of 1,000,000 domains writes 1,000,000 rows
instead of 5,000,000. Each role column is indexed for "which domains use this contact".
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domainpriv.store.accounts import Account
from domainpriv.store.base import Base, UTCDateTime
from domainpriv.vocabulary import PrivacyMode


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    handle: Mapped[str] = mapped_column(String(16), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    org: Mapped[str | None] = mapped_column(String(255))
    street1: Mapped[str | None] = mapped_column(String(255))
    street2: Mapped[str | None] = mapped_column(String(255))
    street3: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str] = mapped_column(String(255))
    state: Mapped[str | None] = mapped_column(String(255))
    postal_code: Mapped[str | None] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str | None] = mapped_column(String(17))
    phone_ext: Mapped[str | None] = mapped_column(String(10))
    fax: Mapped[str | None] = mapped_column(String(17))
    fax_ext: Mapped[str | None] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(254))
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

    account: Mapped[Account] = relationship()


class Domain(Base):
    __tablename__ = "domain"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(253), unique=True)  # lowercase A-label
    account_id: Mapped[int] = mapped_column(ForeignKey("account.id"), index=True)
    registry_domain_id: Mapped[str] = mapped_column(String(89))  # EPP ROID, RFC 5730 roidType
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    statuses: Mapped[str] = mapped_column(String(512))  # EPP statuses, space-separated, sorted
    ds_records: Mapped[str] = mapped_column(
        Text, server_default=""
    )  # DS records of a signed delegation, one per line; "" unsigned
    privacy_mode: Mapped[PrivacyMode] = mapped_column(
        Enum(PrivacyMode, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])
    )
    relay_alias: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Inter-registrar transfer lock after a change of registrant (Transfer Policy, workflows.md §6); NULL: none.
    transfer_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    registrant_id: Mapped[int] = mapped_column(ForeignKey("contact.id"), index=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    tech_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)
    billing_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id"), index=True)

    account: Mapped[Account] = relationship()
    registrant: Mapped[Contact] = relationship(foreign_keys=[registrant_id])
    admin: Mapped[Contact | None] = relationship(foreign_keys=[admin_id])
    tech: Mapped[Contact | None] = relationship(foreign_keys=[tech_id])
    billing: Mapped[Contact | None] = relationship(foreign_keys=[billing_id])
    nameservers: Mapped[list[Nameserver]] = relationship(
        back_populates="domain", order_by="Nameserver.position", cascade="all, delete-orphan"
    )


class RegistrantChange(Base):
    """A change of the registrant's name, organisation or e-mail waiting for the current registrant's
    confirmation by e-mailed link (Transfer Policy; workflows.md §6). Only the link token's SHA-256 is stored;
    `new_data` is the registrant's contact as it will be, in the JSON-lines contact format."""

    __tablename__ = "registrant_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"), index=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    new_data: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(80))  # the actor, as the audit log names it
    lock_opt_out: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Nameserver(Base):
    __tablename__ = "nameserver"
    __table_args__ = (UniqueConstraint("domain_id", "host"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    domain_id: Mapped[int] = mapped_column(ForeignKey("domain.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    host: Mapped[str] = mapped_column(String(253), index=True)  # lowercase A-label
    addresses: Mapped[str] = mapped_column(String(1024))  # glue IPs, space-separated, "" when none

    domain: Mapped[Domain] = relationship(back_populates="nameservers")


class PrivacyServiceIdentity(Base):
    """The privacy/proxy service's published identity, kept in sync with the config by `db upgrade`."""

    __tablename__ = "privacy_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    org: Mapped[str] = mapped_column(String(255))
    street: Mapped[str] = mapped_column(String(800))  # lines joined by "\n"
    city: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(255))
    postal_code: Mapped[str] = mapped_column(String(16))
    country: Mapped[str] = mapped_column(String(2))
    phone: Mapped[str] = mapped_column(String(17))
    relay_domain: Mapped[str] = mapped_column(String(253))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
