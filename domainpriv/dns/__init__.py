"""DNS: suspend and restore a domain's delegation at the registrar's authoritative server (TSIG-signed RFC 2136).

Modules: `zones` (which configured zone holds a delegation; pure), `saved` (what a suspension removed, as JSON;
pure), `exchange` (one message to the server over TCP, errors in plain words), `delegation` (read, suspend,
restore, each verified by a query afterwards), `errors` (DnsUpdateFailed). The operator's set-up is docs/dns.md.
"""

from domainpriv.dns.delegation import read_delegation, restore_delegation, suspend_delegation
from domainpriv.dns.errors import DnsUpdateFailed
from domainpriv.dns.saved import SavedDelegation, SavedRRset
from domainpriv.dns.zones import zone_for

__all__ = [
    "DnsUpdateFailed",
    "SavedDelegation",
    "SavedRRset",
    "read_delegation",
    "restore_delegation",
    "suspend_delegation",
    "zone_for",
]
