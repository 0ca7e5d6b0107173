"""Deterministic sample registration data, as JSON-lines records for the bulk importer.

The same seed always gives the same data, whatever the size, because every customer and every domain draws
from its own seeded generator: the demo, the tests and the 1,000,000-domain benchmark share this code. The data
covers what the later capabilities must handle: every privacy mode (with the consent `public` needs), resellers
with customers, all four contact roles, contacts shared between roles, domains and customers, reseller contacts
used as technical contact, IDN names, and missing optional fields (organisation, fax, state, postal code).
All e-mail addresses are under reserved example domains and all phone numbers are fictitious.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domainpriv.registration.records import iso
from domainpriv.transfer import jsonl

REFERENCE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)  # fixed, so the data never depends on today
DOMAINS_PER_CUSTOMER = 5
CUSTOMERS_PER_RESELLER = 100

_FIRST = [
    "Anna",
    "Ben",
    "Chloé",
    "David",
    "Emma",
    "Farid",
    "Grace",
    "Hiro",
    "Inès",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Noor",
    "Olga",
    "Pablo",
    "Quinn",
    "Rosa",
    "Søren",
    "Tariq",
    "Uma",
    "Zoë",
    "Łukasz",
    "Amélie",
]
_LAST = [
    "Schmidt",
    "Dupont",
    "García",
    "Smith",
    "Tanaka",
    "Kowalski",
    "Rossi",
    "Nguyen",
    "Okafor",
    "Silva",
    "Jensen",
    "Müller",
    "O'Brien",
    "Haddad",
    "Novák",
    "Ivanova",
    "Fernández",
    "Kim",
    "Larsen",
    "Bauer",
]
_ORG_WORDS = ["Alpine", "Harbor", "Cedar", "Nimbus", "Quartz", "Maple", "Orbit", "Lumen", "Falcon", "Juniper"]
_ORG_KINDS = ["GmbH", "SARL", "Ltd", "LLC", "BV", "Inc.", "KK", "S.A."]
_WORDS = [
    "bakery",
    "garden",
    "studio",
    "travel",
    "books",
    "coffee",
    "design",
    "photo",
    "music",
    "bikes",
    "yoga",
    "cloud",
    "craft",
    "pixel",
    "green",
    "solar",
    "dental",
    "legal",
    "pets",
    "wine",
]
_IDN_WORDS = [
    "bücher",
    "café",
    "münchen",
    "straße",
    "españa",
    "français",
    "пример",
    "δοκιμή",
    "例え",
    "テスト",
    "مثال",
    "דוגמה",
    "ñandú",
    "øl",
    "åre",
]
_TLDS = ["com", "net", "org", "shop", "app"]
_STATUS_SETS = [
    ["clientTransferProhibited"],
    ["ok"],
    ["clientDeleteProhibited", "clientTransferProhibited", "clientUpdateProhibited"],
    ["clientHold", "clientTransferProhibited"],
]


@dataclass(frozen=True)
class _Country:
    code: str
    dial: str
    digits: int  # national significant number length
    lead: str  # first digits of a fictitious national number
    states: tuple[str, ...]
    cities: tuple[str, ...]
    postal: bool


_COUNTRIES = [
    _Country("US", "1", 10, "555", ("CA", "NY", "TX", "WA"), ("Springfield", "Riverside", "Fairview"), True),
    _Country("DE", "49", 10, "30", (), ("Berlin", "Köln", "München"), True),
    _Country("FR", "33", 9, "1", (), ("Paris", "Lyon", "Nantes"), True),
    _Country("GB", "44", 10, "20", (), ("London", "Leeds", "Bristol"), True),
    _Country("JP", "81", 10, "3", ("Tokyo", "Osaka"), ("Chiyoda", "Kita"), True),
    _Country("BR", "55", 10, "11", ("SP", "RJ"), ("São Paulo", "Niterói"), True),
    _Country("IE", "353", 9, "1", (), ("Dublin", "Cork", "Galway"), False),
    _Country("CA", "1", 10, "555", ("ON", "QC", "BC"), ("Toronto", "Montréal"), True),
]


@dataclass(frozen=True)
class DemoShape:
    domains: int
    customers: int
    resellers: int

    @classmethod
    def for_domains(cls, domains: int) -> DemoShape:
        customers = max(3, domains // DOMAINS_PER_CUSTOMER)
        return cls(domains, customers, max(2, customers // CUSTOMERS_PER_RESELLER))


def demo_records(domains: int, seed: int = 1) -> Iterator[dict[str, Any]]:
    """Every record of the demo data set, in an order the importer accepts."""
    shape = DemoShape.for_domains(domains)
    yield jsonl.HEADER
    yield {
        "type": "account",
        "handle": "staff-ops",
        "kind": "staff",
        "parent": None,
        "name": "Operations Desk",
        "email": "ops@registrar.example",
        "created_at": iso(REFERENCE_TIME - timedelta(days=3650)),
    }
    for r in range(shape.resellers):
        yield _reseller(r)
    for c in range(shape.customers):
        yield _customer(shape, seed, c)
    for c in range(shape.customers):
        if _consents_to_publish(seed, c):
            yield {
                "type": "consent",
                "account": _customer_handle(c),
                "purpose": "publish_contact_data",
                "granted": True,
                "recorded_at": iso(REFERENCE_TIME - timedelta(days=30)),
                "source": "portal",
            }
    for r in range(shape.resellers):
        yield _contact(seed, f"R{r:07d}", _reseller_handle(r), random.Random(f"{seed}:r:{r}"), org_always=True)
    for c in range(shape.customers):
        rng = random.Random(f"{seed}:c:{c}")
        for k in range(_contact_count(seed, c)):
            yield _contact(seed, _contact_handle(c, k), _customer_handle(c), rng)
    for d in range(domains):
        yield _domain(shape, seed, d)


# The demo's portal logins (`demo load` sets their passwords, `demo summary` prints them): a customer who buys
# through a reseller, and that reseller. Demo data only: never on a production database.
DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 - printed by make run, on purpose
DEMO_LOGINS = (("customer", "cust-0000001"), ("reseller", "reseller-0001"))


def _reseller_handle(r: int) -> str:
    return f"reseller-{r:04d}"


def _customer_handle(c: int) -> str:
    return f"cust-{c:07d}"


def _contact_handle(c: int, k: int) -> str:
    return f"C{c:07d}-{k}"


def _reseller(r: int) -> dict[str, Any]:
    return {
        "type": "account",
        "handle": _reseller_handle(r),
        "kind": "reseller",
        "parent": None,
        "name": f"{_ORG_WORDS[r % len(_ORG_WORDS)]} Hosting {r}",
        "email": f"reseller{r}@hosting.example",
        "created_at": iso(REFERENCE_TIME - timedelta(days=3000 - r)),
    }


def _reseller_of(shape: DemoShape, c: int) -> int | None:
    """Three customers in five buy through a reseller."""
    return None if c % 5 in (0, 3) else c % shape.resellers


def _customer(shape: DemoShape, seed: int, c: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:a:{c}")
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    reseller = _reseller_of(shape, c)
    return {
        "type": "account",
        "handle": _customer_handle(c),
        "kind": "customer",
        "parent": None if reseller is None else _reseller_handle(reseller),
        "name": f"{first} {last}",
        "email": f"{_ascii(first)}.{_ascii(last)}.{c}@mail.example",
        "created_at": iso(REFERENCE_TIME - timedelta(days=rng.randrange(30, 8000))),
    }


def _consents_to_publish(seed: int, c: int) -> bool:
    return random.Random(f"{seed}:p:{c}").random() < 0.3


def _contact_count(seed: int, c: int) -> int:
    return 1 + int(random.Random(f"{seed}:n:{c}").random() ** 2 * 3)  # 1, sometimes 2, rarely 3


def _contact(seed: int, handle: str, account: str, rng: random.Random, org_always: bool = False) -> dict[str, Any]:
    country = rng.choice(_COUNTRIES)
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    has_org = org_always or rng.random() < 0.4
    street = [f"{rng.randrange(1, 300)} {rng.choice(_WORDS).title()} Street"]
    if rng.random() < 0.3:
        street.append(f"Floor {rng.randrange(1, 20)}")
    if rng.random() < 0.1:
        street.append(f"c/o {rng.choice(_LAST)}")
    national = country.lead + "".join(str(rng.randrange(10)) for _ in range(country.digits - len(country.lead)))
    return {
        "type": "contact",
        "handle": handle,
        "account": account,
        "name": f"{first} {last}",
        "org": f"{rng.choice(_ORG_WORDS)} {rng.choice(_WORDS).title()} {rng.choice(_ORG_KINDS)}" if has_org else None,
        "street": street,
        "city": rng.choice(country.cities),
        "state": rng.choice(country.states) if country.states else None,
        "postal_code": f"{rng.randrange(10000, 99999)}" if country.postal else None,
        "country": country.code,
        "phone": f"+{country.dial}.{national}",
        "phone_ext": str(rng.randrange(10, 999)) if rng.random() < 0.1 else None,
        "fax": f"+{country.dial}.{national[:-1]}9" if rng.random() < 0.15 else None,
        "fax_ext": None,
        "email": f"{_ascii(first)}.{_ascii(last)}@{handle.lower()}.example",
        "verified_at": iso(REFERENCE_TIME - timedelta(days=rng.randrange(1, 900))) if rng.random() < 0.8 else None,
        "created_at": iso(REFERENCE_TIME - timedelta(days=1000)),
        "updated_at": iso(REFERENCE_TIME - timedelta(days=rng.randrange(1, 1000))),
    }


def _domain(shape: DemoShape, seed: int, d: int) -> dict[str, Any]:
    rng = random.Random(f"{seed}:d:{d}")
    c = d % shape.customers if d < shape.customers else int(rng.random() ** 2 * shape.customers)
    owner = _customer_handle(c)
    n_contacts = _contact_count(seed, c)
    contacts = [_contact_handle(c, k) for k in range(n_contacts)]
    reseller = _reseller_of(shape, c)
    tech = contacts[-1]
    if reseller is not None and rng.random() < 0.5:
        tech = f"R{reseller:07d}"  # the reseller's own contact, shared by many customers
    tld = _TLDS[d % len(_TLDS)]
    word = _IDN_WORDS[d // 10 % len(_IDN_WORDS)] if d % 10 == 7 else rng.choice(_WORDS)
    created = REFERENCE_TIME - timedelta(days=rng.randrange(1, 9000), seconds=rng.randrange(86400))
    expires = (
        created.replace(year=REFERENCE_TIME.year + 1 + rng.randrange(3))
        if created.month != 2
        else (created.replace(year=REFERENCE_TIME.year + 1, day=1))
    )
    mode = ("redacted", "proxy", "redacted", "proxy", "redacted")[d % 5]
    if d % 7 == 3 and _consents_to_publish(seed, c):
        mode = "public"
    if rng.random() < 0.5:
        nameservers = [{"host": f"ns{i}.registrar-dns.example", "addresses": []} for i in (1, 2)]
    else:
        nameservers = [
            {"host": f"ns1.{word}-{d}.{tld}", "addresses": [f"192.0.2.{d % 250 + 1}"]},
            {"host": f"ns2.{word}-{d}.{tld}", "addresses": [f"2001:db8::{d % 65536:x}"]},
        ]
    return {
        "type": "domain",
        "name": f"{word}-{d}.{tld}",
        "account": owner,
        "registry_domain_id": f"{4_000_000 + d}_DOMAIN_{tld.upper()}-DEMO",
        "created_at": iso(created),
        "expires_at": iso(expires),
        "updated_at": iso(min(created + timedelta(days=rng.randrange(0, 365)), REFERENCE_TIME)),
        "statuses": _STATUS_SETS[0 if rng.random() < 0.7 else rng.randrange(len(_STATUS_SETS))],
        "ds_records": _ds_records(rng) if rng.random() < 0.1 else [],
        "privacy_mode": mode,
        "relay_alias": None,
        "contacts": {
            "registrant": contacts[0],
            "admin": contacts[min(1, n_contacts - 1)],
            "tech": tech,
            "billing": contacts[0] if rng.random() < 0.8 else None,
        },
        "nameservers": nameservers,
    }


def _ds_records(rng: random.Random) -> list[dict[str, Any]]:
    """One DS record (ECDSA P-256, SHA-256 digest) with a made-up digest."""
    digest = "".join(rng.choice("0123456789ABCDEF") for _ in range(64))
    return [{"key_tag": rng.randrange(65536), "algorithm": 13, "digest_type": 2, "digest": digest}]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded.lower() if ch.isalnum()) or "x"
