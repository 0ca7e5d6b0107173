"""The support for real PostgreSQL instances (support/pg_cluster.py) works: a private cluster stops, restarts
(also under load) and crashes without leaving a process behind, and a streaming replica, of a private cluster
and of the machine's test server, follows its primary and refuses writes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy.engine import make_url

from support.databases import postgres_schema_url
from support.pg_cluster import (
    HOST,
    Postmaster,
    alive,
    libpq_url,
    private_cluster,
    replica_of,
    replica_of_test_server,
    replication_unavailable_reason,
    require_cluster,
    wait_for_replay,
)
from support.ports import free_port


def scalar(url: str, sql: str) -> object:
    with psycopg.connect(libpq_url(url), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return row[0]


def assert_gone(pids: list[int]) -> None:
    assert pids
    assert [pid for pid in pids if alive(pid)] == []


def test_private_cluster_stops_restarts_and_survives_a_kill() -> None:
    require_cluster()
    with private_cluster() as pm:
        url = pm.url("test")
        assert scalar(url, "SHOW listen_addresses") == HOST
        assert scalar(url, "SHOW unix_socket_directories") == str(pm.socket_dir)
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
        port, pids = pm.port, pm.processes()
        assert pm.pid in pids and len(pids) > 1  # the postmaster and its auxiliary processes

        pm.stop()
        assert not pm.running
        assert_gone(pids)
        with pytest.raises(psycopg.OperationalError):
            scalar(url, "SELECT 1")

        pm.start()
        assert pm.port == port
        pm.restart()
        assert pm.port == port and scalar(url, "SELECT count(*) FROM t") == 1

        pids = pm.processes()
        pm.kill()
        assert_gone(pids)
        pm.start()  # crash recovery: the committed row is still there
        assert scalar(url, "SELECT count(*) FROM t") == 1
        base, pids = pm.socket_dir, pm.processes()
    assert_gone(pids)
    assert not base.exists()


def test_private_cluster_restarts_under_load() -> None:
    """Clients hammering the server lose their connections at the restart and get them back on the same port."""
    require_cluster()
    with private_cluster() as pm:
        url = libpq_url(pm.url("test"))
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE hits (at timestamptz DEFAULT now())")
        stop = threading.Event()
        outcomes: list[str] = []

        def client() -> None:
            while not stop.is_set():
                try:
                    with psycopg.connect(url, autocommit=True, connect_timeout=2) as conn:
                        while not stop.is_set():
                            conn.execute("INSERT INTO hits DEFAULT VALUES")
                            outcomes.append("ok")
                except psycopg.Error:
                    outcomes.append("error")
                    time.sleep(0.01)

        threads = [threading.Thread(target=client) for _ in range(4)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.3)
            before = outcomes.count("ok")
            pm.restart()
            time.sleep(0.3)
        finally:
            stop.set()
            for thread in threads:
                thread.join(10)
        assert before > 0 and "error" in outcomes
        assert outcomes.count("ok") > before and outcomes[-1] == "ok"
        rows = scalar(url, "SELECT count(*) FROM hits")  # every acknowledged insert, perhaps one cut off after commit
        assert isinstance(rows, int) and outcomes.count("ok") <= rows <= outcomes.count("ok") + len(threads)
        pids = pm.processes()
    assert_gone(pids)


def test_replica_of_a_private_cluster_follows_it_and_refuses_writes() -> None:
    require_cluster()
    with private_cluster() as primary, replica_of(HOST, primary.port) as replica:
        primary_url, replica_url = primary.url("test"), replica.url("test")
        with psycopg.connect(libpq_url(primary_url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text); INSERT INTO t VALUES ('first')")
        assert wait_for_replay(primary_url, replica_url, 10) >= 0
        assert scalar(replica_url, "SELECT v FROM t") == "first"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            scalar(replica_url, "INSERT INTO t VALUES ('no')")

        scalar(replica_url, "SELECT pg_wal_replay_pause()")  # a replica that falls behind: the wait says so
        while scalar(replica_url, "SELECT pg_get_wal_replay_pause_state()") != "paused":
            time.sleep(0.01)
        scalar(primary_url, "INSERT INTO t VALUES ('second') RETURNING 1")
        with pytest.raises(TimeoutError, match="replayed up to"):
            wait_for_replay(primary_url, replica_url, 0.2)
        scalar(replica_url, "SELECT pg_wal_replay_resume()")
        wait_for_replay(primary_url, replica_url, 10)
        assert scalar(replica_url, "SELECT count(*) FROM t") == 2
        pids = replica.processes() + primary.processes()
    assert_gone(pids)


def test_no_replication_from_a_closed_port() -> None:
    port = free_port()
    reason = replication_unavailable_reason(HOST, port)
    assert reason is not None and str(port) in reason


@pytest.fixture(scope="module")
def test_server_replica() -> Iterator[Postmaster]:
    """One replica of the machine's test server for the module: its base backup copies every database there."""
    with replica_of_test_server() as replica:
        yield replica


@pytest.mark.postgres
def test_replica_of_the_test_server_receives_a_row_and_refuses_writes(test_server_replica: Postmaster) -> None:
    with postgres_schema_url() as primary_url:
        replica_url = test_server_replica.url_for(primary_url)
        assert make_url(replica_url).database == make_url(primary_url).database
        with psycopg.connect(libpq_url(primary_url), autocommit=True) as conn:
            conn.execute("CREATE TABLE t (v text)")
            conn.execute("INSERT INTO t VALUES ('from the primary')")
        lag = wait_for_replay(primary_url, replica_url, 30)
        assert 0 <= lag < 30
        assert scalar(replica_url, "SELECT v FROM t") == "from the primary"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            scalar(replica_url, "INSERT INTO t VALUES ('from the replica')")
