"""The append-only audit log row. The chain logic lives in domainpriv/audit.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domainpriv.store.base import Base, UTCDateTime


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (Index(None, "object_type", "object_key"),)

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_key: Mapped[str] = mapped_column(String(253))
    reason: Mapped[str] = mapped_column(String(1000))
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[str] = mapped_column(Text)  # canonical JSON of non-personal facts (counts, digests)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
