"""`domainpriv serve` when the database is away or not ready, as an operator meets it: a PostgreSQL server that
stops and comes back under load, a daemon started while it is down, and a SQLite file with no schema yet.

The clients must get a clear temporary error (WHOIS `Error: service temporarily unavailable`, RDAP 503 with
`Retry-After`), never an internal error or a hang, and the daemon must recover by itself when the database is
back, without a restart. The PostgreSQL server is a private postmaster (tests/support/pg_cluster.py): the
machine's shared test server is never stopped."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.daemons import cli, daemon, first_domain, whois
from support.pg_cluster import Postmaster, private_cluster, require_cluster

UNAVAILABLE = "Error: service temporarily unavailable"
NO_RATE_LIMITS = {f"DOMAINPRIV_{p}_RATE_{k}": "1000000" for p in ("WHOIS", "RDAP") for k in ("PER_SECOND", "BURST")}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Postmaster]:
    require_cluster()
    with private_cluster(tmp_path) as postmaster:
        yield postmaster


def rdap_get(port: int, name: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and body."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/domain/{name}", timeout=15) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def kind_of_whois(answer: str) -> str:
    if answer.startswith("Domain Name:"):
        return "found"
    if answer.startswith(UNAVAILABLE):
        return "unavailable"
    return answer.splitlines()[0] if answer else "empty"


def wait_until(check: Callable[[], bool], timeout: float, what: str, seen: object = None) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not {what} within {timeout} s" + (f": {seen}" if seen is not None else ""))
        time.sleep(0.1)
    return time.monotonic() - started


class Load:
    """Queries in a thread, WHOIS and RDAP alternately over the given names, recording what came back."""

    def __init__(self, whois_port: int, rdap_port: int, names: list[str]) -> None:
        self.whois_port, self.rdap_port, self.names = whois_port, rdap_port, names
        self.seen: Counter[str] = Counter()
        self.last: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            name = self.names[i % len(self.names)]
            i += 1
            try:
                w = kind_of_whois(whois(self.whois_port, name))
                status, headers, _ = rdap_get(self.rdap_port, name)
                r = f"rdap {status}" + (f" retry-after {headers.get('retry-after')}" if status == 503 else "")
            except Exception as exc:  # a refused or reset connection would be a failure of the daemon
                w = r = f"client error {type(exc).__name__}"
            self.seen[f"whois {w}"] += 1
            self.seen[r] += 1
            self.last = {"whois": w, "rdap": r}
            time.sleep(0.005)  # steady load, not a flood: the two servers and PostgreSQL share two cores


def test_serve_survives_postgresql_stopping_and_coming_back_under_load(cluster: Postmaster, tmp_path: Path) -> None:
    url = cluster.url("test")
    cli(url, "db", "upgrade")
    cli(url, "demo", "load", "--domains", "20")
    names = [first_domain(url, mode) for mode in ("proxy", "redacted")]
    env = {"DOMAINPRIV_FEED_STALE_GRACE_SECONDS": "1", **NO_RATE_LIMITS}
    away = {"whois": "unavailable", "rdap": "rdap 503 retry-after 5"}
    with (
        daemon(url, tmp_path, extra_env=env) as (proc, whois_port, rdap_port),
        Load(whois_port, rdap_port, names) as load,
    ):
        wait_until(lambda: load.seen["whois found"] >= 4, 30, "answering")
        cluster.stop("fast")
        wait_until(lambda: load.last == away, 30, "answering 'temporarily unavailable'")
        down = dict(load.seen)
        cluster.start()
        recovered = wait_until(lambda: load.last == {"whois": "found", "rdap": "rdap 200"}, 30, "recovered", load.seen)
        # A change made after the outage shows: the feed is followed again from where it left off.
        cli(url, "privacy", "set", names[1], "proxy")
        wait_until(lambda: "Privacy Service of Example Registrar" in whois(whois_port, names[1]), 5, "fresh")
        assert proc.poll() is None  # one daemon throughout, never restarted
    assert load.seen["whois unavailable"] >= 1 and load.seen["rdap 503 retry-after 5"] >= 1, down
    assert not [k for k in load.seen if "client error" in k or "rdap 500" in k or k.startswith("whois Error: internal")]
    assert recovered < 30


def test_serve_started_while_postgresql_is_down_answers_then_recovers(cluster: Postmaster, tmp_path: Path) -> None:
    url = cluster.url("test")
    cli(url, "db", "upgrade")
    cli(url, "demo", "load", "--domains", "10")
    name = first_domain(url, "proxy")
    cluster.stop("fast")
    with daemon(url, tmp_path) as (_, whois_port, rdap_port):
        assert whois(whois_port, name).startswith(UNAVAILABLE)
        status, headers, body = rdap_get(rdap_port, name)
        assert status == 503 and headers.get("retry-after") == "5"
        assert headers.get("content-type") == "application/rdap+json"
        assert json.loads(body)["errorCode"] == 503
        cluster.start()
        wait_until(lambda: whois(whois_port, name).startswith("Domain Name:"), 30, "recovered")
        assert rdap_get(rdap_port, name)[0] == 200


def test_serve_on_a_sqlite_file_without_schema_answers_then_recovers_after_db_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    with daemon(url, tmp_path) as (_, whois_port, rdap_port):
        assert whois(whois_port, "example.com").startswith(UNAVAILABLE)
        assert rdap_get(rdap_port, "example.com")[0] == 503
        cli(url, "db", "upgrade")
        cli(url, "demo", "load", "--domains", "5")
        name = first_domain(url, "proxy")
        wait_until(lambda: whois(whois_port, name).startswith("Domain Name:"), 30, "recovered")
        assert rdap_get(rdap_port, name)[0] == 200
