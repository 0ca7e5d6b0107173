"""A real authoritative DNS server for the delegation tests: Knot DNS (`knotd`, toolchain.md §6) on loopback.

`knot_dns_server(folder)` writes a temporary config, zone and database directory under `folder`, generates a
fresh TSIG key (hmac-sha256) that may update the zone, starts `knotd` in the foreground on a port the OS said was
free just before the start (retried when another process took it first), waits until it answers for the zone,
and stops it by PID afterwards. Skipped with the reason when knotd is missing, a failure instead with
DOMAINPRIV_REQUIRE_SERVICES=1.

The zone `tld.test.` (`ZONE_TEXT`) holds delegations of every shape the code must carry: NS with DS and in-zone
glue (A and AAAA), NS without DS or glue, an IDN (an A-label) with glue, and a name that is not a delegation.
A second key (`DENIED_KEY_NAME`) is known to the server but denied updates by its ACL, and a second configured
zone (`BROKEN_ZONE`) fails to load, so the server answers SERVFAIL for it.
The fixture `knot_dns` wraps it for tests that just need a server.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest

from domainpriv.config import DnsSettings
from support.databases import services_required
from support.ports import HOST, free_port

KNOTD = shutil.which("knotd") or "/usr/sbin/knotd"  # root's PATH has /usr/sbin, another user's may not
ZONE = "tld.test"
KEY_NAME = "domainpriv-test"
DENIED_KEY_NAME = "not-for-updates"  # known to the server, denied updates by its ACL
BROKEN_ZONE = "broken.test"  # configured, but its zone file does not load: the server answers SERVFAIL
ALGORITHM = "hmac-sha256"
START_TIMEOUT_SECONDS = 10.0
TIMEOUT_SECONDS = 2.0

# TTLs differ per rrset on purpose, so a restore that loses or defaults a TTL is caught.
ZONE_TEXT = """\
$ORIGIN tld.test.
$TTL 3600
@                   SOA   ns.tld.test. hostmaster.tld.test. 1 3600 900 604800 300
@                   NS    ns.tld.test.
ns                  A     127.0.0.1
www                 A     192.0.2.80
; NS + DS + in-zone glue (A and AAAA) + a name server outside the zone
foo         86400   NS    ns1.foo.tld.test.
foo         86400   NS    ns2.example.net.
foo         7200    DS    12345 13 2 8A2F1C3F3C9A3F6E2D1B0C4A5E6F7081920A1B2C3D4E5F60718293A4B5C6D7E8
ns1.foo     1800    A     192.0.2.53
ns1.foo     1800    A     192.0.2.54
ns1.foo     900     AAAA  2001:db8::53
; NS only: no DS, no glue
bar         3600    NS    ns1.example.net.
bar         3600    NS    ns2.example.net.
; an IDN (bücher), delegated with glue and DS
xn--bcher-kva  3600 NS    ns.xn--bcher-kva.tld.test.
xn--bcher-kva  3600 DS    54321 8 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF
ns.xn--bcher-kva 600 A    192.0.2.99
"""


@dataclass(frozen=True, slots=True)
class DnsServer:
    host: str
    port: int
    zone: str
    key_name: str
    algorithm: str
    secret: str  # base64
    denied_secret: str  # base64, of DENIED_KEY_NAME
    folder: Path
    pid: int

    def settings(self, **overrides: Any) -> DnsSettings:
        """The `[dns]` settings that point at this server with its key (fields overridable)."""
        values: dict[str, Any] = {
            "server": self.host,
            "port": self.port,
            "tsig_key_name": self.key_name,
            "tsig_algorithm": self.algorithm,
            "tsig_secret": self.secret,
            "zones": (self.zone,),
            "timeout_seconds": TIMEOUT_SECONDS,
        }
        values.update(overrides)
        return DnsSettings(**values)

    def query(self, name: str, rdtype: str) -> dns.message.Message:
        """An iterative (RD=0) query over TCP, as a resolver walking down from the parent would send it."""
        query = dns.message.make_query(name, rdtype)
        query.flags &= ~dns.flags.RD
        response = dns.query.tcp(query, self.host, port=self.port, timeout=TIMEOUT_SECONDS)
        return response

    def soa_serial(self) -> int:
        answer = self.query(self.zone + ".", "SOA").answer
        return int(answer[0][0].serial)


def knotd_unavailable_reason() -> str | None:
    if not os.access(KNOTD, os.X_OK):
        return "Knot DNS is not installed (knotd missing; apt-get install knot knot-dnsutils)"
    return None


def require_knotd() -> None:
    reason = knotd_unavailable_reason()
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


@contextmanager
def knot_dns_server(folder: Path) -> Iterator[DnsServer]:
    require_knotd()
    for sub in ("zones", "db", "run"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "zones" / f"{ZONE}.zone").write_text(ZONE_TEXT)
    (folder / "zones" / f"{BROKEN_ZONE}.zone").write_text("this is not a zone file\n")
    secret, denied = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    proc, port = _start_knotd(folder, secret, denied)
    try:
        yield DnsServer(HOST, port, ZONE, KEY_NAME, ALGORITHM, secret, denied, folder, proc.pid)
    finally:
        _stop(proc)


def _knot_conf(folder: Path, port: int, secret: str, denied: str) -> str:
    return f"""\
server:
  rundir: "{folder / "run"}"
  listen: {HOST}@{port}
log:
  - target: stderr
    any: info
database:
  storage: "{folder / "db"}"
key:
  - id: {KEY_NAME}
    algorithm: {ALGORITHM}
    secret: {secret}
  - id: {DENIED_KEY_NAME}
    algorithm: {ALGORITHM}
    secret: {denied}
acl:
  - id: denied_update
    key: {DENIED_KEY_NAME}
    action: update
    deny: on
  - id: ddns_update
    address: {HOST}
    key: {KEY_NAME}
    action: update
template:
  - id: default
    storage: "{folder / "zones"}"
    file: "%s.zone"
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
zone:
  - domain: {ZONE}
    acl: [denied_update, ddns_update]
  - domain: {BROKEN_ZONE}
    acl: ddns_update
"""


def _start_knotd(folder: Path, secret: str, denied: str) -> tuple[subprocess.Popen[bytes], int]:
    """Start knotd on a free port; another try on a new port when something took the port in between."""
    log = folder / "knotd.log"
    for _ in range(3):
        port = free_port()
        conf = folder / "knot.conf"
        conf.write_text(_knot_conf(folder, port, secret, denied))
        with log.open("ab") as err:
            proc = subprocess.Popen([KNOTD, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=err)
        if _wait_for_zone(proc, port):
            return proc, port
        _stop(proc)
        if "Address already in use" not in log.read_text(errors="replace"):
            break
    pytest.fail(f"knotd did not start; its log:\n{log.read_text(errors='replace')[-4000:]}")


def _wait_for_zone(proc: subprocess.Popen[bytes], port: int) -> bool:
    """True once the server answers the zone's SOA authoritatively."""
    query = dns.message.make_query(ZONE + ".", "SOA")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            response = dns.query.tcp(query, HOST, port=port, timeout=1)
            if response.rcode() == dns.rcode.NOERROR and response.answer:
                return True
        except (OSError, dns.exception.DNSException):
            pass
        time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture
def knot_dns(tmp_path: Path) -> Iterator[DnsServer]:
    with knot_dns_server(tmp_path / "knot") as server:
        yield server
