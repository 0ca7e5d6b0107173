"""The RDAP server: in-process through httpx's ASGI transport, then for real under uvicorn with real clients.

In-process tests (httpx `ASGITransport`) run on the demo data set on SQLite and PostgreSQL (`demo_source`) and
check every answer against ICANN's JSON schemas and the gTLD profile (`support.rdap_checks`): headers, HEAD
parity, help, errors, names in any case and as U-labels, rate limiting, no leak, fresh answers after a change.

Real-server tests start the app under uvicorn on a loopback port in a background thread and query it with
whoisit (bootstrap data loaded offline) and 20c `rdap`. No test contacts a host other than 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import requests
import uvicorn
import whoisit  # type: ignore[import-untyped]
from rdap import RdapClient  # type: ignore[import-untyped]
from rdap.exceptions import RdapNotFoundError  # type: ignore[import-untyped]

from domainpriv import demo
from domainpriv.audit import Actor
from domainpriv.config import RdapSettings, load_settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource
from domainpriv.rdds.rdap_app import LOGGER_NAME, RdapApp, Router, domain_response
from domainpriv.registration import services
from domainpriv.registration.records import DomainRecord
from domainpriv.store import UnitOfWork
from support.rdap_checks import (
    check_rdap_domain,
    check_rdap_error,
    check_rdap_headers,
    check_rdap_help,
)

CLIENT = ("192.0.2.10", 50000)


def demo_names() -> dict[str, str]:
    """The first unsigned demo domain of each kind, and the first signed one (seed 1, 60 domains; the data set
    is deterministic)."""
    found: dict[str, str] = {}
    for record in demo.demo_records(60, 1):
        if record["type"] != "domain":
            continue
        if record["ds_records"]:
            found.setdefault("signed", record["name"])
            continue
        found.setdefault(record["privacy_mode"], record["name"])
        if not record["name"].isascii():
            found.setdefault("idn", record["name"])
    return found


NAMES = demo_names()


def settings(**changes: Any) -> RdapSettings:
    return load_settings(environ={}).rdap.model_copy(update=changes)


@pytest.fixture
def app(demo_source: DatabaseSource, clock: Callable[[], datetime]) -> Iterator[RdapApp]:
    rdap = RdapApp(settings(), demo_source, clock=clock)
    yield rdap
    rdap.close()


class NullSource:
    """A RecordSource that publishes nothing: for tests of routing and errors, which need no database."""

    def lookup(self, a_label: str) -> PublicRecord | None:
        return None

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None  # never a cached answer: every request takes the lookup path


@pytest.fixture
def bare_app() -> Iterator[RdapApp]:
    rdap = RdapApp(settings(), NullSource())
    yield rdap
    rdap.close()


def fetch(app: RdapApp, method: str, path: str, *, client: tuple[str, int] = CLIENT) -> httpx.Response:
    """One request through the ASGI transport (the app's own event loop per call, like a fresh connection)."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            return await http.request(method, path)

    return asyncio.run(go())


def url(app: RdapApp, path: str) -> str:
    return app.settings.base_url + path


def without_request_urls(body: dict[str, Any]) -> dict[str, Any]:
    """The body with every link `value` blanked: the only part that depends on how the name was spelt."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    for link in _links(copy):
        link["value"] = ""
    return copy


def _links(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield from node.get("links", []) if isinstance(node.get("links"), list) else []
        for value in node.values():
            yield from _links(value)
    elif isinstance(node, list):
        for value in node:
            yield from _links(value)


# ------------------------------------------------------------------------------------------------ in-process


@pytest.mark.parametrize("mode", ["proxy", "redacted", "public", "idn"])
def test_domain_lookup_answers_a_conformant_object(app: RdapApp, mode: str) -> None:
    name = NAMES[mode]
    response = fetch(app, "GET", f"/domain/{name}")
    assert response.status_code == 200
    check_rdap_headers(response.headers)
    body = response.json()
    check_rdap_domain(body, str(response.request.url))  # the default base URL is the transport's
    assert body["unicodeName" if mode == "idn" else "ldhName"] == name


def test_every_demo_domain_passes_the_profile_checks(app: RdapApp) -> None:
    names = [r["name"] for r in demo.demo_records(60, 1) if r["type"] == "domain"]
    signed = 0
    for name in names:
        response = fetch(app, "GET", f"/domain/{name}")
        assert response.status_code == 200, name
        check_rdap_domain(response.json(), str(response.request.url))
        signed += response.json()["secureDNS"]["delegationSigned"]
    assert len(names) == 60 and 0 < signed < 60


def test_answer_equals_domain_response_byte_for_byte(
    app: RdapApp, demo_source: DatabaseSource, clock: Callable[[], datetime]
) -> None:
    for name in (NAMES["redacted"], NAMES["idn"], "not-a-domain.invalid", "-bad-.example"):
        response = fetch(app, "GET", f"/domain/{name}")
        status, body = domain_response(name, source=demo_source, settings=app.settings, now=clock())
        assert (response.status_code, response.content) == (status, body), name


def test_names_are_case_insensitive(app: RdapApp) -> None:
    name = NAMES["redacted"]
    lower = fetch(app, "GET", f"/domain/{name}")
    mixed = fetch(app, "GET", f"/domain/{''.join(c.upper() if i % 2 else c for i, c in enumerate(name))}")
    assert lower.status_code == mixed.status_code == 200
    check_rdap_domain(mixed.json(), str(mixed.request.url))
    assert without_request_urls(mixed.json()) == without_request_urls(lower.json())


def test_u_label_and_a_label_queries_give_the_same_object(app: RdapApp) -> None:
    u_label = NAMES["idn"]
    by_u = fetch(app, "GET", f"/domain/{u_label}")
    a_label = by_u.json()["ldhName"]
    by_a = fetch(app, "GET", f"/domain/{a_label.upper()}")
    assert by_u.status_code == by_a.status_code == 200
    assert "%" in str(by_u.request.url)  # the client percent-encoded the U-label; the server decoded it
    assert by_u.json()["links"][0]["value"] == str(by_u.request.url)
    assert without_request_urls(by_u.json()) == without_request_urls(by_a.json())


def test_unknown_domain_is_404_with_an_rdap_error(bare_app: RdapApp) -> None:
    response = fetch(bare_app, "GET", "/domain/not-a-domain.invalid")
    assert response.status_code == 404
    check_rdap_headers(response.headers)
    check_rdap_error(response.json(), 404)  # integer errorCode and rdapConformance (-65300)


class HidingSource:
    """A RecordSource that hides some names, as a policy may (e.g. a domain being deleted)."""

    def __init__(self, inner: DatabaseSource, hidden: set[str]) -> None:
        self.inner = inner
        self.hidden = hidden

    def lookup(self, a_label: str) -> PublicRecord | None:
        return None if a_label in self.hidden else self.inner.lookup(a_label)

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None  # never a cached answer: every request takes the lookup path


def test_hidden_and_unknown_names_get_the_same_answer(demo_source: DatabaseSource) -> None:
    name = NAMES["redacted"]
    app = RdapApp(settings(), HidingSource(demo_source, {name}))
    try:
        hidden = fetch(app, "GET", f"/domain/{name}")
        unknown = fetch(app, "GET", "/domain/never-registered.com")
    finally:
        app.close()
    assert hidden.status_code == unknown.status_code == 404
    assert hidden.content == unknown.content and dict(hidden.headers) == dict(unknown.headers)  # RFC 7480 §5.3


@pytest.mark.parametrize("name", ["-bad-.example", "a%2Fb.example", "%FF.example", "x" * 300 + ".com", "example"])
def test_malformed_names_are_400_and_never_echoed(bare_app: RdapApp, name: str) -> None:
    response = fetch(bare_app, "GET", f"/domain/{name}")
    assert response.status_code == 400
    check_rdap_headers(response.headers)
    check_rdap_error(response.json(), 400)
    assert name.split(".")[0][:20] not in response.text


@pytest.mark.parametrize("path", ["/nameserver/ns1.example.com", "/entity/5555555", "/ip/192.0.2.0/24",
                                  "/autnum/64496", "/domains?name=ex*.com", "/nameservers?ip=192.0.2.1",
                                  "/entities?fn=Jane*"])  # fmt: skip
def test_other_query_types_are_501(bare_app: RdapApp, path: str) -> None:
    response = fetch(bare_app, "GET", path)
    assert response.status_code == 501
    check_rdap_headers(response.headers)
    check_rdap_error(response.json(), 501)


@pytest.mark.parametrize("path", ["/", "/domain", "/domain/", "/domain/a.example/extra", "/Domain/a.example", "/x"])
def test_unknown_paths_are_404(bare_app: RdapApp, path: str) -> None:
    response = fetch(bare_app, "GET", path)
    assert response.status_code == 404
    check_rdap_headers(response.headers)
    check_rdap_error(response.json(), 404)


def test_other_methods_are_405_with_allow(bare_app: RdapApp) -> None:
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        response = fetch(bare_app, method, f"/domain/{NAMES['redacted']}")
        assert response.status_code == 405, method
        assert response.headers["allow"] == "GET, HEAD"
        check_rdap_headers(response.headers)
        check_rdap_error(response.json(), 405)


def test_a_repeated_path_is_routed_as_the_first_time(app: RdapApp) -> None:
    """The router memoises what a raw path resolves to; the second request for each path (and a GET after a
    refused POST on the same path) must get exactly the first answer."""
    paths = [f"/domain/{NAMES['proxy']}", "/domain/not-a-domain.invalid", "/domain/-bad-.example", "/help",
             "/nameserver/ns1.example", "/x", "/domain/a.example/extra", "/domain/%C3%A9x.example"]  # fmt: skip
    first = [fetch(app, "GET", path) for path in paths]
    again = [fetch(app, "GET", path) for path in paths]
    assert [(r.status_code, r.content) for r in again] == [(r.status_code, r.content) for r in first]
    assert fetch(app, "POST", paths[0]).status_code == 405
    assert fetch(app, "GET", paths[0]).content == first[0].content


def test_huge_paths_are_answered_but_not_memoised() -> None:
    router = Router([], base_url="http://127.0.0.1:8080/")
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def go() -> None:
        for n in range(3):
            path = f"/domain/{'a' * 3000}{n}.example"
            scope = {"type": "http", "method": "GET", "path": path, "raw_path": path.encode()}
            await router(scope, _no_body, send)

    asyncio.run(go())
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [404, 404, 404]
    assert len(router._resolved) == 0


async def _no_body() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def test_help_answers_conformance_and_notices(bare_app: RdapApp) -> None:
    response = fetch(bare_app, "GET", "/help")
    assert response.status_code == 200
    check_rdap_headers(response.headers)
    check_rdap_help(response.json(), url(bare_app, "help"))


@pytest.mark.parametrize(
    "path", [f"/domain/{NAMES['proxy']}", "/domain/not-a-domain.invalid", "/domain/-bad-.example", "/help",
             "/entity/x", "/nope"],
)  # fmt: skip
def test_head_has_the_status_and_headers_of_get_and_no_body(app: RdapApp, path: str) -> None:
    get = fetch(app, "GET", path)
    head = fetch(app, "HEAD", path)
    assert head.status_code == get.status_code  # -20300
    assert dict(head.headers) == dict(get.headers)
    assert head.content == b"" and int(head.headers["content-length"]) == len(get.content) > 0


def test_rate_limit_answers_429_with_retry_after_per_client(demo_source: DatabaseSource) -> None:
    app = RdapApp(settings(rate_burst=2, rate_per_second=0.01), demo_source)
    try:
        statuses = [fetch(app, "GET", "/help").status_code for _ in range(3)]
        assert statuses == [200, 200, 429]
        refused = fetch(app, "GET", f"/domain/{NAMES['redacted']}")
        assert refused.status_code == 429
        check_rdap_headers(refused.headers)
        check_rdap_error(refused.json(), 429)
        assert int(refused.headers["retry-after"]) >= 1
        head = fetch(app, "HEAD", "/help")
        assert head.status_code == 429 and head.headers["retry-after"] and head.content == b""
        assert fetch(app, "GET", "/help", client=("192.0.2.11", 40000)).status_code == 200  # another client
    finally:
        app.close()


def test_a_privacy_change_shows_in_the_very_next_answer(app: RdapApp, demo_uow: UnitOfWork) -> None:
    name = NAMES["redacted"]
    before = fetch(app, "GET", f"/domain/{name}").json()
    assert "Privacy Service of Example Registrar" not in json.dumps(before)
    services.set_privacy_mode(demo_uow, actor=Actor("cli", "tests"), domain=name, mode="proxy", reason="test")
    after = fetch(app, "GET", f"/domain/{name}")
    check_rdap_domain(after.json(), str(after.request.url))
    assert "Privacy Service of Example Registrar" in after.text
    assert [e["name"]["type"] for e in after.json()["redacted"]] == ["Registry Registrant ID", "Registry Tech ID"]


def test_base_path_of_the_base_url_is_honoured(demo_source: DatabaseSource) -> None:
    app = RdapApp(settings(base_url="https://rdap.registrar.example/rdap/"), demo_source)
    try:
        name = NAMES["proxy"]
        response = fetch(app, "GET", f"/rdap/domain/{name}")
        assert response.status_code == 200
        check_rdap_domain(response.json(), f"https://rdap.registrar.example/rdap/domain/{name}")
        assert fetch(app, "GET", f"/domain/{name}").status_code == 404
        check_rdap_help(fetch(app, "GET", "/rdap/help").json(), "https://rdap.registrar.example/rdap/help")
    finally:
        app.close()


def _hidden_values(record: DomainRecord, public: PublicRecord) -> set[str]:
    """Stored contact values that no published contact shows (short values such as country codes are left out:
    they occur in any JSON by chance)."""
    published: set[str] = set()
    stored: set[str] = set()
    for role, shown in (("registrant", public.registrant), ("tech", public.tech)):
        contact = record.contacts[role]
        if contact is None or shown is None:
            continue
        data = contact.data
        published |= {
            value for value in (shown.name, shown.org, shown.city, shown.state, shown.postal_code, shown.phone,
                                shown.fax, shown.email, *shown.street) if value
        }  # fmt: skip
        stored |= {
            value for value in (data.name, data.org, data.city, data.state, data.postal_code, data.phone, data.fax,
                                data.email, *data.street) if value and len(value) >= 4
        }  # fmt: skip
    return stored - published


def test_no_hidden_contact_value_leaks_into_any_answer_or_header(
    app: RdapApp, demo_uow: UnitOfWork, demo_source: DatabaseSource, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    checked: set[str] = set()
    for name in (r["name"] for r in demo.demo_records(60, 1) if r["type"] == "domain"):
        record = services.get_domain(demo_uow, name=name)
        public = demo_source.lookup(record.name)
        assert public is not None
        hidden = _hidden_values(record, public)
        if public.registrant.proxy or "name" in public.registrant.redacted:
            assert record.contacts["registrant"] is not None and record.contacts["registrant"].data.name in hidden
        for method in ("GET", "HEAD"):
            response = fetch(app, method, f"/domain/{name}")
            exposed = response.text + json.dumps(dict(response.headers), ensure_ascii=False)
            assert not {value for value in hidden if value in exposed}, name
        checked |= hidden
    assert len(checked) > 100  # the data set really has hidden values
    assert not [r.getMessage() for r in caplog.records if any(v in r.getMessage() for v in checked)]


def test_logs_carry_the_normalised_name_and_outcome_only(app: RdapApp, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    name = NAMES["redacted"]
    fetch(app, "GET", f"/domain/{name.upper()}")
    fetch(app, "GET", "/domain/-Secret-Probe-.example")
    fetch(app, "GET", "/domain/not-a-domain.invalid")
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER_NAME]
    assert messages == [
        f"rdap domain {name} found 200",
        "rdap domain - malformed 400",
        "rdap domain not-a-domain.invalid not-found 404",
    ]
    assert CLIENT[0] not in " ".join(messages)


class ExplodingSource:
    """A RecordSource whose store fails with a message that must never reach the client or the log."""

    def lookup(self, a_label: str) -> PublicRecord | None:
        raise RuntimeError("connection to db failed for jane.private@mailbox.example")

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None  # never a cached answer: every request takes the lookup path


def test_an_unexpected_error_is_500_with_a_request_id_and_no_details(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    app = RdapApp(settings(), ExplodingSource())
    try:
        response = fetch(app, "GET", "/domain/example.com")
    finally:
        app.close()
    assert response.status_code == 500
    check_rdap_headers(response.headers)
    check_rdap_error(response.json(), 500)
    (line,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    request_id = line.split("request_id=")[1].split()[0]
    assert request_id in response.text and "RuntimeError" in line
    assert "jane.private" not in line + response.text and "db failed" not in line + response.text


class GatedSource:
    """A RecordSource that blocks until the test opens the gate: proves lookups run off the event loop."""

    def __init__(self, inner: DatabaseSource) -> None:
        self.inner = inner
        self.gate = threading.Event()

    def lookup(self, a_label: str) -> PublicRecord | None:
        assert self.gate.wait(timeout=10), "the gate never opened: the event loop was blocked"
        return self.inner.lookup(a_label)

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None  # never a cached answer: every request takes the lookup path


def test_lookups_run_off_the_event_loop(demo_source: DatabaseSource) -> None:
    source = GatedSource(demo_source)
    app = RdapApp(settings(), source)

    async def scenario() -> tuple[int, int]:
        transport = httpx.ASGITransport(app=app, client=CLIENT)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            lookup = asyncio.create_task(http.get(f"/domain/{NAMES['proxy']}"))
            await asyncio.sleep(0.05)
            help_status = (await http.get("/help")).status_code  # answered while the lookup is blocked
            assert not lookup.done()
            source.gate.set()
            return help_status, (await lookup).status_code

    try:
        assert asyncio.run(scenario()) == (200, 200)
    finally:
        app.close()


def test_lifespan_shutdown_closes_the_lookup_pool() -> None:
    app = RdapApp(settings(), NullSource())
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: Any) -> None:
        sent.append(dict(message))

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    with pytest.raises(RuntimeError, match="shutdown"):  # the app's own pool is gone
        app._executor.submit(print)


# ------------------------------------------------------------------------------------------------ real server


@pytest.fixture
def live_server(demo_source: DatabaseSource, clock: Callable[[], datetime]) -> Iterator[str]:
    """The app under uvicorn on 127.0.0.1, on a socket bound to port 0 before the app is built (so the base
    URL in its answers is the real one, and no other process can take the port in between)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}/"
    app = RdapApp(settings(base_url=base_url, port=port), demo_source, clock=clock)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="rdap-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        app.close()


@pytest.fixture
def whoisit_bootstrapped(live_server: str) -> Iterator[str]:
    """whoisit aimed at the live server for the demo TLDs, from bootstrap data given offline."""
    bootstrap = {
        "timestamp": int(time.time()),
        "asn": {"services": [[["64496-64511"], [live_server]]]},
        "dns": {"services": [[["com", "net", "org", "shop", "app"], [live_server]]]},
        "ipv4": {"services": [[["192.0.2.0/24"], [live_server]]]},
        "ipv6": {"services": [[["2001:db8::/32"], [live_server]]]},
        "object": {"services": [[["TEST"], [live_server]]]},
    }
    whoisit.clear_bootstrapping()
    whoisit.load_bootstrap_data(json.dumps(bootstrap), allow_insecure=True)
    try:
        yield live_server
    finally:
        whoisit.clear_bootstrapping()


def test_whoisit_parses_proxy_redacted_and_public_answers(whoisit_bootstrapped: str, demo_uow: UnitOfWork) -> None:
    with requests.Session() as session:
        for mode in ("proxy", "redacted", "public"):
            name = NAMES[mode]
            stored = services.get_domain(demo_uow, name=name)
            result = whoisit.domain(name, session=session, follow_related=False)
            assert result["name"] == name.upper() or result["name"].lower() == name
            assert result["handle"] == stored.registry_domain_id
            assert result["registration_date"] == stored.created_at.replace(microsecond=0)
            assert result["expiration_date"] == stored.expires_at.replace(microsecond=0)
            assert result["last_changed_date"] == stored.updated_at.replace(microsecond=0)
            assert result["registration_date"].utcoffset() is not None  # aware: compares right in any TZ
            assert result["dnssec"] is stored.dnssec
            assert sorted(ns.lower() for ns in result["nameservers"]) == sorted(n.host for n in stored.nameservers)
            registrar = result["entities"]["registrar"][0]
            assert registrar["name"] == "Example Registrar LLC" and registrar["handle"] == "5555555"
            registrant = result["entities"]["registrant"][0]
            data = stored.contacts["registrant"].data  # type: ignore[union-attr]
            if mode == "redacted":
                assert {"Registrant Name", "Registrant Email", "Tech Email"} <= set(result["redacted"])
            else:
                assert result["redacted"] == ["Registry Registrant ID", "Registry Tech ID"]
            if mode == "proxy":
                assert registrant["name"] == "Example Privacy Services LLC"
                assert registrant["address"]["postal_code"] == "90210" and registrant["address"]["country"] == ""
                assert registrant["email"].endswith("@privacy.registrar.example")
            elif mode == "redacted":
                assert registrant.get("name", "") in ("", data.org)
                assert registrant["address"]["street_address"] == "" and registrant["address"]["region"] == (
                    data.state or ""
                )
                assert registrant["email"].endswith("@privacy.registrar.example") and registrant["email"] != data.email
            else:
                assert data.name in (registrant.get("person"), registrant.get("name"))
                assert registrant["email"] == data.email
        with pytest.raises(whoisit.errors.ResourceDoesNotExist):
            whoisit.domain("not-a-domain.com", session=session, follow_related=False)


def test_20c_rdap_client_parses_the_answers(live_server: str, demo_uow: UnitOfWork) -> None:
    client = RdapClient({"bootstrap_url": live_server, "timeout": 5})
    try:
        for mode in ("proxy", "redacted", "public", "idn"):
            name = NAMES[mode]
            stored = services.get_domain(demo_uow, name=name)
            domain = client.get_domain(name)
            assert domain.data["ldhName"] == stored.name and domain.handle == stored.registry_domain_id
            parsed = domain.parsed()  # follows entities with handles and administrative/technical roles: none
            assert "abuse@registrar.example" in parsed["emails"]
            check_rdap_domain(domain.data, f"{live_server}domain/{quote(name)}")
            if mode == "proxy":
                assert parsed["org_name"] == "Privacy Service of Example Registrar"
                assert "Anytown" in parsed["org_address"]
            elif mode == "redacted":
                assert parsed["org_name"] == ""
        with pytest.raises(RdapNotFoundError):
            client.get_domain("not-a-domain.com")
    finally:
        client.http.close()


def test_real_server_sends_the_rdap_headers_and_honours_head(live_server: str) -> None:
    with httpx.Client(base_url=live_server, timeout=5) as http:
        get = http.get(f"domain/{NAMES['redacted']}")
        head = http.head(f"domain/{NAMES['redacted']}")
        missing = http.get("domain/not-a-domain.invalid")
    assert get.status_code == head.status_code == 200
    check_rdap_headers(get.headers)
    check_rdap_headers(head.headers)
    assert head.headers["content-length"] == get.headers["content-length"] and head.content == b""
    check_rdap_domain(get.json(), f"{live_server}domain/{NAMES['redacted']}")
    assert missing.status_code == 404
    check_rdap_error(missing.json(), 404)
    events = {e["eventAction"]: e["eventDate"] for e in get.json()["events"]}
    assert datetime.fromisoformat(events["last update of RDAP database"]) == datetime(2026, 11, 1, 12, tzinfo=UTC)
