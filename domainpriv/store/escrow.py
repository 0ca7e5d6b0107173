"""Escrow deposits as data: one row per deposit with its explicit state, one row per file it consists of.

A deposit is identified by (deposit_date, kind, revision): re-running the same day after a complete deposit makes
revision 1, 2, ... (never a silent duplicate), while a deposit left `building`, `uploading` or `failed` is resumed
by the next run instead. A scheduled deposit also records the cron fire time it fulfils (`scheduled_for`, unique per
kind), so even a doubled trigger in a cluster makes one deposit.

States (escrow/states.py holds the transitions): building -> built -> uploading -> uploaded, and failed from any of
them (resumable). With no SFTP target configured, `built` is where a deposit stays.

`feed_position` is the change feed position of the deposit's snapshot: the next incremental carries the domains
changed after it (store/changes.py).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from domainpriv.store.base import Base, UTCDateTime
from domainpriv.store.changes import Position


class EscrowDeposit(Base):
    __tablename__ = "escrow_deposit"
    __table_args__ = (
        UniqueConstraint("deposit_date", "kind", "revision"),
        UniqueConstraint("kind", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_date: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # full | incremental
    revision: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), index=True)
    profile: Mapped[str] = mapped_column(String(32))
    trigger: Mapped[str] = mapped_column(String(16))  # manual | schedule
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime())  # the cron fire time it fulfils
    upload_wanted: Mapped[bool] = mapped_column(Boolean)
    watermark: Mapped[datetime | None] = mapped_column(UTCDateTime())  # when its snapshot was taken
    feed_position: Mapped[int | None] = mapped_column(Position)  # the change feed position of that snapshot
    base_deposit_id: Mapped[int | None] = mapped_column(ForeignKey("escrow_deposit.id"))  # incremental: since
    base_position: Mapped[int | None] = mapped_column(Position)
    domains: Mapped[int | None] = mapped_column(Integer)
    deletions: Mapped[int | None] = mapped_column(Integer)
    attempts: Mapped[int] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    files: Mapped[list[EscrowFile]] = relationship(
        back_populates="deposit", order_by="EscrowFile.id", cascade="all, delete-orphan"
    )


class EscrowFile(Base):
    """One file of a deposit as stored in output_dir (and at the agent): an encrypted data file, a detached
    signature or the hash file."""

    __tablename__ = "escrow_file"
    __table_args__ = (UniqueConstraint("deposit_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    deposit_id: Mapped[int] = mapped_column(ForeignKey("escrow_deposit.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))  # the stored file's name
    role: Mapped[str] = mapped_column(String(16))  # data | hash | signature
    csv_name: Mapped[str | None] = mapped_column(String(255))  # data: the plain CSV inside
    rows: Mapped[int | None] = mapped_column(Integer)  # data: CSV rows, header included
    csv_bytes: Mapped[int | None] = mapped_column(Integer)  # data: size of the uncompressed CSV
    csv_sha256: Mapped[str | None] = mapped_column(String(64))  # data: digest of the uncompressed CSV
    bytes: Mapped[int] = mapped_column(Integer)  # size of the stored file
    sha256: Mapped[str] = mapped_column(String(64))  # digest of the stored file
    uploaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    deposit: Mapped[EscrowDeposit] = relationship(back_populates="files")
