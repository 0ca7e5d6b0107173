"""Which configured zone holds a domain's delegation, and the name forms the DNS code works with (pure).

A delegation lives in the parent zone at the cut, so the zone to update is the longest `[dns] zones` entry the
domain falls strictly under (`foo.co.tld` is in `co.tld` when both `tld` and `co.tld` are configured). Names
are lowercase A-labels; the text forms here carry no trailing dot (as domains are stored), the
`dns.name.Name` forms are absolute.
"""

from __future__ import annotations

import dns.exception
import dns.name

from domainpriv.config import DnsSettings
from domainpriv.dns.errors import DnsUpdateFailed


def domain_name(domain: str) -> dns.name.Name:
    """The absolute name of an A-label ("foo.tld" or "foo.tld."). Raises ValueError on anything else."""
    text = domain.strip().lower().rstrip(".")
    if not text or not text.isascii():
        raise ValueError(f"not a domain name in A-label form: {domain!r}")
    try:
        return dns.name.from_text(text, origin=dns.name.root)
    except dns.exception.DNSException as exc:
        raise ValueError(f"not a domain name in A-label form: {domain!r} ({exc})") from None


def name_text(name: dns.name.Name) -> str:
    """The stored text form of a name: lowercase, no trailing dot ("foo.tld")."""
    return name.to_text(omit_final_dot=True)


def server_label(settings: DnsSettings) -> str:
    """host:port as messages name the server ([::1]:53 for an IPv6 address)."""
    host = f"[{settings.server}]" if ":" in settings.server else settings.server
    return f"{host or '(none)'}:{settings.port}"


def zone_for(settings: DnsSettings, domain: str) -> str:
    """The longest configured zone `domain` falls strictly under, e.g. "tld.test" (no trailing dot).

    Raises DnsUpdateFailed (reason "outside-zones", not retryable) when there is none, ValueError when `domain` or
    a configured zone is not an A-label.
    """
    name = domain_name(domain)
    best: dns.name.Name | None = None
    for zone in settings.zones:
        try:
            candidate = domain_name(zone)
        except ValueError:
            raise ValueError(f"[dns] zones: {zone!r} is not a zone name in A-label form") from None
        if name != candidate and name.is_subdomain(candidate) and (best is None or len(candidate) > len(best)):
            best = candidate
    if best is None:
        configured = ", ".join(settings.zones) or "none"
        raise DnsUpdateFailed(
            server=server_label(settings),
            zone="",
            reason="outside-zones",
            problem=f"{name_text(name)} is not below any configured zone ([dns] zones: {configured})",
        )
    return name_text(best)
