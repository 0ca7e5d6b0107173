"""Deactivation against a real Knot DNS server on loopback (TSIG-signed RFC 2136), on both database backends: the
escalation suspends the delegation and the hold shows in WHOIS; reactivation restores exactly the saved rrsets
and statuses; a wrong key leaves a visible retry state, the sweep finishes it once the key is right. And the
`unprivacy` deactivation withdraws the proxy through the registration service and restores it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from domainpriv.cases import act, get_case, process_due
from domainpriv.config import Settings
from domainpriv.dns import read_delegation
from domainpriv.registration import services as registration
from domainpriv.store import PrivacyMode, UnitOfWork
from support import dns_server
from support.builders import make_contact, make_domain
from support.dns_server import DnsServer
from tests.integration.cases.conftest import STAFF, World, case_settings, open_complaint

knot_dns = dns_server.knot_dns
FOO = "foo.tld.test"


def dns_settings(tmp_path: Path, server: DnsServer, **dns: Any) -> Settings:
    base = case_settings(tmp_path, deactivation="hold-and-dns")
    return base.model_copy(update={"dns": server.settings(**dns)})


def escalated(uow: UnitOfWork, settings: Settings, clock: Any) -> int:
    """A complaint about foo.tld.test whose deadline passed: the sweep deactivates it."""
    reg = make_contact(uow, "cust-1", "REG-FOO")
    make_domain(uow, FOO, account="cust-1", registrant=reg.handle, mode=PrivacyMode.PROXY,
                nameservers=[("ns1.foo.tld.test", ["192.0.2.53"]), ("ns2.example.net", [])])  # fmt: skip
    case = open_complaint(uow, settings, domain=FOO)
    act(uow, case.id, "accept", settings=settings, actor=STAFF)
    act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    clock.advance(days=30)
    return case.id


def test_deactivation_suspends_the_delegation_and_reactivation_restores_exactly_what_was_there(
    uow: UnitOfWork, tmp_path: Path, world: World, knot_dns: DnsServer, clock: Any
) -> None:
    settings = dns_settings(tmp_path, knot_dns)
    before = read_delegation(settings.dns, FOO)
    assert not before.empty
    case_id = escalated(uow, settings, clock)
    statuses_before = registration.get_domain(uow, name=FOO).statuses
    report = process_due(uow, settings, clock.now)
    assert report.lines[-1].endswith(f": delegation of {FOO} suspended")
    assert read_delegation(settings.dns, FOO).empty  # no referral any more
    case = get_case(uow, case_id, actor=STAFF)
    (d,) = case.deactivations
    assert (case.state, d.state, d.dns, d.statuses_added) == ("deactivated", "active", "suspended", ("clientHold",))
    assert "clientHold" in registration.get_domain(uow, name=FOO).statuses
    assert [e.action for e in case.history][-3:] == ["deadline-passed", "deactivate", "dns-suspend"]

    back = act(uow, case_id, "reactivate", settings=settings, actor=STAFF, reason="assurances after all")
    assert back.state == "reactivated" and back.deactivations[0].state == "restored"
    assert back.deactivations[0].dns == "restored"
    assert read_delegation(settings.dns, FOO) == before  # the same rrsets and TTLs
    assert registration.get_domain(uow, name=FOO).statuses == statuses_before


def test_a_wrong_key_leaves_a_visible_retry_state_that_the_sweep_finishes_once_the_key_is_right(
    uow: UnitOfWork, tmp_path: Path, world: World, knot_dns: DnsServer, clock: Any
) -> None:
    good = dns_settings(tmp_path, knot_dns)
    wrong = dns_settings(tmp_path, knot_dns, tsig_secret="d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCE=")
    before = read_delegation(good.dns, FOO)
    case_id = escalated(uow, wrong, clock)
    report = process_due(uow, wrong, clock.now)
    assert any("failed (key-rejected)" in line for line in report.lines)
    case = get_case(uow, case_id, actor=STAFF)
    (d,) = case.deactivations
    assert case.state == "deactivated" and d.dns == "suspending" and d.dns_attempts == 1
    assert d.dns_last_error is not None and "domainpriv-test" in d.dns_last_error  # names the key, not the secret
    assert "d3Jvbmcg" not in d.dns_last_error and case.due_at == d.dns_next_attempt_at
    assert read_delegation(good.dns, FOO) == before  # nothing half done
    assert process_due(uow, good, clock.now).acted == 0  # not before the pause
    clock.advance(minutes=15)
    assert process_due(uow, good, clock.now).lines == (f"case {case.reference}: delegation of {FOO} suspended",)
    assert read_delegation(good.dns, FOO).empty
    done = get_case(uow, case_id, actor=STAFF)
    assert done.deactivations[0].dns == "suspended" and done.due_at is None
    assert [e.action for e in done.history].count("dns-failed") == 1


def test_unprivacy_withdraws_the_proxy_and_reactivation_puts_it_back(
    uow: UnitOfWork, tmp_path: Path, world: World, clock: Any
) -> None:
    settings = case_settings(tmp_path, deactivation="hold-and-unprivacy")
    case = open_complaint(uow, settings)
    act(uow, case.id, "accept", settings=settings, actor=STAFF)
    act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    clock.advance(days=30)
    process_due(uow, settings, clock.now)
    record = registration.get_domain(uow, name="shop.example")
    assert record.privacy_mode is PrivacyMode.REDACTED and "clientHold" in record.statuses  # no consent: redacted
    (d,) = get_case(uow, case.id, actor=STAFF).deactivations
    assert (d.privacy_before, d.privacy_set) == ("proxy", "redacted")
    act(uow, case.id, "reactivate", settings=settings, actor=STAFF, reason="resolved")
    record = registration.get_domain(uow, name="shop.example")
    assert record.privacy_mode is PrivacyMode.PROXY and record.statuses == ("ok",)
