"""One DNS message out, one answer back, over TCP to the configured server: the only module of dns/ with a socket.

TCP for everything: a referral with its glue, or an UPDATE, never gets truncated, and a closed port is refused at
once instead of waiting out a UDP timeout. Connecting, sending and receiving share one deadline, `[dns]
timeout_seconds`; a host name in `[dns] server` is resolved by the system resolver first, outside that deadline
(an IP address avoids the lookup).

Every failure becomes :class:`DnsUpdateFailed` with a plain-words problem. The TSIG secret is turned into a
keyring here and never appears in a message: errors name the key by its name only. An UPDATE's answer must
carry a valid TSIG signature to count as success; an unsigned error answer (what servers send when they do
not know the key or the zone) is parsed a second time without the key only to name its error code.
"""

from __future__ import annotations

import base64
import binascii
import socket
import struct
import time
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update

from domainpriv.config import DnsSettings
from domainpriv.dns.errors import DnsUpdateFailed, Reason
from domainpriv.dns.zones import server_label

_PREREQUISITE_RCODES = {dns.rcode.YXDOMAIN, dns.rcode.YXRRSET, dns.rcode.NXDOMAIN, dns.rcode.NXRRSET}


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to send messages about one zone, and how to sign them (the keyring is never printed)."""

    label: str  # host:port, as messages name it
    host: str
    port: int
    zone: str
    timeout_seconds: float
    key_name: str
    key_algorithm: str
    secret: str  # base64, from the settings; only turned into a keyring when an UPDATE is signed

    def __repr__(self) -> str:  # the secret stays out of tracebacks and logs
        return f"Endpoint({self.label}, zone {self.zone}, key {self.key_name!r})"

    def failed(self, reason: Reason, problem: str) -> DnsUpdateFailed:
        return DnsUpdateFailed(server=self.label, zone=self.zone, reason=reason, problem=problem)


def endpoint(settings: DnsSettings, zone: str) -> Endpoint:
    """The server of `settings` for `zone`. Raises DnsUpdateFailed ("not-configured") when [dns] server is empty."""
    ep = Endpoint(
        label=server_label(settings),
        host=settings.server,
        port=settings.port,
        zone=zone,
        timeout_seconds=settings.timeout_seconds,
        key_name=settings.tsig_key_name,
        key_algorithm=settings.tsig_algorithm,
        secret=settings.tsig_secret,
    )
    if not settings.configured:
        raise ep.failed("not-configured", "no DNS server is configured ([dns] server is empty)")
    return ep


def new_update(ep: Endpoint) -> dns.update.UpdateMessage:
    """An empty UPDATE for the endpoint's zone, to be signed with its TSIG key when sent."""
    try:
        secret = base64.b64decode(ep.secret, validate=True)
    except (binascii.Error, ValueError):
        raise ep.failed("bad-key", f"the secret of TSIG key {ep.key_name!r} is not valid base64") from None
    if not secret:
        raise ep.failed("bad-key", f"TSIG key {ep.key_name!r} has no secret ([dns] tsig_secret is empty)")
    try:
        key = dns.tsig.Key(ep.key_name, secret, ep.key_algorithm)
    except dns.exception.DNSException:
        raise ep.failed("bad-key", f"{ep.key_name!r} is not a valid TSIG key name") from None
    return dns.update.UpdateMessage(
        ep.zone + ".", keyring={key.name: key}, keyname=key.name, keyalgorithm=key.algorithm
    )


def query(ep: Endpoint, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
    """An iterative (RD=0), unsigned query, as a resolver asks an authoritative server. NOERROR or NXDOMAIN only."""
    request = dns.message.make_query(name, rdtype)
    request.flags &= ~dns.flags.RD
    what = f"the query {name} {dns.rdatatype.to_text(rdtype)}"
    response = _exchange(ep, request, what)
    rcode = response.rcode()
    if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return response
    if rcode in (dns.rcode.REFUSED, dns.rcode.NOTAUTH):
        problem = f"{dns.rcode.to_text(rcode)} for {what}: the server is not authoritative for the zone"
        raise ep.failed("refused", problem)
    raise _by_rcode(ep, rcode, what)


def send_update(ep: Endpoint, update: dns.update.UpdateMessage) -> None:
    """Send one signed UPDATE; returns when the server answered NOERROR with a valid signature."""
    response = _exchange(ep, update, "the update")
    rcode = response.rcode()
    if rcode != dns.rcode.NOERROR:
        raise _by_rcode(ep, rcode, "the update")


def _by_rcode(ep: Endpoint, rcode: int, what: str, note: str = "") -> DnsUpdateFailed:
    code = dns.rcode.to_text(dns.rcode.Rcode.make(rcode)) + note
    if rcode == dns.rcode.NOTAUTH:
        problem = (
            f"NOTAUTH for {what}: the server does not accept TSIG key {ep.key_name!r} ({ep.key_algorithm}) for this "
            "zone (unknown key, wrong secret or algorithm), or is not authoritative for the zone"
        )
        return ep.failed("key-rejected", problem)
    if rcode == dns.rcode.REFUSED:
        problem = (
            f"REFUSED {what}: TSIG key {ep.key_name!r} is not allowed to update the zone there (the server's "
            "ACL or update-policy), or the server does not serve the zone"
        )
        return ep.failed("refused", problem)
    if rcode == dns.rcode.SERVFAIL:
        return ep.failed("server-failure", f"SERVFAIL for {what}: the server failed to process it; try again later")
    if rcode in _PREREQUISITE_RCODES:
        problem = f"the delegation changed since it was read (prerequisite failed: {code}); nothing was changed"
        return ep.failed("prerequisite", problem)
    if rcode == dns.rcode.NOTZONE:
        return ep.failed("refused", f"NOTZONE for {what}: a name in it is not in the zone {ep.zone}")
    return ep.failed("refused", f"the server answered {code} to {what}")


def _exchange(ep: Endpoint, request: dns.message.Message, what: str) -> dns.message.Message:
    deadline = time.monotonic() + ep.timeout_seconds
    wire = request.to_wire()  # signs a TSIG request and keeps its MAC in request.mac for the answer's check
    try:
        # create_connection resolves a host name and tries each of its addresses in turn
        with socket.create_connection((ep.host, ep.port), timeout=_remaining(deadline)) as sock:
            sock.sendall(struct.pack("!H", len(wire)) + wire)
            (length,) = struct.unpack("!H", _read(sock, 2, deadline))
            answer = _read(sock, length, deadline)
    except TimeoutError:
        raise ep.failed("timeout", f"no answer to {what} within {ep.timeout_seconds:g} seconds") from None
    except socket.gaierror as exc:
        raise ep.failed("unreachable", f"cannot resolve the server's name ({exc.strerror})") from None
    except ConnectionRefusedError:
        raise ep.failed("unreachable", "connection refused (nothing listens on that port)") from None
    except EOFError:
        raise ep.failed("bad-answer", f"the server closed the connection without answering {what}") from None
    except OSError as exc:
        raise ep.failed("unreachable", f"cannot reach the server ({exc.strerror or type(exc).__name__})") from None
    response = _parse(ep, request, answer, what)
    if not request.is_response(response):
        raise ep.failed("bad-answer", f"the answer does not match {what}")
    return response


def _parse(ep: Endpoint, request: dns.message.Message, answer: bytes, what: str) -> dns.message.Message:
    key = f"TSIG key {ep.key_name!r} ({ep.key_algorithm})"
    try:
        return dns.message.from_wire(answer, keyring=request.keyring, request_mac=request.mac)
    except dns.tsig.PeerBadKey:
        problem = (
            f"NOTAUTH (BADKEY): the server does not accept {key} for this zone (unknown there, another algorithm, "
            "or not allowed by its ACL)"
        )
    except dns.tsig.PeerBadSignature:
        problem = f"NOTAUTH (BADSIG): the server rejected the signature of {key}; check the secret"
    except dns.tsig.PeerBadTime:
        problem = f"NOTAUTH (BADTIME): the server rejected the time in the signature of {key}; check the clocks"
    except dns.tsig.PeerError as exc:
        problem = f"NOTAUTH: the server rejected {key} ({type(exc).__name__})"
    except dns.exception.FormError:
        unsigned = _unsigned(answer)
        if request.keyring is None or unsigned is None or unsigned.rcode() == dns.rcode.NOERROR:
            raise ep.failed("bad-answer", f"the answer to {what} is malformed or lacks its TSIG signature") from None
        raise _by_rcode(ep, unsigned.rcode(), what, note=", unsigned") from None
    except dns.exception.DNSException as exc:
        raise ep.failed("bad-answer", f"the answer to {what} is not acceptable ({type(exc).__name__})") from None
    raise ep.failed("key-rejected", problem)


def _unsigned(answer: bytes) -> dns.message.Message | None:
    try:
        return dns.message.from_wire(answer)
    except dns.exception.DNSException:
        return None


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _read(sock: socket.socket, count: int, deadline: float) -> bytes:
    data = b""
    while len(data) < count:
        sock.settimeout(_remaining(deadline))
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data
