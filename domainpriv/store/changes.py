"""The change feed: which domains each committed change affected, in commit order (read by the public servers'
caches, later by escrow's incremental deposits).

A row is written in the same transaction as the change it describes (`domainpriv.changes.record_changes`, called
by `audit.record_event`), so the feed travels inside the database: on SQLite, on the primary and on a streaming
replica alike, with no second channel that could lose a message (DESIGN "Scale").

`position` is monotonic in commit order: rows are only written while the audit chain's append lock is held, and
that lock is held until commit (audit.py), so a reader that has seen position P has seen, or will never see, every
position below it (rolled-back transactions leave gaps, nothing else). `domain` NULL means "everything" (a bulk
import, a change of the privacy service's identity). SQLite's AUTOINCREMENT keeps positions from being reused once
the newest rows are pruned.

`change_feed_state` holds the pruning horizon: every position up to `pruned_through` may be gone, so a reader
whose own position is older than that resets its whole cache instead of missing a change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from domainpriv.store.base import Base, UTCDateTime

# BIGINT on PostgreSQL (a busy registrar writes billions of rows over the years); SQLite needs INTEGER for the
# column to be the rowid, which AUTOINCREMENT requires.
Position = BigInteger().with_variant(Integer(), "sqlite")


class DomainChange(Base):
    __tablename__ = "domain_change"
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012 - SQLAlchemy's declarative form

    position: Mapped[int] = mapped_column(Position, primary_key=True, autoincrement=True)
    domain: Mapped[str | None] = mapped_column(String(253))  # lowercase A-label; NULL: every domain
    audit_seq: Mapped[int] = mapped_column(Integer)  # the audit event that made the change
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class ChangeFeedState(Base):
    """One row (id 1): the pruning horizon of the feed."""

    __tablename__ = "change_feed_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pruned_through: Mapped[int] = mapped_column(Position)
