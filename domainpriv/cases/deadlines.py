"""The cases part of the sweep: act on every case timer that is due (cases/clocks.py), each exactly once.

How (STYLE §5, DESIGN "jobs run once in the cluster"):
* an idle sweep is one read of the partial index on `due_at` (only cases with something pending are in it);
* each step claims ONE due case with `SELECT … FOR UPDATE SKIP LOCKED` (PostgreSQL; SQLite's write transaction
  holds the database), acts on its earliest due timer and commits the result and the new `due_at` together: a
  second sweep at the same moment skips the row, and once the first commits the timer is no longer pending, so
  it is neither lost nor doubled. A restart resumes from the data; a clock that jumps forward fires every timer
  passed in order (a reminder whose deadline has passed too is dropped: the deadline acts instead), a clock that
  jumps back fires nothing early;
* timers: the automatic acknowledgement of a disclosure request (a late one is marked missed), the reminder
  before the customer's deadline, the deadline itself (`deadline-passed`), a complaint's escalation to
  `deactivate`, a decision clock missed (marked once), a deactivation's DNS step (retried with a pause);
* a step that fails with a broken rule (e.g. the domain is already deactivated by another case) rolls back whole
  and is retried after a growing pause, the case showing the error (`case show`: sweep.last_error).

Manual operation: `domainpriv sweep` runs it once; `case show ID` tells what is pending (`due_at`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from domainpriv.audit import SYSTEM
from domainpriv.cases import deactivation
from domainpriv.cases.clocks import mark_missed, pending_timers, refresh_due
from domainpriv.cases.history import load_case, record_step
from domainpriv.cases.states import Who
from domainpriv.cases.transitions import apply_action, send_reminder
from domainpriv.config import Settings
from domainpriv.errors import DomainprivError
from domainpriv.store import Case, UnitOfWork

__all__ = ["CaseSweepReport", "process_due"]

log = logging.getLogger(__name__)

MAX_STEPS = 10000  # per sweep: a backlog larger than this is worked off by the next sweeps
MAX_PAUSE = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CaseSweepReport:
    acted: int
    failed: int
    lines: tuple[str, ...]


def process_due(uow: UnitOfWork, settings: Settings, now: datetime, *, max_steps: int = MAX_STEPS) -> CaseSweepReport:
    """Act on every case timer due at `now`, one claimed case and one timer per transaction."""
    with uow.reading() as r:
        if r.session.scalar(select(Case.id).where(Case.due_at <= now).limit(1)) is None:
            return CaseSweepReport(0, 0, ())
    acted = failed = 0
    lines: list[str] = []
    done_with: set[int] = set()
    for _ in range(max_steps):
        try:
            claimed = _step(uow, settings, now, done_with)
        except _Failed as exc:
            failed += 1
            done_with.add(exc.case_id)
            lines.append(_postpone(uow, exc.case_id, now, exc.error))
            continue
        if claimed is None:
            break
        case_id, line = claimed
        if line is None:  # only its DNS step is due: after the claim's transaction, in the DNS step's own
            done_with.add(case_id)
            dns_lines = deactivation.run_dns_steps(uow, settings, case_id)
            lines += dns_lines
            acted += len(dns_lines)
            continue
        acted += 1
        lines.append(line)
    return CaseSweepReport(acted, failed, tuple(lines))


class _Failed(Exception):
    def __init__(self, case_id: int, error: DomainprivError) -> None:
        super().__init__(str(error))
        self.case_id, self.error = case_id, error


def _step(uow: UnitOfWork, settings: Settings, now: datetime, done_with: set[int]) -> tuple[int, str | None] | None:
    """Claim one due case and act on its earliest due timer; (case id, report line), or (case id, None) when only
    its DNS step is due, or None when nothing is due."""
    case_id: int | None = None
    try:
        with uow:
            s = uow.session
            claim = select(Case.id).where(Case.due_at <= now).order_by(Case.due_at, Case.id).limit(1)
            if done_with:
                claim = claim.where(Case.id.not_in(done_with))
            case_id = s.scalar(claim.with_for_update(skip_locked=True))
            if case_id is None:
                return None
            case = load_case(s, case_id)
            assert case is not None  # locked by the claim
            timer = _first_due(case, now)
            if timer is None:
                refresh_due(case)  # only the DNS step (or nothing: a stale due_at) is due
                uow.commit()
                return case_id, None
            line = _fire(uow, settings, case, timer, now)
            uow.commit()
            return case_id, line
    except DomainprivError as exc:
        if case_id is None:
            raise
        raise _Failed(case_id, exc) from exc


def _first_due(case: Case, now: datetime) -> str | None:
    due = [(at, timer) for at, timer in pending_timers(case) if at <= now and timer != "dns"]
    if case.retry_at is not None and case.retry_at > now:
        return None
    if any(timer == "deadline" for _, timer in due):
        due = [(at, timer) for at, timer in due if timer != "remind"]  # too late for a reminder
    return due[0][1] if due else None


def _fire(uow: UnitOfWork, settings: Settings, case: Case, timer: str, now: datetime) -> str:
    s = uow.session
    ref = case.reference
    if timer == "acknowledge":
        apply_action(uow, settings, case, step_action="acknowledge", who=Who.SYSTEM, actor=SYSTEM, now=now,
                     reason="acknowledged automatically")  # fmt: skip
        late = " (late: the clock was missed)" if "acknowledgement" in case.missed_clocks.split() else ""
        return f"case {ref}: acknowledged{late}"
    if timer == "remind":
        send_reminder(s, settings, case, now=now)
        _clear_retry(case)
        refresh_due(case)
        record_step(s, case, now=now, actor=SYSTEM, action="remind", from_state=case.state,
                    reason="reminder before the customer's deadline")  # fmt: skip
        return f"case {ref}: reminder sent"
    if timer == "deadline":
        apply_action(uow, settings, case, step_action="deadline-passed", who=Who.SYSTEM, actor=SYSTEM, now=now,
                     reason="the customer's deadline passed without an adequate answer")  # fmt: skip
        return f"case {ref}: deadline passed"
    if timer == "escalate":
        apply_action(uow, settings, case, step_action="deactivate", who=Who.SYSTEM, actor=SYSTEM, now=now,
                     reason="deadline passed without adequate assurances: automatic escalation")  # fmt: skip
        return f"case {ref}: domain {case.domain_name} deactivated"
    assert timer == "decision-missed", timer
    mark_missed(case, "decision")
    _clear_retry(case)
    refresh_due(case)
    record_step(s, case, now=now, actor=SYSTEM, action="clock-missed", from_state=case.state,
                reason="the decision clock passed without a decision", details={"clock": "decision"})  # fmt: skip
    return f"case {ref}: decision clock missed"


def _clear_retry(case: Case) -> None:
    case.retry_at, case.attempts, case.last_error = None, 0, None


def _postpone(uow: UnitOfWork, case_id: int, now: datetime, error: DomainprivError) -> str:
    """Record a failed step on the case and pause it (1, 2, 4 … minutes, at most an hour)."""
    with uow:
        s = uow.session
        case = load_case(s, case_id, for_update=True, skip_locked=True)
        if case is None:
            return f"case {case_id}: step failed: {error}"
        case.attempts += 1
        case.last_error = str(error)[:500]
        case.retry_at = now + min(timedelta(minutes=2 ** (case.attempts - 1)), MAX_PAUSE)
        refresh_due(case)
        if case.attempts == 1:
            record_step(s, case, now=now, actor=SYSTEM, action="sweep-failed", from_state=case.state,
                        reason=case.last_error, details={"error": type(error).__name__})  # fmt: skip
        uow.commit()
        log.warning("case %s: sweep step failed (%s); next attempt %s", case.reference, type(error).__name__,
                    case.retry_at.isoformat())  # fmt: skip
        return f"case {case.reference}: step failed, retry at {case.retry_at.isoformat()}: {error}"
