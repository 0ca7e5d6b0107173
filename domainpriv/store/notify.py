"""The outbox of notices (domainpriv/notify): written in the transaction of the change that causes it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from domainpriv.store.base import Base, UTCDateTime


class Notice(Base):
    __tablename__ = "notice"
    __table_args__ = (Index(None, "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))  # the template's name, e.g. "password-changed"
    mandatory: Mapped[bool] = mapped_column(Boolean)  # security and legal notices: sent whatever the consents
    to_address: Mapped[str] = mapped_column(String(254))
    # The account the notice is about, when there is one (the account's export lists the notices sent to it).
    account_id: Mapped[int | None] = mapped_column(ForeignKey("account.id", ondelete="SET NULL"), index=True)
    subject: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)  # emptied once the notice is done (sent, failed, withdrawn): PII
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16))  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
