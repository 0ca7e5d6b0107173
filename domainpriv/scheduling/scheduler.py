"""When the scheduled work runs, and that one daemon of a cluster runs it (DESIGN: "Jobs run once in the
cluster"; STYLE §5).

A scheduled job only calls a sweep: one callable `sweep(now)` that looks at the data (deposits made, rows with
`due_at <= now`) and does what is due. So the scheduler only decides *when* to call it:

* every `leader_poll_seconds` it tries the leader lock (leader.py); on becoming leader it sweeps at once, which
  catches up whatever was missed while no daemon led (a restart, a takeover);
* while leader, it sweeps every `sweep_interval_seconds` and at each fire time of each cron wake-up (so the
  00:00 deposit starts at 00:00, not up to an interval later);
* sweeps never overlap in one process: they run one after another on one thread, and triggers that arrive while
  one runs are folded into a single sweep right after it (one that started before a 00:00 wake-up may not have
  seen the 00:00 work; a doubled trigger does no harm: the sweep only does what is due);
* a sweep that raises is logged (the type, and the message only for domainpriv's own errors, which carry no
  personal data; the traceback at debug level) and the scheduler goes on;
* losing the lock (its connection dropped) stops new sweeps until the lock is held again. A sweep already
  running is not interrupted; the sweeps' own row claims (`FOR UPDATE SKIP LOCKED`) keep a second leader
  from doubling its work.

APScheduler 3 computes the fire times: a BackgroundScheduler in UTC with its in-memory job store, one per
daemon; job stores are never shared between schedulers (toolchain §15). Its jobs only wake the sweep thread.

Manual operation: `sweep_once` runs one sweep under the same lock (`domainpriv sweep` from cron, when
[scheduler] enabled = false); it does nothing while a daemon leads.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from domainpriv.clock import Clock, utcnow
from domainpriv.errors import DomainprivError
from domainpriv.scheduling.cron import parse_crons
from domainpriv.scheduling.leader import LeaderLock

__all__ = ["JobScheduler", "Sweep", "sweep_once"]

log = logging.getLogger("domainpriv.scheduling")

Sweep = Callable[[datetime], None]


class JobScheduler:
    """Calls `sweep(clock())` in the leader only: at becoming leader, every `sweep_interval_seconds` and at each
    fire time of `cron_wakeups` ({config key: crontab expression}; "" is off) and of `wakeups` (ready triggers,
    e.g. APScheduler CronTriggers with seconds). start() once, stop() once. Raises ConfigError for a bad
    expression, naming its key."""

    def __init__(
        self,
        *,
        lock: LeaderLock,
        sweep: Sweep,
        cron_wakeups: Mapping[str, str] | None = None,
        wakeups: Sequence[CronTrigger] = (),
        sweep_interval_seconds: float,
        leader_poll_seconds: float,
        clock: Clock = utcnow,
    ) -> None:
        if sweep_interval_seconds <= 0 or leader_poll_seconds <= 0:
            raise ValueError("sweep_interval_seconds and leader_poll_seconds must be positive")
        self._lock = lock
        self._sweep = sweep
        self._wakeups = parse_crons(cron_wakeups or {}) + list(wakeups)
        self._interval = sweep_interval_seconds
        self._poll_seconds = leader_poll_seconds
        self._clock = clock
        self._leader = False
        self._requested = False
        self._sweeps = 0
        self._failures = 0
        self._last_sweep_at: datetime | None = None
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._timer = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(1)},  # its jobs only set a flag
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        self._poller = threading.Thread(target=self._poll_loop, name="domainpriv-scheduler-leader", daemon=True)
        self._sweeper = threading.Thread(target=self._sweep_loop, name="domainpriv-scheduler-sweep", daemon=True)

    @property
    def is_leader(self) -> bool:
        return self._leader

    @property
    def sweeps(self) -> int:
        """Sweeps finished in this process, failed ones included."""
        return self._sweeps

    @property
    def failures(self) -> int:
        return self._failures

    @property
    def last_sweep_at(self) -> datetime | None:
        """The `now` of the last finished sweep."""
        return self._last_sweep_at

    def start(self) -> None:
        _quiet_apscheduler()
        self._timer.add_job(self._request, IntervalTrigger(seconds=self._interval, timezone=UTC), id="interval")
        for number, trigger in enumerate(self._wakeups):
            self._timer.add_job(self._request, trigger, id=f"wakeup-{number}")
        self._timer.start()
        self._sweeper.start()
        self._poller.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop triggering, wait up to `timeout` seconds for a sweep in progress, then release the lock."""
        self._stopping.set()
        with self._wake:
            self._wake.notify_all()
        if self._timer.running:
            self._timer.shutdown(wait=True)
        if self._poller.is_alive():
            self._poller.join(timeout)
        if self._sweeper.is_alive():
            self._sweeper.join(timeout)
            if self._sweeper.is_alive():
                log.warning("scheduler stopped with a sweep still running after %g s", timeout)
        self._lock.close()
        if self._leader:
            self._leader = False
            log.info("no longer the scheduler leader (stopped)")

    def _request(self) -> None:
        """A trigger fired: sweep after the current one, if any, when still the leader."""
        if not self._leader:
            return
        with self._wake:
            self._requested = True
            self._wake.notify()

    def _poll_loop(self) -> None:
        while not self._stopping.is_set():
            self._poll()
            self._stopping.wait(self._poll_seconds)

    def _poll(self) -> None:
        try:
            held = self._lock.try_acquire()
        except Exception as exc:  # a bug in the lock must not end leader polling; count it as not held
            log.warning("scheduler leader lock failed (%s)", type(exc).__name__)
            held = False
        if self._stopping.is_set():
            return
        if held and not self._leader:
            self._leader = True
            log.info("became the scheduler leader")
            self._request()  # catch up on what came due while no daemon led
        elif not held and self._leader:
            self._leader = False
            log.warning("no longer the scheduler leader")

    def _sweep_loop(self) -> None:
        while True:
            with self._wake:
                while not self._requested and not self._stopping.is_set():
                    self._wake.wait()
                if self._stopping.is_set():
                    return
                self._requested = False
            if self._leader:
                self._run_sweep()

    def _run_sweep(self) -> None:
        now = self._clock()
        try:
            self._sweep(now)
        except Exception as exc:  # logged; the next trigger sweeps again
            self._failures += 1
            log.error("sweep failed (%s)", _describe(exc))
            log.debug("sweep failure", exc_info=True)
        self._last_sweep_at = now
        self._sweeps += 1


def sweep_once(lock: LeaderLock, sweep: Sweep, *, clock: Clock = utcnow) -> bool:
    """One sweep under the leader lock, for `domainpriv sweep`. False, without sweeping, when another process
    holds the lock (a daemon leads and sweeps itself). The sweep's errors propagate; the lock is closed."""
    try:
        if not lock.try_acquire():
            return False
        sweep(clock())
    finally:
        lock.close()
    return True


def _describe(exc: Exception) -> str:
    """The type, and the message only for domainpriv's own errors: others (a driver's IntegrityError, say) may
    quote row values."""
    if isinstance(exc, DomainprivError):
        return f"{type(exc).__name__}: {exc}"
    return f"{type(exc).__name__}; details at debug level"


def _quiet_apscheduler() -> None:
    """APScheduler logs every job run at INFO ("Job ... executed successfully"); its warnings still pass.
    Left alone when the operator has set its level."""
    aps = logging.getLogger("apscheduler")
    if aps.level == logging.NOTSET:
        aps.setLevel(logging.WARNING)
