"""Reading the change feed from a position: what the public servers' caches (and escrow) follow.

A reader keeps its own position and asks for what came after it. Two statements, in this order, make that safe
without a transaction (so it works the same on a primary, a replica and SQLite): first the rows after the
position, then the pruning horizon. The horizon only grows, so if it is still at or below the reader's position
after the rows were read, no row the reader needed was pruned before it read them; if it is above, rows may be
missing and the batch says "everything".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from domainpriv.store.changes import ChangeFeedState, DomainChange

BATCH_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """What changed after `after`, up to and including `position`."""

    after: int
    position: int  # the reader's new position
    names: frozenset[str]  # affected domains (A-labels)
    everything: bool  # a change affected every domain, or the reader fell behind the pruning horizon
    behind_horizon: bool  # the reader's position was older than the horizon: some rows were already pruned
    rows: int
    more: bool  # the batch was cut at `limit` rows: read again from `position`

    @property
    def empty(self) -> bool:
        return self.rows == 0 and not self.behind_horizon


def read_changes(conn: Connection, after: int, *, limit: int = BATCH_ROWS) -> ChangeBatch:
    """The next batch of changes after position `after`."""
    rows = conn.execute(
        select(DomainChange.position, DomainChange.domain)
        .where(DomainChange.position > after)
        .order_by(DomainChange.position)
        .limit(limit)
    ).all()
    horizon = _horizon(conn)
    behind = horizon > after
    position = int(rows[-1][0]) if rows else after
    if behind:
        position = max(position, horizon)
    names = frozenset(name for _, name in rows if name is not None)
    everything = behind or any(name is None for _, name in rows)
    return ChangeBatch(after, position, names, everything, behind, len(rows), len(rows) >= limit)


def feed_position(conn: Connection) -> int:
    """Where a new reader starts: the newest position (or the horizon, once everything was pruned)."""
    newest = conn.execute(select(func.max(DomainChange.position))).scalar_one_or_none() or 0
    return max(int(newest), _horizon(conn))


def _horizon(conn: Connection) -> int:
    value = conn.execute(select(ChangeFeedState.pruned_through).where(ChangeFeedState.id == 1)).scalar_one_or_none()
    return int(value or 0)
