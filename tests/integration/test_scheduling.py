"""The scheduler and its leader lock on real PostgreSQL and real SQLite files, with real processes killed for real:
one leader at a time, takeover when it dies, sweeps only in the leader, catch-up at becoming leader, clean stop."""

from __future__ import annotations

import logging
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.engine import make_url

from domainpriv.config import ConfigError
from domainpriv.errors import DomainprivError
from domainpriv.scheduling import JobScheduler, LeaderLock, advisory_key, sweep_once
from support.databases import postgres_schema_url, sqlite_url
from support.leader_procs import finish, read_line, spawn, sweep_lines

AUDIT_LOCK_KEY = 0x646F6D70  # domainpriv/audit.py: the chain head's pg_advisory_xact_lock


def wait_until(condition: Callable[[], object], timeout: float, step: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return bool(condition())


@pytest.fixture
def name() -> str:
    """Advisory locks are per database, not per schema: each test takes a lock of its own."""
    return f"test-scheduler-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_schema_url() as url:
        yield url


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def holder_pids(url: str, name: str) -> list[int]:
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()
        classid, objid = advisory_key(name, schema[0] if schema else "")
        rows = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s AND objsubid = 2"
            " AND granted",
            (classid, objid),
        ).fetchall()
    return [row[0] for row in rows]


# --- the lock on PostgreSQL ---------------------------------------------------------------------------------------


def test_two_locks_on_postgres_exactly_one_holds_and_release_hands_over(pg_url: str, name: str) -> None:
    first, second = LeaderLock(pg_url, name=name), LeaderLock(pg_url, name=name)
    try:
        assert first.try_acquire() and first.held
        assert not second.try_acquire() and not second.held
        assert first.try_acquire()  # still held: re-checked, not stacked
        assert len(holder_pids(pg_url, name)) == 1
        first.release()
        assert not first.held
        assert second.try_acquire()
        assert not first.try_acquire()
    finally:
        first.close()
        second.close()
    assert holder_pids(pg_url, name) == []


def test_a_holder_killed_with_sigkill_is_taken_over_within_a_second(pg_url: str, name: str) -> None:
    child = spawn("hold", pg_url, name)
    survivor = LeaderLock(pg_url, name=name)
    try:
        assert read_line(child, timeout=15) == "held"
        assert not survivor.try_acquire()
        child.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert wait_until(survivor.try_acquire, timeout=5, step=0.05)
        takeover = time.monotonic() - killed
        # Measured 0.01-0.06 s here (PostgreSQL ends the dead client's session at once); a daemon polls each
        # leader_poll_seconds (1 s) on top of this.
        assert takeover < 1.0, takeover
    finally:
        finish(child)
        survivor.close()


def test_the_lock_meets_neither_the_audit_lock_nor_another_name(pg_url: str, name: str) -> None:
    ours, other_name = LeaderLock(pg_url, name=name), LeaderLock(pg_url, name=f"{name}-other")
    assert advisory_key(name) != advisory_key(f"{name}-other")
    with psycopg.connect(libpq(pg_url), autocommit=True) as other:
        other.execute("SET lock_timeout = '2s'")
        try:
            assert ours.try_acquire()
            assert other_name.try_acquire()
            with other.transaction():  # the audit log's lock is free while the leader holds its own
                other.execute("SELECT pg_advisory_xact_lock(%s)", (AUDIT_LOCK_KEY,))
            ours.release()
            other.execute("SELECT pg_advisory_lock(%s)", (AUDIT_LOCK_KEY,))  # bigint keys are another space
            other.execute("SELECT pg_advisory_lock(%s)", (advisory_key(name)[0] << 32 | advisory_key(name)[1],))
            assert ours.try_acquire()
        finally:
            other.execute("SELECT pg_advisory_unlock_all()")
            ours.close()
            other_name.close()


def test_installations_in_two_schemas_of_one_database_each_have_a_leader(pg_url: str, name: str) -> None:
    with postgres_schema_url() as other_schema_url:
        ours, theirs = LeaderLock(pg_url, name=name), LeaderLock(other_schema_url, name=name)
        try:
            assert ours.try_acquire() and theirs.try_acquire()
            assert len(holder_pids(pg_url, name)) == 1 and len(holder_pids(other_schema_url, name)) == 1
            assert holder_pids(pg_url, name) != holder_pids(other_schema_url, name)
        finally:
            ours.close()
            theirs.close()


def test_a_dropped_connection_is_no_longer_leader_and_the_next_try_reconnects(
    pg_url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    lock = LeaderLock(pg_url, name=name)
    try:
        assert lock.try_acquire()
        [backend] = holder_pids(pg_url, name)
        with psycopg.connect(libpq(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert wait_until(lambda: holder_pids(pg_url, name) == [], timeout=5)
        with caplog.at_level(logging.WARNING, logger="domainpriv.scheduling"):
            assert not lock.try_acquire()
        assert not lock.held
        assert "scheduler leader lock: connection lost" in caplog.text
        assert lock.try_acquire()
        assert holder_pids(pg_url, name) not in ([], [backend])
    finally:
        lock.close()


def test_the_lock_session_has_keepalives_of_seconds(pg_url: str, name: str) -> None:
    """The server frees a vanished host's lock after idle + interval x count seconds, not 2 hours."""
    lock = LeaderLock(pg_url, name=name)
    try:
        assert lock.try_acquire()
        conn = lock._lock._conn  # type: ignore[attr-defined]  # the one place a test looks inside: the session
        names = ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count", "tcp_user_timeout")
        shown = {setting: conn.execute(f"SHOW {setting}").fetchone()[0] for setting in names}
        assert shown == dict(zip(names, ("5", "1", "3", "5000"), strict=True))  # seconds, seconds, probes, ms
        assert conn.pgconn.host.decode() == "127.0.0.1"  # a TCP connection, where they apply
    finally:
        lock.close()


def test_an_unreachable_database_answers_false_and_logs_once(name: str, caplog: pytest.LogCaptureFixture) -> None:
    lock = LeaderLock("postgresql+psycopg://postgres@127.0.0.1:9/test", name=name)  # the discard port: refused
    with caplog.at_level(logging.WARNING, logger="domainpriv.scheduling"):
        assert not lock.try_acquire()
        assert not lock.try_acquire()
    assert [r.getMessage() for r in caplog.records] == [
        "scheduler leader lock: database unreachable (OperationalError)"
    ]
    lock.close()


def test_other_databases_and_bad_names_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config key database\.url: the scheduler leader lock needs PostgreSQL"):
        LeaderLock("mysql://u@h/db")
    with pytest.raises(ConfigError, match=r"config key database\.url: not a database URL"):
        LeaderLock("not a url")
    with pytest.raises(ConfigError, match=r"scheduler lock name '\.\./x'"):
        LeaderLock(sqlite_url(tmp_path), name="../x")


# --- the lock on SQLite -------------------------------------------------------------------------------------------


def test_two_processes_on_one_sqlite_file_one_leads_and_the_other_takes_over(tmp_path: Path, name: str) -> None:
    url = sqlite_url(tmp_path)
    first = spawn("hold", url, name)
    second = None
    try:
        assert read_line(first, timeout=15) == "held"
        second = spawn("hold", url, name)
        assert read_line(second, timeout=15) == "waiting"
        assert read_line(second, timeout=0.5) is None  # still not leader after ten polls
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert read_line(second, timeout=5) == "held"
        assert time.monotonic() - killed < 1.0  # the kernel frees the flock at exit; the child polls each 0.05 s
        assert (tmp_path / f"domainpriv.sqlite3.{name}.lock").exists()
    finally:
        finish(first)
        if second is not None:
            finish(second)


def test_two_locks_on_one_sqlite_file_in_one_process_exclude_each_other(tmp_path: Path) -> None:
    first, second = LeaderLock(sqlite_url(tmp_path)), LeaderLock(sqlite_url(tmp_path))
    assert first.try_acquire() and first.try_acquire()
    assert not second.try_acquire()
    first.close()
    assert not first.held
    assert second.try_acquire()
    second.close()


def test_an_in_memory_database_is_always_its_own_leader() -> None:
    first, second = LeaderLock("sqlite://"), LeaderLock("sqlite:///:memory:")
    assert first.try_acquire() and second.try_acquire()
    first.close()
    second.close()


# --- the scheduler ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_only_the_leader_sweeps_and_the_survivor_catches_up_when_it_dies(
    backend: str, tmp_path: Path, name: str
) -> None:
    out = tmp_path / "sweeps.log"
    with postgres_schema_url() if backend == "postgresql" else _nothing(sqlite_url(tmp_path)) as url:
        procs = [spawn("schedule", url, name, str(out), "0.2", "0.2") for _ in range(2)]
        try:
            for proc in procs:
                assert read_line(proc, timeout=15) == "started"
            assert wait_until(lambda: len(sweep_lines(out)) >= 5, timeout=10)
            time.sleep(0.5)  # both polled several times by now
            leaders = {pid for pid, _ in sweep_lines(out)}
            assert len(leaders) == 1
            [leader] = [p for p in procs if p.pid in leaders]
            [survivor] = [p for p in procs if p is not leader]

            leader.send_signal(signal.SIGKILL)
            killed = datetime.now(UTC)
            assert wait_until(lambda: any(pid == survivor.pid for pid, _ in sweep_lines(out)), timeout=5)
            first_sweep = min(now for pid, now in sweep_lines(out) if pid == survivor.pid)
            assert first_sweep >= killed  # it never swept while the leader lived
            assert first_sweep - killed < timedelta(seconds=1.5)  # measured 0.2-0.3 s: one poll, then catch-up
            assert wait_until(lambda: sum(pid == survivor.pid for pid, _ in sweep_lines(out)) >= 3, timeout=5)

            survivor.send_signal(signal.SIGTERM)
            assert read_line(survivor, timeout=10) == "stopped"
            assert survivor.wait(timeout=10) == 0
        finally:
            for proc in procs:
                finish(proc)


def test_becoming_leader_sweeps_at_once(pg_url: str, name: str) -> None:
    swept: list[datetime] = []
    scheduler = JobScheduler(lock=LeaderLock(pg_url, name=name), sweep=swept.append, sweep_interval_seconds=3600,
                             leader_poll_seconds=0.1)  # fmt: skip
    started = datetime.now(UTC)
    scheduler.start()
    try:
        assert wait_until(lambda: scheduler.sweeps == 1, timeout=5)
        assert scheduler.is_leader
        assert swept[0] - started < timedelta(seconds=1)
        assert scheduler.last_sweep_at == swept[0]
        time.sleep(0.5)
        assert scheduler.sweeps == 1  # the interval is an hour, and polling again while leader sweeps nothing
    finally:
        scheduler.stop()


def test_a_follower_never_sweeps(pg_url: str, name: str) -> None:
    holder = LeaderLock(pg_url, name=name)
    assert holder.try_acquire()
    swept: list[datetime] = []
    scheduler = JobScheduler(lock=LeaderLock(pg_url, name=name), sweep=swept.append, sweep_interval_seconds=0.05,
                             leader_poll_seconds=0.05, wakeups=[CronTrigger(second="*", timezone=UTC)])  # fmt: skip
    scheduler.start()
    try:
        time.sleep(1.2)
        assert swept == [] and not scheduler.is_leader
        holder.close()
        assert wait_until(lambda: len(swept) >= 2, timeout=5)
    finally:
        scheduler.stop()
        holder.close()


def test_cron_wakeups_sweep_at_their_fire_time(tmp_path: Path) -> None:
    swept: list[datetime] = []
    scheduler = JobScheduler(lock=LeaderLock(sqlite_url(tmp_path)), sweep=swept.append, sweep_interval_seconds=3600,
                             leader_poll_seconds=0.1, wakeups=[CronTrigger(second="*", timezone=UTC)])  # fmt: skip
    scheduler.start()
    try:
        assert wait_until(lambda: len(swept) >= 3, timeout=5)  # the catch-up, then two whole seconds
    finally:
        scheduler.stop()
    for now in swept[1:]:
        late = now - now.replace(microsecond=0)
        assert late < timedelta(seconds=0.25), late  # measured about 2 ms


def test_a_lost_lock_stops_sweeping_until_it_is_held_again(
    pg_url: str, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    swept: list[datetime] = []
    scheduler = JobScheduler(lock=LeaderLock(pg_url, name=name), sweep=swept.append, sweep_interval_seconds=0.1,
                             leader_poll_seconds=0.2)  # fmt: skip
    usurper = LeaderLock(pg_url, name=name)
    caplog.set_level(logging.INFO, logger="domainpriv.scheduling")
    scheduler.start()
    try:
        assert wait_until(lambda: len(swept) >= 2, timeout=5)
        [backend] = holder_pids(pg_url, name)
        with psycopg.connect(libpq(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
        assert wait_until(usurper.try_acquire, timeout=5, step=0.005)
        assert wait_until(lambda: not scheduler.is_leader, timeout=5)
        count = len(swept)
        time.sleep(0.8)
        assert len(swept) <= count + 1  # at most one that began before the poll noticed; then none
        count = len(swept)
        time.sleep(0.5)
        assert len(swept) == count
        usurper.release()
        assert wait_until(lambda: scheduler.is_leader and len(swept) > count, timeout=5)
    finally:
        scheduler.stop()
        usurper.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "domainpriv.scheduling"]
    assert messages.count("became the scheduler leader") == 2
    assert "no longer the scheduler leader" in messages
    assert messages[-1] == "no longer the scheduler leader (stopped)"


class SweepRefused(DomainprivError):
    pass


def test_a_failing_sweep_is_logged_without_its_data_and_the_scheduler_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[datetime] = []

    def sweep(now: datetime) -> None:
        calls.append(now)
        if len(calls) == 1:
            raise SweepRefused("escrow is not set up (config key escrow.agent_public_key)")
        if len(calls) == 2:
            raise RuntimeError("duplicate key value: (email)=(alice@example.com)")

    caplog.set_level(logging.INFO, logger="domainpriv.scheduling")
    scheduler = JobScheduler(lock=LeaderLock(sqlite_url(tmp_path)), sweep=sweep, sweep_interval_seconds=0.1,
                             leader_poll_seconds=0.1)  # fmt: skip
    scheduler.start()
    try:
        assert wait_until(lambda: scheduler.sweeps >= 4, timeout=5)
    finally:
        scheduler.stop()
    assert scheduler.failures == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        "sweep failed (SweepRefused: escrow is not set up (config key escrow.agent_public_key))",
        "sweep failed (RuntimeError; details at debug level)",
    ]
    assert "alice@example.com" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records if r.levelno > logging.DEBUG)


def test_stop_waits_for_the_running_sweep_releases_the_lock_and_leaves_no_threads(pg_url: str, name: str) -> None:
    inside, finished = threading.Event(), threading.Event()

    def slow_sweep(now: datetime) -> None:
        inside.set()
        time.sleep(0.6)
        finished.set()

    before = set(threading.enumerate())
    scheduler = JobScheduler(lock=LeaderLock(pg_url, name=name), sweep=slow_sweep, sweep_interval_seconds=0.1,
                             leader_poll_seconds=0.1, wakeups=[CronTrigger(second="*", timezone=UTC)])  # fmt: skip
    scheduler.start()
    assert inside.wait(timeout=5)
    scheduler.stop()
    assert finished.is_set()  # stop() returned only after the sweep had
    assert not scheduler.is_leader
    assert set(threading.enumerate()) - before == set()
    assert holder_pids(pg_url, name) == []
    other = LeaderLock(pg_url, name=name)
    assert other.try_acquire()
    other.close()


def test_stop_gives_up_on_a_sweep_that_outlasts_its_timeout(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    release = threading.Event()

    def stuck_sweep(now: datetime) -> None:
        release.wait(10)

    scheduler = JobScheduler(lock=LeaderLock(sqlite_url(tmp_path)), sweep=stuck_sweep,
                             sweep_interval_seconds=3600, leader_poll_seconds=0.1)  # fmt: skip
    scheduler.start()
    assert wait_until(lambda: scheduler.is_leader, timeout=5)
    time.sleep(0.1)
    began = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="domainpriv.scheduling"):
        scheduler.stop(timeout=0.3)
    assert time.monotonic() - began < 2
    assert "scheduler stopped with a sweep still running after 0.3 s" in caplog.text
    release.set()


def test_sweep_once_sweeps_only_when_no_daemon_leads(pg_url: str, name: str) -> None:
    swept: list[datetime] = []
    holder = LeaderLock(pg_url, name=name)
    assert holder.try_acquire()
    assert not sweep_once(LeaderLock(pg_url, name=name), swept.append)
    assert swept == []
    holder.close()
    lock = LeaderLock(pg_url, name=name)
    assert sweep_once(lock, swept.append)
    assert len(swept) == 1 and not lock.held
    assert holder_pids(pg_url, name) == []


def test_apscheduler_keeps_quiet_at_info(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    scheduler = JobScheduler(lock=LeaderLock(sqlite_url(tmp_path)), sweep=lambda now: None,
                             sweep_interval_seconds=0.05, leader_poll_seconds=0.05)  # fmt: skip
    scheduler.start()
    try:
        assert wait_until(lambda: scheduler.sweeps >= 3, timeout=5)
    finally:
        scheduler.stop()
    assert [r for r in caplog.records if r.name.startswith("apscheduler")] == []


def test_a_bad_cron_wakeup_is_refused_at_construction_naming_its_key(tmp_path: Path) -> None:
    lock = LeaderLock(sqlite_url(tmp_path))

    def scheduler(crons: dict[str, str]) -> JobScheduler:
        return JobScheduler(lock=lock, sweep=lambda now: None, sweep_interval_seconds=60, leader_poll_seconds=1,
                            cron_wakeups=crons)  # fmt: skip

    with pytest.raises(ConfigError, match=r"^config key escrow\.incremental_cron: not a cron expression"):
        scheduler({"escrow.full_cron": "0 0 * * sun", "escrow.incremental_cron": "0 0 * * 0-8"})
    scheduler({"escrow.full_cron": "0 0 * * sun", "escrow.incremental_cron": ""})  # "": incrementals off


class _nothing:  # a context manager that gives its value, like postgres_schema_url gives a URL
    def __init__(self, value: str) -> None:
        self.value = value

    def __enter__(self) -> str:
        return self.value

    def __exit__(self, *exc: object) -> None:
        return None
