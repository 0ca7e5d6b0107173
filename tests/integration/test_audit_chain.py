"""The audit hash chain detects tampering, and stays one chain under concurrent writers."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, delete, select, update

from domainpriv.audit import Actor, AuditChainBroken, record_event, verify_chain
from domainpriv.changes import domains
from domainpriv.store import AuditEvent, DomainChange, UnitOfWork
from support.threads import run_threads


def append(uow: UnitOfWork, n: int, *, key: str = "example.com") -> None:
    for i in range(n):
        with uow:
            record_event(
                uow.session,
                now=uow.clock(),
                actor=Actor("staff", "tester"),
                action="domain:test:poke",
                object_type="domain",
                object_key=key,
                reason=f"poke {i}",
                before={"i": i},
                after={"i": i + 1},
                details={"i": i},
                affects=domains(key),
            )
            uow.commit()


def verify(uow: UnitOfWork) -> int:
    with uow.reading() as r:
        return verify_chain(r.session).events


def tamper(engine: Engine, statement: object) -> None:
    with engine.begin() as conn:
        conn.execute(statement)  # type: ignore[call-overload]


def test_empty_and_intact_chains_verify(uow: UnitOfWork) -> None:
    assert verify(uow) == 0
    append(uow, 5)
    assert verify(uow) == 5


@pytest.mark.parametrize(
    ("attack", "statement", "seq"),
    [
        ("edit reason", update(AuditEvent).where(AuditEvent.seq == 3).values(reason="nothing to see"), 3),
        (
            "edit time",
            update(AuditEvent).where(AuditEvent.seq == 2).values(occurred_at=datetime(2020, 1, 1, tzinfo=UTC)),
            2,
        ),
        ("edit actor", update(AuditEvent).where(AuditEvent.seq == 4).values(actor="system:domainpriv"), 4),
        ("delete middle", delete(AuditEvent).where(AuditEvent.seq == 3), 3),
        ("delete first", delete(AuditEvent).where(AuditEvent.seq == 1), 1),
    ],
)
def test_tampering_is_detected_at_the_first_broken_link(
    uow: UnitOfWork, engine: Engine, attack: str, statement: object, seq: int
) -> None:
    append(uow, 5)
    tamper(engine, statement)
    with pytest.raises(AuditChainBroken) as broken:
        verify(uow)
    assert broken.value.seq == seq


def test_reordering_rows_is_detected(uow: UnitOfWork, engine: Engine) -> None:
    append(uow, 4)
    with engine.begin() as conn:  # swap the positions of events 2 and 3
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=1000))
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 1000).values(seq=3))
    with pytest.raises(AuditChainBroken) as broken:
        verify(uow)
    assert broken.value.seq == 2


def test_a_rebuilt_hash_still_breaks_the_next_link(uow: UnitOfWork, engine: Engine) -> None:
    """An attacker who edits a row and recomputes its hash must rewrite every later row too."""
    from domainpriv.audit import event_hash

    append(uow, 3)
    with uow.reading() as r:
        row = r.session.get(AuditEvent, 2)
        assert row is not None
        row.reason = "forged"
        forged_hash = event_hash(row)
    tamper(engine, update(AuditEvent).where(AuditEvent.seq == 2).values(reason="forged", hash=forged_hash))
    with pytest.raises(AuditChainBroken) as broken:
        verify(uow)
    assert broken.value.seq == 3


def test_concurrent_writers_extend_one_chain(engine: Engine, uow: UnitOfWork) -> None:
    writers, per_writer = 4, 15
    run_threads(lambda k: append(UnitOfWork(engine, clock=uow.clock), per_writer, key=f"w{k}.example"), writers)
    assert verify(uow) == writers * per_writer
    with uow.reading() as r:
        seqs = list(r.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
    assert seqs == list(range(1, writers * per_writer + 1))
    # The change feed's rows are written under the same lock: their positions follow the chain's (commit) order,
    # which is what lets a reader trust that nothing below a position it has seen can still appear.
    with uow.reading() as r:
        feed = list(
            r.session.execute(select(DomainChange.position, DomainChange.audit_seq).order_by(DomainChange.position))
        )
    assert [seq for _, seq in feed] == seqs
