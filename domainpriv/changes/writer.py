"""Writing the change feed: one row per affected domain, inside the caller's transaction (never commits).

Called by `audit.record_event` after it has taken the audit chain's append lock, which is what makes positions
follow commit order (store/changes.py). Contact and account changes are resolved to domains by one
`INSERT ... SELECT` on the server: a reseller contact used by 100,000 domains costs one statement, not 100,000
round trips.
"""

from __future__ import annotations

from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert, literal, or_, select
from sqlalchemy.orm import Session

from domainpriv.changes.affects import Affects
from domainpriv.store.changes import DomainChange
from domainpriv.store.registration import Domain

# Set in `session.info` when a transaction wrote feed rows: the after-commit hook of changes/follower.py then
# polls this process's followers at once.
FEED_WRITTEN = "domainpriv_feed_written"
_feed = cast(Table, DomainChange.__table__)
_COLUMNS = ("domain", "audit_seq", "changed_at")
_INSERT = insert(_feed)


def record_changes(session: Session, affects: Affects, *, audit_seq: int, now: datetime) -> None:
    """Append the feed rows of one audited change."""
    if affects.nothing:
        return
    session.info[FEED_WRITTEN] = True
    conn = session.connection()  # not the ORM layer: see audit.record_event
    if affects.everything:
        conn.execute(_INSERT, {"domain": None, "audit_seq": audit_seq, "changed_at": now})
        return
    names = sorted(set(affects.names))
    if names:
        conn.execute(_INSERT, [{"domain": n, "audit_seq": audit_seq, "changed_at": now} for n in names])
    roles = (Domain.registrant_id, Domain.admin_id, Domain.tech_id, Domain.billing_id)
    conditions = [role.in_(affects.contact_ids) for role in roles if affects.contact_ids]
    if affects.account_ids:
        conditions.append(Domain.account_id.in_(affects.account_ids))
    if conditions:
        resolved = select(
            Domain.name,
            literal(audit_seq, type_=_feed.c.audit_seq.type),
            literal(now, type_=_feed.c.changed_at.type),
        ).where(or_(*conditions))
        if names:
            resolved = resolved.where(Domain.name.not_in(names))
        session.execute(insert(_feed).from_select(_COLUMNS, resolved))
