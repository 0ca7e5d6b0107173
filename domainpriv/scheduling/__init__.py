"""The scheduler: when the sweeps run (cron wake-ups, an interval, catch-up at becoming leader) and that only
the leader of a cluster of daemons runs them (a PostgreSQL advisory lock, a file lock beside a SQLite database).
What a sweep does is the capabilities' own business: `sweep(now)` acts on what is due at `now`."""

from domainpriv.scheduling.cron import LOOKBACK, latest_fire_time, next_fire_time, parse_cron, parse_crons
from domainpriv.scheduling.leader import DEFAULT_NAME, NAMESPACE, LeaderLock, advisory_key
from domainpriv.scheduling.scheduler import JobScheduler, Sweep, sweep_once

__all__ = [
    "DEFAULT_NAME",
    "LOOKBACK",
    "NAMESPACE",
    "JobScheduler",
    "LeaderLock",
    "Sweep",
    "advisory_key",
    "latest_fire_time",
    "next_fire_time",
    "parse_cron",
    "parse_crons",
    "sweep_once",
]
