"""The sweep: every job that is due, run once. What the scheduler's leader calls, and `domainpriv sweep` (for
sites driven by cron, and for tests).

Jobs only call services that decide from the data what is due (STYLE §5), so running the sweep twice, late, or
in two daemons at once loses and doubles nothing. Later capabilities add their parts here (case deadlines,
reminders, the outbox).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime

from domainpriv.cases.deadlines import CaseSweepReport, process_due
from domainpriv.config import Settings
from domainpriv.escrow.due import DueResult, run_due_deposits
from domainpriv.notify.delivery import DeliveryReport, deliver_due
from domainpriv.store import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SweepReport:
    escrow: list[DueResult]
    notices: DeliveryReport
    cases: CaseSweepReport = field(default_factory=lambda: CaseSweepReport(0, 0, ()))

    def lines(self) -> list[str]:
        n = self.notices
        out = (
            [f"notices: {n.sent} sent, {n.retried} to retry, {n.failed} failed, {n.withdrawn} withheld (consent "
             "withdrawn)"]
            if n.sent + n.retried + n.failed + n.withdrawn
            else []
        )  # fmt: skip
        out += [
            f"escrow {r.kind} deposit scheduled for {r.scheduled_for.isoformat()}: {r.outcome}"
            + (f" (deposit {r.deposit_id})" if r.deposit_id is not None else "")
            + (f": {r.error}" if r.error else "")
            for r in self.escrow
        ]
        out += list(self.cases.lines)
        return out or ["nothing was due"]


def sweep(uow: UnitOfWork, settings: Settings, now: datetime) -> SweepReport:
    """Run what is due at `now`."""
    if not settings.escrow.configured:
        log.debug("escrow is not set up (escrow.agent_public_key is empty): no deposits are scheduled")
    escrow = run_due_deposits(uow, settings, now)
    cases = process_due(uow, settings, now)  # before the outbox: the notices it queues go in this sweep
    return SweepReport(escrow=escrow, notices=deliver_due(uow, settings.mail), cases=cases)
