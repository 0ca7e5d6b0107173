"""Which deposits the sweep makes, decided from the data at a given time: catch-up, full before incremental, a
doubled trigger harmless, failures retried after a growing pause."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from conftest import FrozenClock

from domainpriv.escrow.due import run_due_deposits
from domainpriv.escrow.services import list_deposits
from domainpriv.store import UnitOfWork
from support import pgp_keys
from support.escrow import escrow_settings

escrow_keys = pgp_keys.escrow_keys


def outcomes(uow: UnitOfWork, settings: object, now: datetime) -> list[tuple[str, str, str]]:
    return [(r.kind, r.scheduled_for.isoformat(), r.outcome) for r in run_due_deposits(uow, settings, now)]  # type: ignore[arg-type]


def test_the_sweep_catches_up_then_follows_the_schedule(
    demo_uow: UnitOfWork, clock: FrozenClock, escrow_keys: pgp_keys.EscrowKeys, tmp_path: Path
) -> None:
    settings = escrow_settings(escrow_keys, tmp_path / "escrow")
    clock.now = datetime(2026, 11, 4, 9, 30, tzinfo=UTC)  # a Wednesday: Sunday's full and today's incremental missed
    assert outcomes(demo_uow, settings, clock.now) == [
        ("full", "2026-11-01T00:00:00+00:00", "made"),
        ("incremental", "2026-11-04T00:00:00+00:00", "made"),
    ]
    assert outcomes(demo_uow, settings, clock.now) == []  # a doubled trigger: nothing more
    clock.now = datetime(2026, 11, 5, 0, 0, 30, tzinfo=UTC)
    assert outcomes(demo_uow, settings, clock.now) == [("incremental", "2026-11-05T00:00:00+00:00", "made")]
    made = list_deposits(demo_uow)
    assert [(d.kind, d.trigger, d.state) for d in made] == [("incremental", "schedule", "built")] * 2 + [
        ("full", "schedule", "built")
    ]
    assert made[0].base_deposit_id == made[1].id and made[1].base_deposit_id == made[2].id


def test_a_failing_deposit_is_retried_after_a_pause(
    demo_uow: UnitOfWork, clock: FrozenClock, escrow_keys: pgp_keys.EscrowKeys, tmp_path: Path
) -> None:
    blocked = tmp_path / "escrow"
    blocked.write_text("not a folder")  # the deposit cannot be written
    settings = escrow_settings(escrow_keys, blocked, incremental_cron="")
    clock.now = datetime(2026, 11, 1, 0, 1, tzinfo=UTC)
    assert outcomes(demo_uow, settings, clock.now) == [("full", "2026-11-01T00:00:00+00:00", "failed")]
    assert outcomes(demo_uow, settings, clock.now) == [("full", "2026-11-01T00:00:00+00:00", "waiting")]
    blocked.unlink()
    clock.advance(minutes=1, seconds=1)
    assert outcomes(demo_uow, settings, clock.now) == [("full", "2026-11-01T00:00:00+00:00", "made")]
    (deposit,) = list_deposits(demo_uow)
    assert (deposit.state, deposit.attempts, deposit.revision) == ("built", 2, 0)
