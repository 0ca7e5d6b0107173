"""Maintenance of the change feed: pruning old rows, audited like every other change.

Readers that fell behind the pruned horizon reset their whole cache (reader.py), so pruning can never make a
reader miss a change; it only bounds the table. Rows after the newest completely built escrow deposit are never
pruned: the next incremental deposit is made from them (escrow/services.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from domainpriv.audit import SYSTEM, Actor, record_event
from domainpriv.changes.affects import NOTHING
from domainpriv.store import EscrowDeposit, UnitOfWork
from domainpriv.store.changes import ChangeFeedState, DomainChange


@dataclass(frozen=True, slots=True)
class PruneReport:
    rows: int  # rows deleted
    pruned_through: int  # the horizon afterwards


def prune_changes(
    uow: UnitOfWork, *, older_than: datetime, keep_after: int | None = None, actor: Actor = SYSTEM
) -> PruneReport:
    """Delete the feed rows recorded before `older_than` (never a position above `keep_after`) and move the
    horizon past them, in one transaction."""
    with uow:
        s = uow.session
        horizon = int(s.scalar(select(ChangeFeedState.pruned_through).where(ChangeFeedState.id == 1)) or 0)
        through = s.scalar(select(func.max(DomainChange.position)).where(DomainChange.changed_at < older_than))
        escrow_needs = s.scalar(
            select(func.max(EscrowDeposit.feed_position)).where(EscrowDeposit.built_at.is_not(None))
        )
        for bound in (keep_after, escrow_needs):
            if through is not None and bound is not None:
                through = min(through, bound)
        if through is None or through <= horizon:
            return PruneReport(0, horizon)
        deleted = s.execute(delete(DomainChange).where(DomainChange.position <= through)).rowcount  # type: ignore[attr-defined]
        if not deleted:  # another daemon pruned the same rows a moment ago
            return PruneReport(0, horizon)
        s.execute(update(ChangeFeedState).where(ChangeFeedState.id == 1).values(pruned_through=through))
        record_event(
            s,
            now=uow.clock(),
            actor=actor,
            action="changes:feed:prune",
            object_type="change_feed",
            object_key="domain_change",
            reason="feed retention",
            details={"pruned_through": through, "rows": deleted},
            affects=NOTHING,
        )
        uow.commit()
    return PruneReport(deleted, through)
