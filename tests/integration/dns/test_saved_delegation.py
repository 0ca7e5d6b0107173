"""SavedDelegation as the cases code stores it: JSON that round-trips exactly, and refuses what a restore must not
send. Pure (no server); it sits with the delegation tests because it is their stored form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import domainpriv.dns
from domainpriv.dns import SavedDelegation, SavedRRset

LABEL = st.from_regex(r"\A(xn--)?[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?\Z")
HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
TTL = st.integers(min_value=0, max_value=2**31 - 1)


@st.composite
def saved_delegations(draw: st.DrawFn) -> SavedDelegation:
    zone = ".".join(draw(st.lists(LABEL, min_size=1, max_size=2)))
    domain = f"{draw(LABEL)}.{zone}"
    rrsets: list[SavedRRset] = []
    if draw(st.booleans()):  # an empty one is a suspended domain's (nothing to restore)
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
        for label in inside:
            v4 = st.ip_addresses(v=4).map(str)
            v6 = st.ip_addresses(v=6).map(lambda a: a.compressed)
            for rdtype, address in (("A", v4), ("AAAA", v6)):
                if draw(st.booleans()):
                    rdata = tuple(draw(st.lists(address, min_size=1, max_size=3)))
                    rrsets.append(SavedRRset(f"{label}.{domain}.", rdtype, draw(TTL), rdata))
    draw(st.randoms()).shuffle(rrsets)  # the order the server sent them in does not matter
    return SavedDelegation(zone, domain, tuple(rrsets))


@given(saved_delegations())
def test_saved_delegation_round_trips_through_json(saved: SavedDelegation) -> None:
    stored = json.loads(json.dumps(saved.to_json()))  # as a JSON column keeps it
    again = SavedDelegation.from_json(stored)
    assert again == saved
    assert again.to_json() == stored


@given(saved_delegations())
def test_the_same_data_in_any_order_or_case_is_equal(saved: SavedDelegation) -> None:
    shuffled = tuple(
        SavedRRset(r.name.upper(), r.type.lower(), r.ttl, tuple(reversed(r.rdata))) for r in reversed(saved.rrsets)
    )
    assert SavedDelegation(saved.zone.upper() + ".", saved.domain.upper(), shuffled) == saved


def test_to_json_is_plain_and_canonical() -> None:
    saved = SavedDelegation(
        "TLD.test.",
        "Foo.tld.test",
        (
            SavedRRset("ns1.foo.tld.test", "a", 60, ("192.0.2.2", "192.0.2.1")),
            SavedRRset("foo.tld.test.", "DS", 3600, ("1 13 2 " + "AB" * 32,)),
            SavedRRset("foo.tld.test.", "NS", 86400, ("NS1.foo.tld.test.", "ns2.example.net.")),
        ),
    )
    assert saved.to_json() == {
        "zone": "tld.test",
        "domain": "foo.tld.test",
        "rrsets": [
            {"name": "foo.tld.test.", "type": "NS", "ttl": 86400, "rdata": ["ns1.foo.tld.test.", "ns2.example.net."]},
            {"name": "foo.tld.test.", "type": "DS", "ttl": 3600, "rdata": ["1 13 2 " + "ab" * 32]},
            {"name": "ns1.foo.tld.test.", "type": "A", "ttl": 60, "rdata": ["192.0.2.1", "192.0.2.2"]},
        ],
    }
    assert not saved.empty
    assert SavedDelegation("tld.test", "foo.tld.test").empty


def good() -> dict[str, Any]:
    return {
        "zone": "tld.test",
        "domain": "foo.tld.test",
        "rrsets": [{"name": "foo.tld.test.", "type": "NS", "ttl": 3600, "rdata": ["ns1.example.net."]}],
    }


def with_rrset(**changes: Any) -> dict[str, Any]:
    data = good()
    data["rrsets"][0].update(changes)
    return data


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"zone": "tld.test", "domain": "foo.tld.test"}, "expected the keys"),
        ({**good(), "extra": 1}, "expected the keys"),
        ({**good(), "domain": "foo.other.test"}, "not below the zone"),
        ({**good(), "domain": "tld.test"}, "not below the zone"),
        ({**good(), "domain": "bücher.tld.test"}, "A-label"),
        (with_rrset(type="TXT"), "only NS, DS, A and AAAA"),
        (with_rrset(ttl=-1), "TTL"),
        (with_rrset(ttl=2**31), "TTL"),
        (with_rrset(ttl="3600"), "TTL"),
        (with_rrset(ttl=True), "TTL"),
        (with_rrset(rdata=[]), "at least one record"),
        (with_rrset(rdata="ns1.example.net."), "list of strings"),
        (with_rrset(rdata=["not a name at all!"]), "bad rdata"),
        (with_rrset(name="www.foo.tld.test."), "belong at the cut"),
        (with_rrset(name="ns.foo.tld.test.", type="NS"), "belong at the cut"),
        (with_rrset(type="A", rdata=["192.0.2.1"]), "glue must be below"),
        (with_rrset(name="ns.other.test.", type="A", rdata=["192.0.2.1"]), "glue must be below"),
        (with_rrset(type="A", name="ns.foo.tld.test.", rdata=["2001:db8::1"]), "bad rdata"),
        ({**good(), "rrsets": good()["rrsets"] * 2}, "appears twice"),
        ({**good(), "rrsets": [{"name": "foo.tld.test."}]}, "an rrset has the keys"),
        ({**good(), "rrsets": None}, "not a saved delegation"),
    ],
)
def test_from_json_refuses_what_a_restore_must_not_send(data: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        SavedDelegation.from_json(data)


def test_the_package_exports_exactly_its_interface() -> None:
    assert sorted(domainpriv.dns.__all__) == [
        "DnsUpdateFailed",
        "SavedDelegation",
        "SavedRRset",
        "read_delegation",
        "restore_delegation",
        "suspend_delegation",
        "zone_for",
    ]
    for name in domainpriv.dns.__all__:
        assert hasattr(domainpriv.dns, name)
