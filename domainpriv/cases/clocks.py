"""A case's clocks as data: which timers are pending, and `due_at`, the earliest of them (the sweep's index).

Timers (each fires once: what it does changes the data it was computed from):

* `acknowledge`: a disclosure request not yet acknowledged (the register's ≤ 2 business days, automatic);
* `remind`: a customer notice whose reminder has not gone, before the deadline;
* `deadline`: the customer's deadline, while the case waits for the customer;
* `escalate`: a complaint whose deadline passed: deactivation follows automatically;
* `decision-missed`: a decision (or an abuse report's review) not made by its clock, not yet marked;
* `dns`: a deactivation's DNS step (suspend or restore) to try (again).

A failed sweep attempt sets `retry_at`; nothing is due before it. Pure: reads the row, writes `due_at` only.
"""

from __future__ import annotations

from datetime import datetime

from domainpriv.cases import states
from domainpriv.store import Case

__all__ = ["mark_missed", "pending_timers", "refresh_due"]

_WAITING_FOR_CUSTOMER = frozenset({states.CUSTOMER_NOTIFIED})


def pending_timers(case: Case) -> list[tuple[datetime, str]]:
    """(when, timer) of every pending timer of `case`, earliest first."""
    out: list[tuple[datetime, str]] = []
    if case.kind == states.Kind.DISCLOSURE and case.state == states.RECEIVED and case.acknowledged_at is None:
        out.append((case.received_at, "acknowledge"))
    if case.state in _WAITING_FOR_CUSTOMER and case.customer_deadline_at is not None:
        if (
            case.reminder_at is not None
            and case.reminder_sent_at is None
            and case.reminder_at < case.customer_deadline_at
        ):
            out.append((case.reminder_at, "remind"))
        out.append((case.customer_deadline_at, "deadline"))
    if case.kind == states.Kind.COMPLAINT and case.state == states.DEADLINE_PASSED and case.deadline_passed_at:
        out.append((case.deadline_passed_at, "escalate"))
    if (
        case.decision_due_at is not None
        and case.decided_at is None
        and case.closed_at is None
        and "decision" not in case.missed_clocks.split()
    ):
        out.append((case.decision_due_at, "decision-missed"))
    for d in case.deactivations:
        if d.dns in ("suspending", "restoring") and d.dns_next_attempt_at is not None:
            out.append((d.dns_next_attempt_at, "dns"))
    return sorted(out)


def refresh_due(case: Case) -> None:
    """Set `due_at` from the pending timers (NULL: nothing pending; the row leaves the sweep's index)."""
    timers = pending_timers(case)
    if not timers:
        case.due_at = None
        return
    first = timers[0][0]
    case.due_at = max(first, case.retry_at) if case.retry_at is not None else first


def mark_missed(case: Case, clock: str) -> bool:
    """Record that `clock` (acknowledgement, decision) was missed; False when it was already marked."""
    marked = case.missed_clocks.split()
    if clock in marked:
        return False
    case.missed_clocks = " ".join(sorted([*marked, clock]))
    return True
