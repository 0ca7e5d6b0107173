"""Suspend and restore a domain's delegation at the registrar's authoritative server (RFC 2136, TSIG-signed).

Deactivating a domain (cases/) removes its delegation from the parent zone, so resolvers no longer get a
referral to the customer's name servers; reactivation puts back exactly what was there. Each step is:

1. **read** the delegation from the server itself (iterative queries over TCP, no zone transfer): the NS rrset
   at the cut (the referral's authority section), the DS rrset (answered authoritatively by the parent), and
   the glue A/AAAA of name servers below the cut (the referral's additional section);
2. send **one** signed UPDATE whose prerequisites (RFC 2136 §2.4) say the data is still as read, so a change
   made in between is refused (YXRRSET/NXRRSET) rather than clobbered, and whose update section deletes (or
   adds back) those rrsets, all or nothing;
3. **verify** by querying again that the server now answers as intended.

Idempotent both ways: suspending what is already gone, and restoring what is already back (the same rrsets and
TTLs), succeed without an UPDATE, so a retry after a lost answer is safe. Prerequisites compare records, not
TTLs (RFC 2136 §3.2.5): a TTL-only change in between is not detected. Failures raise DnsUpdateFailed.
"""

from __future__ import annotations

import logging

import dns.name
import dns.rdatatype
import dns.rrset

from domainpriv.config import DnsSettings
from domainpriv.dns.exchange import Endpoint, endpoint, new_update, query, send_update
from domainpriv.dns.saved import AT_CUT, GLUE, SavedDelegation, SavedRRset
from domainpriv.dns.zones import domain_name, name_text, zone_for

log = logging.getLogger(__name__)


def read_delegation(settings: DnsSettings, domain: str) -> SavedDelegation:
    """The NS, DS and glue rrsets of `domain` as the server answers now (empty when it is not delegated).

    Raises DnsUpdateFailed (not configured, outside the zones, unreachable, timeout, refused), ValueError when
    `domain` is not an A-label.
    """
    ep, name = _target(settings, domain)
    return _read(ep, name)


def suspend_delegation(settings: DnsSettings, domain: str) -> SavedDelegation:
    """Remove the delegation of `domain` from its zone in one signed UPDATE; returns what was removed.

    Already suspended (nothing there): returns an empty SavedDelegation and sends nothing; a caller that retries
    must therefore keep the delegation it saved first, not replace it with the empty one. Raises DnsUpdateFailed:
    the key is rejected, the update is refused, the delegation changed since it was read (nothing is changed),
    the server is unreachable or slow, or it still answers with the delegation afterwards.
    """
    ep, name = _target(settings, domain)
    saved = _read(ep, name)
    if saved.empty:
        return saved
    _delete(ep, saved)
    after = _read(ep, name)
    if not after.empty:
        still = ", ".join(sorted({r.type for r in after.rrsets}))
        raise ep.failed("verification", f"the update was acknowledged but {saved.domain} still has {still}")
    log.info("dns: suspended %s in %s at %s (%d rrsets)", saved.domain, ep.zone, ep.label, len(saved.rrsets))
    return saved


def restore_delegation(settings: DnsSettings, domain: str, saved: SavedDelegation) -> None:
    """Put back exactly the saved rrsets of `domain` (TTLs included) in one signed UPDATE, then verify.

    Already restored (the server answers with exactly `saved`): nothing is sent. An empty `saved` restores
    nothing. Raises ValueError when `saved` is for another domain; DnsUpdateFailed when a different delegation is
    in place ("conflict": it is not overwritten), the update is refused or races a change, the server is
    unreachable, or the server's answer afterwards differs from `saved`.
    """
    ep, name = _target(settings, domain)
    if saved.domain != name_text(name):
        raise ValueError(f"the saved delegation is for {saved.domain}, not {name_text(name)}")
    if saved.empty:
        return
    current = _read(ep, name)
    if current.rrsets == saved.rrsets:
        return
    if not current.empty:
        present = ", ".join(f"{r.name} {r.type}" for r in current.rrsets)
        raise ep.failed("conflict", f"{saved.domain} is delegated differently now ({present}); not overwriting it")
    taken = [f"{r.name} {r.type}" for r in saved.rrsets if r.type in GLUE and _exists(ep, r)]
    if taken:  # records put at a glue name while suspended: visible now, and an add would merge with them
        raise ep.failed("conflict", f"{', '.join(taken)} exist(s) now under {saved.domain}; not overwriting")
    _add(ep, saved)
    after = _read(ep, name)
    if after.rrsets != saved.rrsets:
        raise ep.failed("verification", f"the update was acknowledged but {saved.domain} does not answer as saved")
    log.info("dns: restored %s in %s at %s (%d rrsets)", saved.domain, ep.zone, ep.label, len(saved.rrsets))


def delete_delegation(settings: DnsSettings, saved: SavedDelegation) -> None:
    """One UPDATE: if the data is still exactly `saved` (and nothing more at the cut), delete it; no verification.

    The step of `suspend_delegation` between reading and verifying, on its own so a test can change the zone in
    between. Raises DnsUpdateFailed ("prerequisite" when the data is no longer as read).
    """
    _delete(endpoint(settings, saved.zone), saved)


def add_delegation(settings: DnsSettings, saved: SavedDelegation) -> None:
    """One UPDATE: if nothing is at the cut or at the saved glue names, add the saved rrsets; no verification.

    The step of `restore_delegation` between reading and verifying. Raises DnsUpdateFailed ("prerequisite" when
    something was put there in between).
    """
    _add(endpoint(settings, saved.zone), saved)


def _delete(ep: Endpoint, saved: SavedDelegation) -> None:
    update = new_update(ep)
    for rrset in saved.rrsets:
        update.present(rrset.owner, rrset.rdataset(ttl=0))  # value-dependent: exactly these records (§2.4.2)
    for owner, rdtype in _absent(saved):
        update.absent(owner, rdtype)
    for rrset in saved.rrsets:
        update.delete(rrset.owner, rrset.type)
    send_update(ep, update)


def _add(ep: Endpoint, saved: SavedDelegation) -> None:
    update = new_update(ep)
    domain = domain_name(saved.domain)
    for rdtype in AT_CUT:
        update.absent(domain, rdtype)
    for rrset in saved.rrsets:
        if rrset.type in GLUE:
            update.absent(rrset.owner, rrset.type)
    for rrset in saved.rrsets:
        update.add(rrset.owner, rrset.rdataset())
    send_update(ep, update)


def _target(settings: DnsSettings, domain: str) -> tuple[Endpoint, dns.name.Name]:
    name = domain_name(domain)
    if not settings.configured:
        endpoint(settings, "")  # raises "no DNS server is configured"
    return endpoint(settings, zone_for(settings, domain)), name


def _read(ep: Endpoint, name: dns.name.Name) -> SavedDelegation:
    apex = domain_name(ep.zone)
    if _find(query(ep, apex, dns.rdatatype.SOA).answer, apex, dns.rdatatype.SOA) is None:
        raise ep.failed("refused", f"the server does not serve the zone {ep.zone} (no SOA for it)")
    referral = query(ep, name, dns.rdatatype.NS)
    rrsets: list[SavedRRset] = []
    ns = _find(referral.authority, name, dns.rdatatype.NS) or _find(referral.answer, name, dns.rdatatype.NS)
    if ns is not None:
        rrsets.append(SavedRRset.of(name, ns))
        targets = {rd.target for rd in ns if rd.target != name and rd.target.is_subdomain(name)}
        for target in sorted(targets):
            for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                glue = _find(referral.additional, target, rdtype)
                if glue is not None:
                    rrsets.append(SavedRRset.of(target, glue))
    ds = _find(query(ep, name, dns.rdatatype.DS).answer, name, dns.rdatatype.DS)
    if ds is not None:
        rrsets.append(SavedRRset.of(name, ds))
    return SavedDelegation(ep.zone, name_text(name), tuple(rrsets))


def _exists(ep: Endpoint, rrset: SavedRRset) -> bool:
    """Whether the server has records of this name and type (authoritative data: there is no cut above them)."""
    rdtype = dns.rdatatype.from_text(rrset.type)
    return _find(query(ep, rrset.owner, rdtype).answer, rrset.owner, rdtype) is not None


def _find(
    section: list[dns.rrset.RRset], name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in section:
        if rrset.name == name and rrset.rdtype == rdtype and len(rrset):
            return rrset
    return None


def _absent(saved: SavedDelegation) -> list[tuple[dns.name.Name, str]]:
    """What must not exist for the data to be exactly as read: the types read as missing at the cut, and at each
    in-domain name server without glue of one address family."""
    domain = domain_name(saved.domain)
    have = {(r.owner, r.type) for r in saved.rrsets}
    wanted = [(domain, t) for t in AT_CUT]
    for rrset in saved.rrsets:
        if rrset.type == "NS":
            for text in rrset.rdata:
                target = dns.name.from_text(text)
                if target != domain and target.is_subdomain(domain):
                    wanted += [(target, t) for t in GLUE]
    return [(owner, rdtype) for owner, rdtype in dict.fromkeys(wanted) if (owner, rdtype) not in have]
