"""Which deposits are due, from the data: the escrow part of the sweep (STYLE §5).

A deposit is due for the newest fire time t of its cron expression that is not later than now and has no
complete deposit yet (keyed by (kind, t): a doubled trigger finds it). So a run missed while no daemon was up is
made when one starts (once, for the newest missed time: a deposit is a snapshot of now, so older missed times
would only repeat it), and a failed one is retried with a growing pause.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from domainpriv.audit import SYSTEM, Actor
from domainpriv.config import Settings
from domainpriv.escrow import states
from domainpriv.escrow.openpgp import OpenPgpError
from domainpriv.escrow.services import EscrowBusy, EscrowError, Kind, is_complete, run_deposit
from domainpriv.scheduling.cron import latest_fire_time
from domainpriv.store import EscrowDeposit, UnitOfWork

log = logging.getLogger(__name__)

MAX_RETRY_PAUSE = timedelta(hours=1)
_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """A configuration problem is logged once per process, not at every sweep."""
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


@dataclass(frozen=True, slots=True)
class DueResult:
    kind: str
    scheduled_for: datetime
    outcome: str  # made | failed | busy | waiting (retry pause) | skipped (no full deposit yet)
    deposit_id: int | None = None
    error: str | None = None


def cron_of(settings: Settings, kind: Kind) -> str:
    return settings.escrow.full_cron if kind == "full" else settings.escrow.incremental_cron


def run_due_deposits(uow: UnitOfWork, settings: Settings, now: datetime, *, actor: Actor = SYSTEM) -> list[DueResult]:
    """Make every deposit that is due at `now` (full first: an incremental due at the same time follows it)."""
    if not settings.escrow.configured:
        return []
    if not Path(settings.escrow.agent_public_key).is_file():
        _warn_once(f"escrow.agent_public_key {settings.escrow.agent_public_key}: no such file; scheduled deposits "
                   "wait for it (the demo's keys: `domainpriv demo load`)")  # fmt: skip
        return []
    results: list[DueResult] = []
    for kind in ("full", "incremental"):
        expr = cron_of(settings, kind)
        if not expr:
            continue
        key = "escrow.full_cron" if kind == "full" else "escrow.incremental_cron"
        last = _last_scheduled(uow, kind)
        due = latest_fire_time(expr, since=None if last is None else last.scheduled_for, now=now, key=key)
        if due is None and last is not None and last.scheduled_for is not None and not is_complete(last):
            due = last.scheduled_for  # the newest scheduled deposit is not finished: keep at it
        if due is None:
            continue
        results.append(_make(uow, settings, kind, due, now, actor))
    return results


def _make(uow: UnitOfWork, settings: Settings, kind: Kind, due: datetime, now: datetime, actor: Actor) -> DueResult:
    existing = _scheduled(uow, kind, due)
    if existing is not None:
        if is_complete(existing):
            return DueResult(kind, due, "made", existing.id)
        if existing.state == states.FAILED and now < existing.updated_at + _pause(existing.attempts):
            return DueResult(kind, due, "waiting", existing.id, existing.last_error)
    if kind == "incremental" and not _any_built(uow):
        return DueResult(kind, due, "skipped", None, "no full deposit yet")
    try:
        deposit = run_deposit(uow, settings, kind=kind, actor=actor, scheduled_for=due)
    except EscrowBusy:
        return DueResult(kind, due, "busy")
    except (EscrowError, OpenPgpError) as exc:
        log.warning("scheduled escrow deposit (%s, %s) failed: %s", kind, due.isoformat(), exc)
        failed = _scheduled(uow, kind, due)
        return DueResult(kind, due, "failed", failed.id if failed else None, str(exc))
    log.info("scheduled escrow deposit %s is %s", deposit.label, deposit.state)
    return DueResult(kind, due, "made", deposit.id)


def _pause(attempts: int) -> timedelta:
    """1, 2, 4, ... minutes after each failed attempt, at most an hour."""
    return min(timedelta(minutes=2 ** max(0, attempts - 1)), MAX_RETRY_PAUSE)


def _last_scheduled(uow: UnitOfWork, kind: str) -> EscrowDeposit | None:
    with uow.reading() as r:
        return r.session.scalar(
            select(EscrowDeposit)
            .where(EscrowDeposit.kind == kind, EscrowDeposit.scheduled_for.is_not(None))
            .order_by(EscrowDeposit.scheduled_for.desc())
            .limit(1)
        )


def _scheduled(uow: UnitOfWork, kind: str, due: datetime) -> EscrowDeposit | None:
    with uow.reading() as r:
        return r.session.scalar(
            select(EscrowDeposit).where(EscrowDeposit.kind == kind, EscrowDeposit.scheduled_for == due)
        )


def _any_built(uow: UnitOfWork) -> bool:
    with uow.reading() as r:
        return (
            r.session.scalar(select(EscrowDeposit.id).where(EscrowDeposit.built_at.is_not(None)).limit(1)) is not None
        )
