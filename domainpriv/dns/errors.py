"""The one error of the DNS capability: the delegation could not be read, changed or verified at the server.

    DomainprivError
    └── DnsUpdateFailed      every failure of dns/: .reason (a short code), .retryable, .server, .zone

One class, so that the cases code catches one thing and shows either a retry state (`retryable`: the server may
answer later: timeout, unreachable, SERVFAIL, a concurrent change, a failed verification) or a configuration
problem for a person to fix (`retryable` False: the key rejected or unusable, REFUSED, NOTZONE, no server or no
zone configured for the domain).

Messages name the server (host:port), the zone and what went wrong in plain words; they never carry the TSIG
secret (only the key's name).
"""

from __future__ import annotations

from typing import Literal

from domainpriv.errors import DomainprivError

Reason = Literal[
    "not-configured",  # [dns] server is empty
    "outside-zones",  # the domain falls under none of [dns] zones
    "bad-key",  # [dns] tsig_secret is empty or not base64, or tsig_key_name is not a DNS name
    "timeout",  # no answer within [dns] timeout_seconds
    "unreachable",  # connection refused, no route, name of the server not resolvable
    "key-rejected",  # NOTAUTH, BADKEY, BADSIG, BADTIME: the server does not accept the TSIG key
    "refused",  # REFUSED: not allowed (ACL/update policy) or the zone is not served there
    "server-failure",  # SERVFAIL
    "prerequisite",  # NXRRSET/YXRRSET/NXDOMAIN/YXDOMAIN on an update: the delegation changed since it was read
    "conflict",  # a restore finds a different delegation in place and will not overwrite it
    "bad-answer",  # another error code, or an answer that does not parse or does not match the question
    "verification",  # the update was acknowledged but the server's answer afterwards is not what it should be
]

RETRYABLE: frozenset[Reason] = frozenset(
    {"timeout", "unreachable", "server-failure", "prerequisite", "bad-answer", "verification"}
)


class DnsUpdateFailed(DomainprivError):
    """Reading, updating or verifying a delegation at the authoritative server failed; nothing is assumed done.

    `server` is "host:port", `zone` the zone's name ("" when none applies), `reason` one of :data:`Reason`,
    `retryable` whether trying again later may succeed without anyone changing the configuration.
    """

    def __init__(self, *, server: str, zone: str, reason: Reason, problem: str) -> None:
        where = f"DNS server {server}" + (f", zone {zone}" if zone else "")
        super().__init__(f"{where}: {problem}")
        self.server = server
        self.zone = zone
        self.reason: Reason = reason
        self.retryable = reason in RETRYABLE
