"""The daemon's outbox loop: deliver what is due every `mail.poll_seconds`, off the event loop, until stopped.

Why beside the sweep: a reset link or a confirmation should arrive within seconds, not at the next 60-second
sweep, and every daemon may deliver (claims are `FOR UPDATE SKIP LOCKED`: two daemons send each notice once).
Delivery is blocking SMTP and database work, so it runs in its own thread; the servers' event loop never waits
for a relay. On stop, a delivery in progress finishes (bounded by `mail.timeout_seconds` per connection step) and
the loop ends; nothing is lost, what was not sent waits in the outbox for the next start or sweep. A failed poll
(database or relay away) is logged by its error's type only, never its text (it may carry addresses), and
retried at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from concurrent.futures import Executor

from domainpriv.config import MailSettings
from domainpriv.notify.delivery import BATCH, deliver_due
from domainpriv.store import UnitOfWork

log = logging.getLogger(__name__)


async def deliver_until(stop: asyncio.Event, uow: UnitOfWork, mail: MailSettings, *, executor: Executor) -> None:
    """Deliver the outbox now and every `mail.poll_seconds` (at once again after a full batch) until `stop`."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        full = False
        try:
            report = await loop.run_in_executor(executor, deliver_due, uow, mail)
        except Exception as exc:  # database or relay away: the next poll tries again
            log.warning("outbox delivery failed: %s", type(exc).__name__)
        else:
            done = report.sent + report.retried + report.failed + report.withdrawn
            if done:
                log.info("outbox: %d sent, %d to retry, %d failed, %d withheld (consent withdrawn)", report.sent,
                         report.retried, report.failed, report.withdrawn)  # fmt: skip
            full = done >= BATCH
        if not full:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), mail.poll_seconds)
