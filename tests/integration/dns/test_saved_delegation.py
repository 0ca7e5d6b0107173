"""SavedDelegation as the cases code stores it: JSON that round-trips exactly, and refuses what a restore must not
send. Pure (no server); it sits with the delegation tests because it is their stored form."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

import domainpriv.dns
from domainpriv.dns import SavedDelegation, SavedRRset
from support.dns_server import saved_delegations


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
