"""Append-only, hash-chained audit log.

Every mutation writes one event in the same transaction as the change (DESIGN invariant 4). Each row's
`hash` covers its own fields and the previous row's hash, so editing, deleting or reordering any row breaks
the chain from that row on, and `domainpriv audit verify` names the first broken link.

Events hold digests of the before/after state, never the state itself: the audit log must not become a second
copy of the personal data it protects.

Concurrency: appends are serialised by a transaction-scoped lock (PostgreSQL advisory lock; on SQLite every
write transaction already holds the database write lock), so two writers can never chain to the same
predecessor. The lock is held until commit, so chain order is commit order, and so is the order of the change
feed's positions, written under the same lock.

Known limit: a chain alone cannot show that its newest rows were cut off; `verify` reports the head it saw so
an operator can compare it with a copy kept elsewhere (for example, in each escrow deposit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from domainpriv.changes.affects import Affects
from domainpriv.changes.writer import record_changes
from domainpriv.errors import DomainprivError
from domainpriv.store.audit import AuditEvent
from domainpriv.store.session import UnitOfWork

GENESIS_HASH = "0" * 64
CHANGE_CHANNEL = "domainpriv_change"
_PG_AUDIT_LOCK_KEY = 0x646F6D70  # "domp": one advisory lock id for the chain head


class AuditChainBroken(DomainprivError):
    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"audit chain broken at event {seq}: {problem}")
        self.seq = seq
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: `kind` is cli, staff, customer, reseller or system; `name` their handle."""

    kind: str
    name: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


SYSTEM = Actor("system", "domainpriv")


def canonical_json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_UTC_Z)


def digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of a snapshot: proves what changed without storing it."""
    return hashlib.sha256(canonical_json(value)).hexdigest()


def record_event(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    object_type: str,
    object_key: str,
    reason: str,
    before: Any = None,
    after: Any = None,
    details: Mapping[str, Any] | None = None,
    affects: Affects,
) -> AuditEvent:
    """Append one event to the chain inside the caller's open transaction (never commits), and the change
    feed's rows for the domains it `affects` (domainpriv/changes): no default, every change says what it touched.

    `action` follows `object:subject:verb`, e.g. `domain:privacy:set`. `before`/`after` are snapshots that are
    digested here; pass None for "did not exist".
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK_KEY})
        if not affects.nothing:
            # A wake-up only (delivered at commit, lost while nobody listens): the feed rows below are what the
            # daemons' caches read (domainpriv/changes/follower.py).
            session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGE_CHANNEL})
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=now,
        actor=str(actor),
        action=action,
        object_type=object_type,
        object_key=object_key,
        reason=reason,
        before_digest=None if before is None else digest(before),
        after_digest=None if after is None else digest(after),
        details=canonical_json(dict(details or {})).decode(),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()  # flush: the next append in this transaction must see this row as the head
    # Under the append lock, held until commit: feed positions follow commit order (store/changes.py).
    record_changes(session, affects, audit_seq=seq, now=now)
    return event


def event_hash(event: AuditEvent) -> str:
    fields = {
        "seq": event.seq,
        "occurred_at": event.occurred_at.isoformat(),
        "actor": event.actor,
        "action": event.action,
        "object_type": event.object_type,
        "object_key": event.object_key,
        "reason": event.reason,
        "before_digest": event.before_digest,
        "after_digest": event.after_digest,
        "details": event.details,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(fields)).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str


def verify_audit_log(uow: UnitOfWork) -> ChainReport:
    """Check the whole chain in a read-only transaction. Raises AuditChainBroken at the first bad link."""
    with uow.reading() as r:
        return verify_chain(r.session)


def verify_chain(session: Session) -> ChainReport:
    """Walk the whole chain in order; raise AuditChainBroken at the first bad link."""
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=1000))
    with rows:  # closes the server-side cursor even when we stop early
        for event in rows:
            if event.seq != expected_seq:
                raise AuditChainBroken(expected_seq, f"event missing (next event found is {event.seq})")
            if event.prev_hash != prev_hash:
                raise AuditChainBroken(event.seq, "does not link to the previous event (deleted or reordered)")
            if event_hash(event) != event.hash:
                raise AuditChainBroken(event.seq, "contents do not match its hash (edited)")
            prev_hash, expected_seq, count = event.hash, expected_seq + 1, count + 1
            session.expunge(event)  # keep memory flat on long chains
    return ChainReport(events=count, head_seq=expected_seq - 1, head_hash=prev_hash)
