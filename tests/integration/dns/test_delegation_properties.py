"""Suspend then restore is the identity, for delegations of every shape, on real Knot and BIND servers.

Hypothesis draws a delegation (NS inside and outside the domain, maybe DS, A/AAAA glue, any TTLs); it is put in
the zone, read back, suspended (the referral is gone) and restored (read back identical). One server per module
and one fresh domain per example, so the examples do not see each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import dns.rcode
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domainpriv.dns import read_delegation, restore_delegation, suspend_delegation
from domainpriv.dns.delegation import add_delegation
from support.dns_server import DnsServer, bind_dns_server, knot_dns_server, saved_delegations

_names = itertools.count()


@pytest.fixture(scope="module", params=["knot", "bind"])
def module_dns(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DnsServer]:
    start = knot_dns_server if request.param == "knot" else bind_dns_server
    folder: Path = tmp_path_factory.mktemp(f"{request.param}-properties")
    with start(folder) as server:
        yield server


@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_suspend_then_restore_puts_back_exactly_what_was_there(module_dns: DnsServer, data: st.DataObject) -> None:
    domain = f"p{next(_names)}.{module_dns.zone}"
    saved = data.draw(saved_delegations(domain, may_be_empty=False))
    config = module_dns.settings()
    add_delegation(config, saved)
    assert read_delegation(config, domain) == saved

    assert suspend_delegation(config, domain) == saved
    assert read_delegation(config, domain).empty
    assert module_dns.query(f"www.{domain}.", "A").rcode() == dns.rcode.NXDOMAIN

    restore_delegation(config, domain, saved)
    assert read_delegation(config, domain) == saved
