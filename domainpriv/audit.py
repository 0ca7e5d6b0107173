"""Append-only, hash-chained audit log.

Every mutation writes one event in the same transaction as the change (DESIGN invariant 4). Each row's
`hash` covers its own fields and the previous row's hash, so editing, deleting or reordering any row breaks
the chain from that row on, and `domainpriv audit verify` names the first broken link.

Events hold digests of the before/after state, never the state itself: the audit log must not become a second
copy of the personal data it protects.

Concurrency: appends are serialised by a transaction-scoped lock (PostgreSQL advisory lock; on SQLite every
write transaction already holds the database write lock), so two writers can never chain to the same
predecessor. The lock is held until commit, so chain order is commit order, and so is the order of the change
feed's positions, written under the same lock. Lock order: a service takes its row locks (SELECT ... FOR UPDATE,
UPDATE, DELETE) before its first event and changes no existing row after it; otherwise a writer holding the chain
lock could wait for a row that another writer holds while that one waits for the chain lock (a deadlock).

Known limit: a chain alone cannot show that its newest rows were cut off; `verify` reports the head it saw so
an operator can compare it with a copy kept elsewhere (for example, in each escrow deposit).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlalchemy import Table, insert, literal_column, select, text
from sqlalchemy.orm import Session

from domainpriv.changes.affects import Affects
from domainpriv.changes.writer import record_changes
from domainpriv.errors import DomainprivError
from domainpriv.store.audit import AuditEvent
from domainpriv.store.session import UnitOfWork

GENESIS_HASH = "0" * 64
CHANGE_CHANNEL = "domainpriv_change"
_PG_AUDIT_LOCK_KEY = 0x646F6D70  # "domp": one advisory lock id for the chain head
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_AND_NOTIFY = text(f"SELECT pg_advisory_xact_lock(:k), pg_notify('{CHANGE_CHANNEL}', '')")
_AUDIT = cast(Table, AuditEvent.__table__)
_INSERT_EVENT = insert(_AUDIT)
# LIMIT as a literal, not a bound parameter: PostgreSQL then keeps one generic plan for the prepared statement.
_HEAD = select(_AUDIT.c.seq, _AUDIT.c.hash).order_by(_AUDIT.c.seq.desc()).limit(literal_column("1"))


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
    session.flush()  # the ORM changes this event records: the feed resolves contacts to domains in SQL
    # The session's connection, statements built once: the ORM layer and building a statement per call cost more
    # than running it (an audited change is a handful of one-row statements).
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # One round trip: the append lock and, for a change the caches must see, a wake-up only (delivered at
        # commit, lost while nobody listens): the feed rows below are what daemons read (changes/follower.py).
        conn.execute(_LOCK_AND_NOTIFY if not affects.nothing else _LOCK, {"k": _PG_AUDIT_LOCK_KEY})
    # Its own statement, after the lock: in READ COMMITTED each statement sees what was committed when it began.
    head = conn.execute(_HEAD).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    fields = {
        "seq": seq,
        "occurred_at": now,
        "actor": str(actor),
        "action": action,
        "object_type": object_type,
        "object_key": object_key,
        "reason": reason,
        "before_digest": None if before is None else digest(before),
        "after_digest": None if after is None else digest(after),
        "details": canonical_json(dict(details or {})).decode(),
        "prev_hash": prev_hash,
    }
    event = AuditEvent(**fields, hash=_fields_hash(fields))
    # Core, not `session.add`: the ORM's flush machinery cost more than the rest of the append.
    conn.execute(_INSERT_EVENT, {**fields, "hash": event.hash})
    # Under the append lock, held until commit: feed positions follow commit order (store/changes.py).
    record_changes(session, affects, audit_seq=seq, now=now)
    return event


def event_hash(event: AuditEvent) -> str:
    return _fields_hash({name: getattr(event, name) for name in _HASHED})


_HASHED = (
    "seq", "occurred_at", "actor", "action", "object_type", "object_key", "reason", "before_digest",
    "after_digest", "details", "prev_hash",
)  # fmt: skip


def _fields_hash(fields: Mapping[str, Any]) -> str:
    hashed = {name: fields[name] for name in _HASHED}
    hashed["occurred_at"] = hashed["occurred_at"].isoformat()
    return hashlib.sha256(canonical_json(hashed)).hexdigest()


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
