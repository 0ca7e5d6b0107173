"""The no-leak property end to end: generated hostile contacts stored in the database, then every byte the
running WHOIS server and the RDAP application send (bodies, headers, errors) and every log line they write.
On SQLite and PostgreSQL, with the record cache on, as the daemon runs them."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from domainpriv.audit import Actor
from domainpriv.config import load_settings
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.rdap_app import RdapApp
from domainpriv.registration import services
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import validate_contact
from domainpriv.store import AccountKind, PrivacyMode, UnitOfWork
from support.feeds import followed_cache
from support.hostile import assert_absent, hostile_contact
from support.whois_fixtures import ServerThread, query_raw, running_whois, whois_settings

ACTOR = Actor("staff", "no-leak")
_serial = itertools.count(1)


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def logs() -> Iterator[Captured]:
    handler = Captured()
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s %(args)s"))
    root = logging.getLogger("domainpriv")
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


@pytest.fixture
def source(uow: UnitOfWork, engine: Engine) -> Iterator[DatabaseSource]:
    with followed_cache(engine) as (cache, _):
        yield DatabaseSource(uow, publication_policy(load_settings(environ={})), cache)


@pytest.fixture
def whois(source: DatabaseSource) -> Iterator[ServerThread]:
    with running_whois(source, whois_settings(rate_burst=100_000)) as server:
        yield server


@pytest.fixture
def rdap(source: DatabaseSource) -> Iterator[RdapApp]:
    app = RdapApp(load_settings(environ={}).rdap.model_copy(update={"rate_burst": 100_000}), source)
    yield app
    app.close()


def rdap_exchanges(app: RdapApp, paths: list[str]) -> list[bytes]:
    async def go() -> list[bytes]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            out = []
            for path in paths:
                for method in ("GET", "HEAD"):
                    response = await http.request(method, path)
                    out.append(response.content)
                    out.append("\n".join(f"{k}: {v}" for k, v in response.headers.items()).encode())
            return out

    return asyncio.run(go())


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    registrant=hostile_contact("rg"),
    tech=hostile_contact("tc"),
    mode=st.sampled_from([PrivacyMode.PROXY, PrivacyMode.REDACTED]),
)
def test_no_hidden_value_in_any_byte_header_error_or_log_line(
    uow: UnitOfWork,
    whois: ServerThread,
    rdap: RdapApp,
    logs: Captured,
    registrant: tuple[dict[str, Any], dict[str, str]],
    tech: tuple[dict[str, Any], dict[str, str]],
    mode: PrivacyMode,
) -> None:
    try:
        reg_data, tech_data = validate_contact(registrant[0]), validate_contact(tech[0])
    except ValidationError:
        reject()
    n = next(_serial)
    account = services.create_account(
        uow,
        actor=ACTOR,
        handle=f"leak-{n}",
        kind=AccountKind.CUSTOMER,
        name="Holder",
        email=f"holder{n}@mail.example",
        reason="no-leak",
    ).handle
    for handle, data in ((f"LKR{n:05d}", reg_data), (f"LKT{n:05d}", tech_data)):
        services.create_contact(uow, actor=ACTOR, handle=handle, account=account, data=data, reason="no-leak")
    name = f"leak-test-{n}.example"
    services.create_domain(uow, actor=ACTOR, name=name, account=account, registrant=f"LKR{n:05d}",
                           admin=f"LKR{n:05d}", tech=f"LKT{n:05d}", billing=f"LKR{n:05d}", privacy_mode=mode,
                           reason="no-leak")  # fmt: skip
    blobs = [
        query_raw(whois.port, name.encode() + b"\r\n"),
        query_raw(whois.port, name.upper().encode() + b"\r\n"),  # second query: a cache hit
        query_raw(whois.port, b"no-such-" + name.encode() + b"\r\n"),
        query_raw(whois.port, b"\xff\xfe" + name.encode() + b"\r\n"),
        *rdap_exchanges(
            rdap,
            [
                f"/domain/{name}",
                f"/domain/{name.upper()}",
                "/domain/-bad-.example",
                f"/domain/no-such-{name}",
                f"/nameserver/ns1.{name}",
            ],
        ),
        "\n".join(logs.lines).encode(),
    ]
    assert b"Domain Name:" in blobs[0] and b'"ldhName"' in blobs[4]
    assert_absent(registrant[1], blobs, published={"state"} if mode is PrivacyMode.REDACTED else set())
    assert_absent(tech[1], blobs, published=set())
