"""Real authoritative DNS servers for the delegation tests: Knot DNS (`knotd`) and BIND (`named`) on loopback.

`knot_dns_server(folder)` and `bind_dns_server(folder)` (toolchain.md §6) write a temporary config, zone and
database directory under `folder`, generate fresh TSIG keys (hmac-sha256), start the daemon in the foreground on
a port the OS said was free just before the start (retried when another process took it first), wait until it
answers the zone's SOA, and stop it by PID afterwards. Skipped with the reason when the daemon is missing, a
failure instead with DOMAINPRIV_REQUIRE_SERVICES=1. Both carry the same data, so the same tests run on both.

The zone `tld.test.` (`ZONE_TEXT`) holds delegations of every shape the code must carry: NS with DS and in-zone
glue (A and AAAA), NS without DS or glue, an IDN (an A-label) with glue, and a name that is not a delegation.
`KEY_NAME` may update it; `DENIED_KEY_NAME` is known to the server but may not (Knot: an ACL with `deny`, BIND:
no grant in update-policy). A second configured zone (`BROKEN_ZONE`) fails to load: the server answers SERVFAIL.

Fixtures: `knot_dns`, `bind_dns`, and `authoritative_dns` (each of the two in turn); `saved_delegations` is a
hypothesis strategy of delegations of every shape.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import dns.exception
import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype
import pytest
from hypothesis import strategies as st

from domainpriv.config import DnsSettings
from domainpriv.dns import SavedDelegation, SavedRRset
from support.databases import services_required
from support.ports import HOST, free_port

Kind = Literal["knot", "bind"]
# By absolute path when not on PATH: root's PATH has /usr/sbin, another user's may not.
DAEMONS: dict[Kind, str] = {
    "knot": shutil.which("knotd") or "/usr/sbin/knotd",
    "bind": shutil.which("named") or "/usr/sbin/named",
}
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
    kind: Kind
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


def unavailable_reason(kind: Kind) -> str | None:
    if not os.access(DAEMONS[kind], os.X_OK):
        package = "knot knot-dnsutils" if kind == "knot" else "bind9"
        return f"{kind} is not installed ({DAEMONS[kind]} missing; apt-get install {package})"
    return None


def require(kind: Kind) -> None:
    reason = unavailable_reason(kind)
    if reason is not None:
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)


@contextmanager
def knot_dns_server(folder: Path) -> Iterator[DnsServer]:
    """knotd serving ZONE (and BROKEN_ZONE) with KEY_NAME allowed to update and DENIED_KEY_NAME denied by an ACL."""
    with _dns_server("knot", folder, _knot_conf, lambda conf: [DAEMONS["knot"], "-c", str(conf)]) as server:
        yield server


@contextmanager
def bind_dns_server(folder: Path) -> Iterator[DnsServer]:
    """named serving the same zones, KEY_NAME granted updates by update-policy, DENIED_KEY_NAME known, not granted."""
    with _dns_server("bind", folder, _named_conf, lambda conf: [DAEMONS["bind"], "-g", "-c", str(conf)]) as server:
        yield server


@contextmanager
def _dns_server(
    kind: Kind, folder: Path, write_conf: Callable[[Path, int, str, str], str], argv: Callable[[Path], list[str]]
) -> Iterator[DnsServer]:
    require(kind)
    for sub in ("zones", "db", "run"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    (folder / "zones" / f"{ZONE}.zone").write_text(ZONE_TEXT)
    (folder / "zones" / f"{BROKEN_ZONE}.zone").write_text("this is not a zone file\n")
    secret, denied = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    proc, port = _start(kind, folder, lambda port: write_conf(folder, port, secret, denied), argv)
    try:
        yield DnsServer(kind, HOST, port, ZONE, KEY_NAME, ALGORITHM, secret, denied, folder, proc.pid)
    finally:
        _stop(proc)


def _knot_conf(folder: Path, port: int, secret: str, denied: str) -> str:
    conf = folder / "knot.conf"
    conf.write_text(f"""\
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
    update-type: [NS, DS, A, AAAA]
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
""")
    return str(conf)


def _named_conf(folder: Path, port: int, secret: str, denied: str) -> str:
    conf = folder / "named.conf"
    zones = "".join(
        f'''zone "{zone}" {{ type primary; file "zones/{zone}.zone";
    update-policy {{ grant {KEY_NAME} zonesub NS DS A AAAA; }}; }};
'''
        for zone in (ZONE, BROKEN_ZONE)
    )
    conf.write_text(f"""\
options {{
    directory "{folder}";
    pid-file "{folder / "run" / "named.pid"}";
    session-keyfile "{folder / "run" / "session.key"}";
    managed-keys-directory "{folder / "db"}";
    listen-on port {port} {{ {HOST}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    notify no;
    dnssec-validation no;
}};
controls {{ }};
key "{KEY_NAME}" {{ algorithm {ALGORITHM}; secret "{secret}"; }};
key "{DENIED_KEY_NAME}" {{ algorithm {ALGORITHM}; secret "{denied}"; }};
{zones}""")
    return str(conf)


def _start(
    kind: Kind, folder: Path, write_conf: Callable[[int], str], argv: Callable[[Path], list[str]]
) -> tuple[subprocess.Popen[bytes], int]:
    """Start the daemon on a free port; another try on a new port when something took the port in between."""
    log = folder / f"{kind}.log"
    for _ in range(3):
        port = free_port()
        conf = Path(write_conf(port))
        with log.open("ab") as err:
            proc = subprocess.Popen(argv(conf), stdout=subprocess.DEVNULL, stderr=err)
        if _wait_for_zone(proc, port):
            return proc, port
        _stop(proc)
        if "ddress already in use" not in log.read_text(errors="replace"):
            break
    pytest.fail(f"{kind} did not start; its log:\n{log.read_text(errors='replace')[-4000:]}")


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


# --- generated delegations -------------------------------------------------------------------------------------

LABEL = st.from_regex(r"\A(xn--)?[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
TTL = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def saved_delegations(draw: st.DrawFn, domain: str | None = None, *, may_be_empty: bool = True) -> SavedDelegation:
    """A SavedDelegation of any shape: NS (in-domain and outside targets), maybe DS, A and/or AAAA glue (or none)
    for in-domain targets. With `domain` ("x.tld.test") it lies in that domain's parent zone, else zone and domain
    are drawn too."""
    if domain is None:
        zone = ".".join(draw(st.lists(LABEL, min_size=1, max_size=2)))
        domain = f"{draw(LABEL)}.{zone}"
    else:
        zone = domain.split(".", 1)[1]
    rrsets: list[SavedRRset] = []
    if not may_be_empty or draw(st.booleans()):  # an empty one is a suspended domain's (nothing to restore)
        inside = draw(st.lists(LABEL, min_size=0, max_size=3, unique=True))
        outside = draw(st.lists(LABEL.map(lambda s: f"ns.{s}.example."), max_size=2, unique=True))
        targets = [f"{label}.{domain}." for label in inside] + outside
        rrsets.append(SavedRRset(domain + ".", "NS", draw(TTL), tuple(targets or ["ns.example.net."])))
        if draw(st.booleans()):
            ds = st.builds(
                lambda tag, alg, digest: f"{tag} {alg} 2 {digest}",
                st.integers(0, 65535),
                st.sampled_from([8, 13, 15]),
                HEX,
            )
            rrsets.append(SavedRRset(domain + ".", "DS", draw(TTL), tuple(draw(st.lists(ds, min_size=1, max_size=3)))))
        v4 = st.ip_addresses(v=4).map(str)
        v6 = st.ip_addresses(v=6).map(lambda a: a.compressed)
        for label in inside:
            families = draw(st.sampled_from([(), ("A",), ("AAAA",), ("A", "AAAA")]))  # (): a lame name server
            for rdtype, address in (("A", v4), ("AAAA", v6)):
                if rdtype in families:
                    rdata = tuple(draw(st.lists(address, min_size=1, max_size=3)))
                    rrsets.append(SavedRRset(f"{label}.{domain}.", rdtype, draw(TTL), rdata))
    draw(st.randoms()).shuffle(rrsets)  # the order the server sent them in does not matter
    return SavedDelegation(zone, domain, tuple(rrsets))


@pytest.fixture
def knot_dns(tmp_path: Path) -> Iterator[DnsServer]:
    with knot_dns_server(tmp_path / "knot") as server:
        yield server


@pytest.fixture
def bind_dns(tmp_path: Path) -> Iterator[DnsServer]:
    with bind_dns_server(tmp_path / "bind") as server:
        yield server


@pytest.fixture(params=["knot", "bind"])
def authoritative_dns(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[DnsServer]:
    """Each server in turn: the client code must work the same against both."""
    start = knot_dns_server if request.param == "knot" else bind_dns_server
    with start(tmp_path / request.param) as server:
        yield server
