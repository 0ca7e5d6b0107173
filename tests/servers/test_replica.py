"""`database.read_url`: the public read path on a real streaming replica of the test PostgreSQL server.

A hot standby made by `pg_basebackup -R` (tests/support/pg_cluster.py) serves the daemon's lookups and its change
feed while writes go to the primary. Shown here, with a real `domainpriv serve`:

* a change on the primary reaches the daemon's answers within replication lag + the feed's poll interval
  (measured: both figures are printed);
* a replica that falls behind (its replay paused) is reported in the daemon's log, answers keep coming from what
  the replica has, and the change shows once it catches up;
* a replica that goes away is reported; cached answers keep coming for `feed.stale_grace_seconds`, lookups then
  get the temporary error, and the daemon recovers by itself when the replica is back.

One replica per module: a base backup copies the whole server (pg_cluster.py's docstring has the figures).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from support.daemons import cli, daemon, first_domain, whois
from support.databases import postgres_schema_url
from support.pg_cluster import Postmaster, libpq_url, replica_of_test_server, wait_for_replay

PROXY = "Privacy Service of Example Registrar"
POLL_SECONDS = 0.5


@pytest.fixture(scope="module")
def replica() -> Iterator[Postmaster]:
    with replica_of_test_server() as standby:
        yield standby


@pytest.fixture
def primary_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        cli(url, "db", "upgrade")
        cli(url, "demo", "load", "--domains", "20")
        yield url


class LogReader:
    """Collects a daemon's stderr lines as they come (the daemon's log)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._stream = proc.stderr
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for line in self._stream:
            self.lines.append(line.rstrip("\n"))

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"not {what} within {timeout} s"
        time.sleep(0.01)
    return time.monotonic() - started


def replay(replica: Postmaster, action: str) -> None:
    with psycopg.connect(libpq_url(replica.url("test")), autocommit=True) as conn:
        conn.execute(f"SELECT pg_wal_replay_{action}()")


def test_a_replica_backed_daemon_sees_primary_changes_within_lag_plus_the_poll_interval(
    replica: Postmaster, primary_url: str, tmp_path: Path
) -> None:
    replica_url = replica.url_for(primary_url)
    wait_for_replay(primary_url, replica_url, timeout_seconds=30)
    name = first_domain(primary_url, "redacted")
    env = {"DOMAINPRIV_DATABASE_READ_URL": replica_url, "DOMAINPRIV_FEED_POLL_INTERVAL_SECONDS": str(POLL_SECONDS)}
    with daemon(primary_url, tmp_path, extra_env=env) as (_, whois_port, _):
        assert "REDACTED FOR PRIVACY" in whois(whois_port, name)
        cli(primary_url, "privacy", "set", name, "proxy")
        committed = time.monotonic()
        lag = wait_for_replay(primary_url, replica_url, timeout_seconds=30)
        seen = wait_until(lambda: PROXY in whois(whois_port, name), 10, "seen through the replica")
    print(f"replication lag {lag * 1000:.0f} ms, change in the answers {seen * 1000:.0f} ms after the commit")
    assert seen < lag + POLL_SECONDS + 1.0  # 1 s slack for a loaded machine
    assert time.monotonic() - committed < 30


def test_a_replica_that_falls_behind_is_reported_and_answers_keep_coming(
    replica: Postmaster, primary_url: str, tmp_path: Path
) -> None:
    replica_url = replica.url_for(primary_url)
    wait_for_replay(primary_url, replica_url, timeout_seconds=30)
    name, other = first_domain(primary_url, "redacted"), first_domain(primary_url, "proxy")
    env = {"DOMAINPRIV_DATABASE_READ_URL": replica_url, "DOMAINPRIV_FEED_LAG_WARNING_SECONDS": "1"}
    with daemon(primary_url, tmp_path, extra_env=env) as (proc, whois_port, _):
        log = LogReader(proc)
        assert "REDACTED FOR PRIVACY" in whois(whois_port, name)
        replay(replica, "pause")
        try:
            cli(primary_url, "privacy", "set", name, "proxy")
            wait_until(lambda: log.has("read replica behind the primary"), 15, "reported")
            # What the replica has is still answered: the old view of the changed name, and other names.
            assert "REDACTED FOR PRIVACY" in whois(whois_port, name)
            assert whois(whois_port, other).startswith("Domain Name:")
        finally:
            replay(replica, "resume")
        wait_until(lambda: PROXY in whois(whois_port, name), 10, "caught up")
        wait_until(lambda: log.has("read replica caught up with the primary"), 10, "caught-up reported")


def test_a_replica_that_goes_away_is_reported_and_the_daemon_recovers(
    replica: Postmaster, primary_url: str, tmp_path: Path
) -> None:
    replica_url = replica.url_for(primary_url)
    wait_for_replay(primary_url, replica_url, timeout_seconds=30)
    name, never_asked = first_domain(primary_url, "proxy"), first_domain(primary_url, "redacted")
    env = {"DOMAINPRIV_DATABASE_READ_URL": replica_url, "DOMAINPRIV_FEED_STALE_GRACE_SECONDS": "3"}
    with daemon(primary_url, tmp_path, extra_env=env) as (proc, whois_port, _):
        log = LogReader(proc)
        for _ in range(2):  # the daemon's cache stores a name on its second load (RecordCache's doorkeeper)
            assert whois(whois_port, name).startswith("Domain Name:")
        replica.stop("fast")
        try:
            wait_until(lambda: log.has("change feed unreadable"), 10, "reported")
            assert whois(whois_port, name).startswith("Domain Name:")  # cached: answered within the grace
            assert whois(whois_port, never_asked).startswith("Error: service temporarily unavailable")
            wait_until(lambda: whois(whois_port, name).startswith("Error: service temporarily unavailable"), 15,
                       "past the grace period: cached answers no longer served")  # fmt: skip
        finally:
            replica.start()
        wait_until(lambda: whois(whois_port, never_asked).startswith("Domain Name:"), 60, "recovered")
        wait_until(lambda: log.has("change feed readable again"), 10, "recovery reported")
