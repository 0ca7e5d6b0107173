"""What a suspension removed from the zone, kept so that a restore puts back exactly that (pure, no I/O).

A :class:`SavedDelegation` holds the rrsets at and below the cut: NS and DS at the domain, glue A/AAAA at name
servers below it, each with its TTL and its rdata in presentation format. The cases code stores it as JSON, so
`to_json`/`from_json` are a symmetric pair (STYLE §3): `from_json(to_json(s)) == s` and `to_json(from_json(j))
== j` for every `j` that `to_json` wrote. The constructor puts everything in one canonical form (lowercase
absolute owner names, rdata as dnspython writes it, sorted), so two readings of the same zone data compare
equal whatever order the server sent them in; it refuses what a restore must never send (another type, a name
outside the domain, a TTL out of range).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdataset
import dns.rdatatype

from domainpriv.dns.zones import domain_name, name_text

AT_CUT = ("NS", "DS")  # the delegation proper, owned by the domain name
GLUE = ("A", "AAAA")  # addresses of name servers below the cut
MAX_TTL = 2**31 - 1  # RFC 2181 §8


@dataclass(frozen=True, slots=True)
class SavedRRset:
    """One rrset: absolute owner name ("ns1.foo.tld."), type ("NS"), TTL in seconds, rdata in presentation format."""

    name: str
    type: str
    ttl: int
    rdata: tuple[str, ...]

    def __post_init__(self) -> None:
        owner = domain_name(self.name)
        rdtype = self.type.upper()
        if rdtype not in AT_CUT + GLUE:
            raise ValueError(f"{self.name} {self.type}: only NS, DS, A and AAAA are part of a delegation")
        if isinstance(self.ttl, bool) or not isinstance(self.ttl, int) or not 0 <= self.ttl <= MAX_TTL:
            raise ValueError(f"{self.name} {rdtype}: TTL must be an integer from 0 to {MAX_TTL}, not {self.ttl!r}")
        if not self.rdata:
            raise ValueError(f"{self.name} {rdtype}: an rrset has at least one record")
        canonical = sorted({_canonical_rdata(rdtype, text, self.name) for text in self.rdata})
        object.__setattr__(self, "name", owner.to_text())
        object.__setattr__(self, "type", rdtype)
        object.__setattr__(self, "rdata", tuple(canonical))

    @property
    def owner(self) -> dns.name.Name:
        return dns.name.from_text(self.name)

    def rdataset(self, ttl: int | None = None) -> dns.rdataset.Rdataset:
        """The records as dnspython's rdataset with their TTL, or `ttl` (a prerequisite's is 0: RFC 2136 §2.4)."""
        return dns.rdataset.from_text_list(dns.rdataclass.IN, self.type, self.ttl if ttl is None else ttl, self.rdata)

    @classmethod
    def of(cls, name: dns.name.Name, rdataset: dns.rdataset.Rdataset) -> SavedRRset:
        """The saved form of an rrset read from the server."""
        texts = tuple(rd.to_text(origin=None, relativize=False) for rd in rdataset)
        return cls(name.to_text(), dns.rdatatype.to_text(rdataset.rdtype), int(rdataset.ttl), texts)


@dataclass(frozen=True, slots=True)
class SavedDelegation:
    """The delegation of `domain` in `zone` (both without trailing dot) as it was read; empty: nothing there."""

    zone: str
    domain: str
    rrsets: tuple[SavedRRset, ...] = field(default=())

    def __post_init__(self) -> None:
        zone, domain = domain_name(self.zone), domain_name(self.domain)
        if domain == zone or not domain.is_subdomain(zone):
            raise ValueError(f"{self.domain} is not below the zone {self.zone}")
        seen: set[tuple[str, str]] = set()
        for rrset in self.rrsets:
            if not isinstance(rrset, SavedRRset):
                raise ValueError(f"not a SavedRRset: {rrset!r}")
            owner = rrset.owner
            if rrset.type in AT_CUT and owner != domain:
                raise ValueError(f"{rrset.name} {rrset.type}: NS and DS belong at the cut {name_text(domain)}")
            if rrset.type in GLUE and (owner == domain or not owner.is_subdomain(domain)):
                raise ValueError(f"{rrset.name} {rrset.type}: glue must be below {name_text(domain)}")
            if (rrset.name, rrset.type) in seen:
                raise ValueError(f"{rrset.name} {rrset.type}: appears twice")
            seen.add((rrset.name, rrset.type))
        object.__setattr__(self, "zone", name_text(zone))
        object.__setattr__(self, "domain", name_text(domain))
        object.__setattr__(self, "rrsets", tuple(sorted(self.rrsets, key=_order)))

    @property
    def empty(self) -> bool:
        """True when there was no delegation (nothing to restore)."""
        return not self.rrsets

    def to_json(self) -> dict[str, Any]:
        return {
            "zone": self.zone,
            "domain": self.domain,
            "rrsets": [{"name": r.name, "type": r.type, "ttl": r.ttl, "rdata": list(r.rdata)} for r in self.rrsets],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SavedDelegation:
        """The inverse of `to_json`. Raises ValueError naming what is missing or wrong."""
        try:
            if set(data) != {"zone", "domain", "rrsets"}:
                raise ValueError(f"expected the keys domain, rrsets, zone; got {', '.join(sorted(data))}")
            rrsets = []
            for item in data["rrsets"]:
                if set(item) != {"name", "type", "ttl", "rdata"}:
                    raise ValueError(f"an rrset has the keys name, rdata, ttl, type; got {', '.join(sorted(item))}")
                if not isinstance(item["rdata"], list) or not all(isinstance(t, str) for t in item["rdata"]):
                    raise ValueError(f"{item['name']} {item['type']}: rdata must be a list of strings")
                rrsets.append(SavedRRset(item["name"], item["type"], item["ttl"], tuple(item["rdata"])))
            return cls(data["zone"], data["domain"], tuple(rrsets))
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"not a saved delegation: {exc}") from None


def _canonical_rdata(rdtype: str, text: str, owner: str) -> str:
    if not isinstance(text, str):
        raise ValueError(f"{owner} {rdtype}: rdata must be text, not {text!r}")
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=dns.name.root, relativize=False)
    except dns.exception.DNSException as exc:
        raise ValueError(f"{owner} {rdtype}: bad rdata {text!r} ({exc})") from None
    canonical: str = rdata.to_text(origin=None, relativize=False)
    return canonical.lower() if rdtype == "NS" else canonical  # names compare case-insensitively (RFC 4343)


def _order(rrset: SavedRRset) -> tuple[int, dns.name.Name, int]:
    """NS before DS at the cut, then glue by name (A before AAAA)."""
    rank = (AT_CUT + GLUE).index(rrset.type)
    return (0 if rrset.type in AT_CUT else 1, rrset.owner, rank)
