"""Suspending and restoring delegations against real servers, Knot DNS and BIND (tests/support/dns_server.py).

What the server answers afterwards is checked with plain dnspython queries, as a resolver walking down from the
parent would ask: no referral once suspended, the same rrsets and TTLs once restored. Failures (a wrong key, a
server that is not there or does not answer, a change made between the read and the update) leave the zone as
it was, which the SOA serial proves.
"""

from __future__ import annotations

import base64
import logging
import os
import socket
import time
from collections.abc import Iterator
from typing import Any

import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.tsig
import dns.update
import pytest

from domainpriv.dns import (
    DnsUpdateFailed,
    SavedDelegation,
    read_delegation,
    restore_delegation,
    suspend_delegation,
    zone_for,
)
from domainpriv.dns.delegation import add_delegation, delete_delegation
from support import dns_server
from support.dns_server import DnsServer
from support.ports import HOST, free_port

authoritative_dns = dns_server.authoritative_dns  # the shared fixture: Knot, then BIND


@pytest.fixture
def server(authoritative_dns: DnsServer) -> DnsServer:
    return authoritative_dns


FOO = {
    "zone": "tld.test",
    "domain": "foo.tld.test",
    "rrsets": [
        {"name": "foo.tld.test.", "type": "NS", "ttl": 86400, "rdata": ["ns1.foo.tld.test.", "ns2.example.net."]},
        {
            "name": "foo.tld.test.",
            "type": "DS",
            "ttl": 7200,
            "rdata": ["12345 13 2 8a2f1c3f3c9a3f6e2d1b0c4a5e6f7081920a1b2c3d4e5f60718293a4b5c6d7e8"],
        },
        {"name": "ns1.foo.tld.test.", "type": "A", "ttl": 1800, "rdata": ["192.0.2.53", "192.0.2.54"]},
        {"name": "ns1.foo.tld.test.", "type": "AAAA", "ttl": 900, "rdata": ["2001:db8::53"]},
    ],
}


def signed_update(server: DnsServer) -> dns.update.UpdateMessage:
    """An UPDATE signed with the server's key: another writer changing the zone behind our back."""
    key = dns.tsig.Key(server.key_name, base64.b64decode(server.secret), server.algorithm)
    return dns.update.UpdateMessage(server.zone, keyring={key.name: key}, keyname=key.name)


def send(server: DnsServer, update: dns.update.UpdateMessage) -> None:
    response = dns.query.tcp(update, server.host, port=server.port, timeout=2)
    assert response.rcode() == dns.rcode.NOERROR


def referral_ns(response: dns.message.Message, owner: str) -> list[str]:
    """The NS targets a referral to `owner` names (the authority section; RFC 1034 §4.3.2)."""
    name = dns.name.from_text(owner)
    ns = [rrset for rrset in response.authority if rrset.name == name and rrset.rdtype == dns.rdatatype.NS]
    return sorted(rd.to_text() for rrset in ns for rd in rrset)


def assert_no_referral(server: DnsServer, domain: str) -> None:
    for qname, rdtype in ((domain, "NS"), (f"www.{domain}", "A"), (domain, "DS")):
        response = server.query(qname + ".", rdtype)
        assert response.rcode() == dns.rcode.NXDOMAIN, (qname, rdtype, response)
        assert not response.answer
        assert [r.rdtype for r in response.authority] == [dns.rdatatype.SOA]  # the parent's own negative answer
        assert response.authority[0].name == dns.name.from_text(server.zone + ".")


def test_read_delegation_returns_ns_ds_and_glue_with_their_ttls(server: DnsServer) -> None:
    saved = read_delegation(server.settings(), "foo.tld.test")
    assert saved.to_json() == FOO
    assert read_delegation(server.settings(), "bar.tld.test").to_json()["rrsets"] == [
        {"name": "bar.tld.test.", "type": "NS", "ttl": 3600, "rdata": ["ns1.example.net.", "ns2.example.net."]}
    ]


def test_read_delegation_of_a_name_that_is_not_delegated_is_empty(server: DnsServer) -> None:
    assert read_delegation(server.settings(), "www.tld.test").empty
    assert read_delegation(server.settings(), "never-registered.tld.test").empty


def test_suspend_removes_the_delegation_in_one_update(server: DnsServer) -> None:
    www = server.query("www.foo.tld.test.", "A")
    assert referral_ns(www, "foo.tld.test.") == ["ns1.foo.tld.test.", "ns2.example.net."]  # a referral before
    serial = server.soa_serial()

    saved = suspend_delegation(server.settings(), "foo.tld.test")

    assert saved.to_json() == FOO
    assert_no_referral(server, "foo.tld.test")
    assert server.query("ns1.foo.tld.test.", "A").rcode() == dns.rcode.NXDOMAIN  # the glue went too
    assert server.soa_serial() == serial + 1  # one UPDATE
    assert read_delegation(server.settings(), "bar.tld.test").rrsets  # the neighbours are untouched


def test_restore_brings_back_exactly_the_saved_rrsets_and_ttls(server: DnsServer) -> None:
    before = server.query("foo.tld.test.", "NS")
    saved = suspend_delegation(server.settings(), "foo.tld.test")
    stored = SavedDelegation.from_json(saved.to_json())  # as the cases code keeps it

    restore_delegation(server.settings(), "foo.tld.test", stored)

    assert read_delegation(server.settings(), "foo.tld.test") == saved
    after = server.query("foo.tld.test.", "NS")
    assert sorted(after.authority, key=str) == sorted(before.authority, key=str)  # TTLs included
    assert sorted(after.additional, key=str) == sorted(before.additional, key=str)
    ds = server.query("foo.tld.test.", "DS").answer[0]
    assert ds.ttl == 7200


def test_suspending_a_suspended_domain_returns_empty_and_sends_nothing(server: DnsServer) -> None:
    settings = server.settings()
    suspend_delegation(settings, "foo.tld.test")
    serial = server.soa_serial()

    again = suspend_delegation(settings, "foo.tld.test")

    assert again.empty
    assert again == SavedDelegation("tld.test", "foo.tld.test")
    assert server.soa_serial() == serial


def test_restoring_twice_sends_one_update(server: DnsServer) -> None:
    settings = server.settings()
    saved = suspend_delegation(settings, "foo.tld.test")
    restore_delegation(settings, "foo.tld.test", saved)
    serial = server.soa_serial()

    restore_delegation(settings, "foo.tld.test", saved)  # a retry after a lost answer

    assert server.soa_serial() == serial
    assert read_delegation(settings, "foo.tld.test") == saved


def test_restoring_an_empty_saved_delegation_changes_nothing(server: DnsServer) -> None:
    serial = server.soa_serial()
    restore_delegation(server.settings(), "www.tld.test", SavedDelegation("tld.test", "www.tld.test"))
    assert server.soa_serial() == serial


def test_a_delegation_without_ds_or_glue_suspends_and_restores(server: DnsServer) -> None:
    settings = server.settings()
    saved = suspend_delegation(settings, "bar.tld.test")
    assert [r.type for r in saved.rrsets] == ["NS"]
    assert_no_referral(server, "bar.tld.test")
    restore_delegation(settings, "bar.tld.test", saved)
    assert read_delegation(settings, "bar.tld.test") == saved


def test_an_idn_domain_suspends_and_restores_by_its_a_label(server: DnsServer) -> None:
    settings = server.settings()
    before = read_delegation(settings, "xn--bcher-kva.tld.test")
    assert [(r.name, r.type) for r in before.rrsets] == [
        ("xn--bcher-kva.tld.test.", "NS"),
        ("xn--bcher-kva.tld.test.", "DS"),
        ("ns.xn--bcher-kva.tld.test.", "A"),
    ]
    saved = suspend_delegation(settings, "XN--BCHER-KVA.tld.test.")  # case and final dot do not matter
    assert saved == before
    assert_no_referral(server, "xn--bcher-kva.tld.test")
    restore_delegation(settings, "xn--bcher-kva.tld.test", saved)
    assert read_delegation(settings, "xn--bcher-kva.tld.test") == before


def test_a_u_label_is_refused_rather_than_guessed(server: DnsServer) -> None:
    with pytest.raises(ValueError, match="A-label"):
        suspend_delegation(server.settings(), "bücher.tld.test")


@pytest.mark.parametrize(
    ("override", "words"),
    [
        ({"tsig_secret": base64.b64encode(os.urandom(32)).decode()}, "NOTAUTH (BADSIG)"),
        ({"tsig_key_name": "not-a-key-there"}, "NOTAUTH (BADKEY)"),
        ({"tsig_algorithm": "hmac-sha512"}, "NOTAUTH (BADKEY)"),
    ],
    ids=["wrong-secret", "unknown-key-name", "wrong-algorithm"],
)
def test_a_wrong_tsig_key_is_refused_and_the_zone_is_unchanged(
    server: DnsServer, override: dict[str, Any], words: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before, serial = read_delegation(server.settings(), "foo.tld.test"), server.soa_serial()
    settings = server.settings(**override)

    with pytest.raises(DnsUpdateFailed) as failed:
        suspend_delegation(settings, "foo.tld.test")

    error = failed.value
    assert error.reason == "key-rejected"
    assert error.retryable is False
    assert words in str(error)
    assert f"{HOST}:{server.port}" in str(error)
    assert "zone tld.test" in str(error)
    assert f"'{settings.tsig_key_name}'" in str(error)  # the key by its name ...
    for secret in {settings.tsig_secret, server.secret}:  # ... never by its secret
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in caplog.text
    assert read_delegation(server.settings(), "foo.tld.test") == before
    assert server.soa_serial() == serial


def test_a_key_the_server_knows_but_does_not_allow_to_update_is_refused(server: DnsServer) -> None:
    serial = server.soa_serial()
    settings = server.settings(tsig_key_name=dns_server.DENIED_KEY_NAME, tsig_secret=server.denied_secret)
    with pytest.raises(DnsUpdateFailed, match="not allowed") as failed:
        suspend_delegation(settings, "foo.tld.test")
    # Knot answers an ACL's deny with NOTAUTH/BADKEY, BIND a missing update-policy grant with REFUSED.
    assert failed.value.reason == {"knot": "key-rejected", "bind": "refused"}[server.kind]
    assert not failed.value.retryable
    assert server.soa_serial() == serial


def test_a_server_failure_is_retryable(server: DnsServer) -> None:
    settings = server.settings(zones=(dns_server.BROKEN_ZONE,))  # served, but its zone did not load
    with pytest.raises(DnsUpdateFailed, match="SERVFAIL") as failed:
        suspend_delegation(settings, f"foo.{dns_server.BROKEN_ZONE}")
    assert failed.value.reason == "server-failure"
    assert failed.value.retryable is True
    assert f"zone {dns_server.BROKEN_ZONE}" in str(failed.value)


def test_a_wrong_key_cannot_restore_either(server: DnsServer) -> None:
    saved = suspend_delegation(server.settings(), "foo.tld.test")
    wrong = server.settings(tsig_secret=base64.b64encode(b"x" * 32).decode())
    with pytest.raises(DnsUpdateFailed, match="NOTAUTH") as failed:
        restore_delegation(wrong, "foo.tld.test", saved)
    assert not failed.value.retryable
    assert read_delegation(server.settings(), "foo.tld.test").empty


def test_a_secret_that_is_not_base64_is_named_without_being_shown(server: DnsServer) -> None:
    settings = server.settings(tsig_secret="not*base64!")
    with pytest.raises(DnsUpdateFailed, match="not valid base64") as failed:
        suspend_delegation(settings, "foo.tld.test")
    assert failed.value.reason == "bad-key"
    assert not failed.value.retryable
    assert "not*base64!" not in str(failed.value)


def test_the_secret_is_never_logged(server: DnsServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    settings = server.settings()
    saved = suspend_delegation(settings, "foo.tld.test")
    restore_delegation(settings, "foo.tld.test", saved)
    assert "suspended foo.tld.test" in caplog.text
    assert server.secret not in caplog.text


def test_an_unreachable_server_is_retryable_and_fails_fast(server: DnsServer) -> None:
    port = free_port()  # nothing listens there
    settings = server.settings(port=port, timeout_seconds=2)
    started = time.monotonic()

    with pytest.raises(DnsUpdateFailed) as failed:
        suspend_delegation(settings, "foo.tld.test")

    assert time.monotonic() - started < 2
    assert failed.value.reason == "unreachable"
    assert failed.value.retryable is True
    assert f"DNS server {HOST}:{port}, zone tld.test" in str(failed.value)


def test_the_server_may_be_given_by_host_name(server: DnsServer) -> None:
    settings = server.settings(server="localhost")  # resolved, each address tried (::1 may come first)
    saved = suspend_delegation(settings, "foo.tld.test")
    assert saved.to_json() == FOO
    with pytest.raises(DnsUpdateFailed, match="DNS server localhost:") as failed:
        suspend_delegation(server.settings(server="localhost", port=free_port()), "foo.tld.test")
    assert failed.value.retryable


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (the kernel's backlog) and never answers: a hung server."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_server_that_does_not_answer_times_out_as_retryable(server: DnsServer, silent_port: int) -> None:
    settings = server.settings(port=silent_port, timeout_seconds=0.5)
    started = time.monotonic()

    with pytest.raises(DnsUpdateFailed, match=r"no answer .* within 0.5 seconds") as failed:
        suspend_delegation(settings, "foo.tld.test")

    assert 0.5 <= time.monotonic() - started < 1.5
    assert failed.value.reason == "timeout"
    assert failed.value.retryable is True


def test_a_change_between_read_and_update_is_refused_not_clobbered(server: DnsServer) -> None:
    settings = server.settings()
    saved = read_delegation(settings, "foo.tld.test")
    change = signed_update(server)
    change.add("foo.tld.test.", 300, "NS", "ns3.example.org.")  # the customer's new name server, meanwhile
    send(server, change)
    changed = read_delegation(settings, "foo.tld.test")

    with pytest.raises(DnsUpdateFailed, match="prerequisite failed: NXRRSET") as failed:
        delete_delegation(settings, saved)

    assert failed.value.reason == "prerequisite"
    assert failed.value.retryable is True  # a new read sees the new state
    assert read_delegation(settings, "foo.tld.test") == changed
    assert "ns3.example.org." in changed.rrsets[0].rdata


def test_a_ds_added_between_read_and_update_is_refused_too(server: DnsServer) -> None:
    settings = server.settings()
    saved = read_delegation(settings, "bar.tld.test")  # NS only
    change = signed_update(server)
    change.add("bar.tld.test.", 3600, "DS", "1 13 2 " + "ab" * 32)
    send(server, change)

    with pytest.raises(DnsUpdateFailed, match="YXRRSET"):
        delete_delegation(settings, saved)

    assert [r.type for r in read_delegation(settings, "bar.tld.test").rrsets] == ["NS", "DS"]


def test_a_delegation_put_back_meanwhile_is_not_overwritten_by_a_restore(server: DnsServer) -> None:
    settings = server.settings()
    saved = suspend_delegation(settings, "foo.tld.test")
    change = signed_update(server)
    change.add("foo.tld.test.", 600, "NS", "ns.elsewhere.example.")
    send(server, change)

    with pytest.raises(DnsUpdateFailed, match="delegated differently now") as failed:
        restore_delegation(settings, "foo.tld.test", saved)
    assert failed.value.reason == "conflict"
    assert not failed.value.retryable

    with pytest.raises(DnsUpdateFailed, match="YXRRSET"):  # the same race at the update itself
        add_delegation(settings, saved)
    assert read_delegation(settings, "foo.tld.test").rrsets[0].rdata == ("ns.elsewhere.example.",)


def test_glue_put_back_by_hand_while_suspended_is_not_merged_into(server: DnsServer) -> None:
    settings = server.settings()
    saved = suspend_delegation(settings, "foo.tld.test")
    change = signed_update(server)
    change.add("ns1.foo.tld.test.", 60, "A", "198.51.100.7")
    send(server, change)
    serial = server.soa_serial()

    with pytest.raises(DnsUpdateFailed, match=r"ns1\.foo\.tld\.test\. A exist\(s\) now") as failed:
        restore_delegation(settings, "foo.tld.test", saved)

    assert failed.value.reason == "conflict"
    assert not failed.value.retryable
    assert server.soa_serial() == serial
    assert read_delegation(settings, "foo.tld.test").empty


def test_a_domain_outside_every_configured_zone_gets_a_clear_error(server: DnsServer) -> None:
    settings = server.settings(zones=("tld.test", "other.test"))
    with pytest.raises(DnsUpdateFailed, match=r"foo\.example is not below any configured zone .*: tld\.test, other"):
        zone_for(settings, "foo.example")
    with pytest.raises(DnsUpdateFailed) as failed:
        suspend_delegation(settings, "foo.example")
    assert failed.value.reason == "outside-zones"
    assert not failed.value.retryable
    with pytest.raises(DnsUpdateFailed, match="not below any configured zone"):
        zone_for(settings, "tld.test")  # the apex is no delegation


def test_a_configured_zone_that_is_no_name_is_named_in_the_error(server: DnsServer) -> None:
    with pytest.raises(ValueError, match=r"\[dns\] zones: 'bad\.\.zone'"):
        zone_for(server.settings(zones=("tld.test", "bad..zone")), "foo.tld.test")


def test_zone_for_takes_the_longest_configured_zone(server: DnsServer) -> None:
    settings = server.settings(zones=("test", "tld.test.", "CO.TLD.test"))
    assert zone_for(settings, "foo.tld.test") == "tld.test"
    assert zone_for(settings, "foo.co.tld.test") == "co.tld.test"
    assert zone_for(settings, "co.tld.test") == "tld.test"
    assert zone_for(settings, "foo.xtld.test") == "test"  # label boundaries, not string suffixes


def test_a_zone_the_server_does_not_serve_is_refused(server: DnsServer) -> None:
    settings = server.settings(zones=("other.test",))
    with pytest.raises(DnsUpdateFailed, match="REFUSED") as failed:
        suspend_delegation(settings, "foo.other.test")
    assert failed.value.reason == "refused"
    assert not failed.value.retryable


def test_without_a_configured_server_nothing_is_attempted(server: DnsServer) -> None:
    with pytest.raises(DnsUpdateFailed, match=r"no DNS server is configured") as failed:
        suspend_delegation(server.settings(server=""), "foo.tld.test")
    assert failed.value.reason == "not-configured"
    assert not failed.value.retryable


def test_a_saved_delegation_is_restored_only_to_its_own_domain(server: DnsServer) -> None:
    saved = read_delegation(server.settings(), "foo.tld.test")
    with pytest.raises(ValueError, match=r"for foo\.tld\.test, not bar\.tld\.test"):
        restore_delegation(server.settings(), "bar.tld.test", saved)
