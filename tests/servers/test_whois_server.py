"""The real WHOIS server on loopback, on the demo data (SQLite and PostgreSQL), queried by real clients:
Debian `whois`, python-whois (parser and socket client), and raw sockets for the exact bytes."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar, cast

import pytest
from whois.exceptions import WhoisDomainNotFoundError
from whois.parser import WhoisEntry

from domainpriv.audit import Actor
from domainpriv.config import load_settings
from domainpriv.privacy import PublicRecord
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.whois_server import LOGGER_NAME, WhoisServer
from domainpriv.rdds.whois_text import render_domain
from domainpriv.registration import services
from domainpriv.store import UnitOfWork
from support.feeds import followed_cache
from support.whois_fixtures import (
    HOST,
    TERMS,
    debian_whois,
    demo_domain,
    demo_u_label,
    python_whois_text,
    query,
    query_raw,
    read_all,
    running_whois,
    wait_until,
    whois_settings,
)

P = ParamSpec("P")
T = TypeVar("T")
PROXY_NAME = "Privacy Service of Example Registrar"
LAST_UPDATE = re.compile(r"^>>> Last update of WHOIS database: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ <<<$", re.M)


def fields(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep and not line.startswith(">>>"):
            out.setdefault(key, []).append(value.strip())
    return out


def assert_crlf_only(raw: bytes) -> None:
    assert raw.endswith(b"\r\n")
    assert raw.count(b"\n") == raw.count(b"\r\n") == raw.count(b"\r")


# ------------------------------------------------------------------------------------------ privacy modes


@pytest.mark.parametrize("mode", ["proxy", "redacted", "public"])
def test_each_privacy_mode_answers_with_its_public_view(
    demo_source: DatabaseSource, demo_uow: UnitOfWork, mode: str
) -> None:
    name = demo_domain(mode)
    stored = services.get_domain(demo_uow, name=name)
    assert stored.privacy_mode == mode
    registrant = stored.contacts["registrant"]
    assert registrant is not None
    with running_whois(demo_source) as srv:
        raw = query_raw(srv.port, name.encode() + b"\r\n")
    assert_crlf_only(raw)
    expected = demo_source.lookup(name)
    assert expected is not None
    assert raw == render_domain(expected, TERMS).encode("utf-8")  # the server adds and drops nothing
    f = fields(raw.decode("utf-8"))
    assert f["Domain Name"] == [name]
    assert f["Registry Registrant ID"] == ["REDACTED FOR PRIVACY"]
    assert f["Registrant Country"][0] != "REDACTED FOR PRIVACY"
    if mode == "proxy":
        assert f["Registrant Name"] == [PROXY_NAME]
        assert f["Registrant Email"][0].endswith("@privacy.registrar.example")
    elif mode == "redacted":
        assert f["Registrant Name"] == ["REDACTED FOR PRIVACY"]
        assert f["Registrant Street"] == ["REDACTED FOR PRIVACY"]
        assert f["Registrant Country"] == [registrant.data.country]
        assert registrant.data.email not in raw.decode()
    else:
        assert f["Registrant Name"] == [registrant.data.name]
        assert f["Registrant Email"] == [registrant.data.email]


@pytest.mark.parametrize("mode", ["proxy", "redacted", "public"])
def test_debian_whois_client_prints_the_record(demo_source: DatabaseSource, mode: str) -> None:
    name = demo_domain(mode)
    with running_whois(demo_source) as srv:
        result = debian_whois(srv.port, name)
    assert result.returncode == 0, result.stderr
    assert f"Domain Name: {name}\n" in result.stdout
    assert "Registrar: Example Registrar LLC" in result.stdout
    assert LAST_UPDATE.search(result.stdout)
    assert "For more information on Whois status codes, please visit https://icann.org/epp" in result.stdout


@pytest.mark.parametrize("mode", ["proxy", "redacted", "public"])
def test_python_whois_parses_the_reply(demo_source: DatabaseSource, demo_uow: UnitOfWork, mode: str) -> None:
    name = demo_domain(mode)
    expected = demo_source.lookup(name)
    assert expected is not None
    with running_whois(demo_source) as srv:
        entry = WhoisEntry.load(name, python_whois_text(srv.port, name))
    assert entry.domain_name == name
    assert entry.registrar == "Example Registrar LLC"
    assert entry.creation_date == expected.created_at.replace(microsecond=0)
    assert entry.expiration_date == expected.expires_at.replace(microsecond=0)
    servers = entry.name_servers if isinstance(entry.name_servers, list) else [entry.name_servers]
    assert sorted(servers) == sorted(expected.nameservers)
    assert entry.country == expected.registrant.country
    registrant = services.get_domain(demo_uow, name=name).contacts["registrant"]
    assert registrant is not None
    assert entry.name == {"proxy": PROXY_NAME, "redacted": "REDACTED FOR PRIVACY", "public": registrant.data.name}[mode]


# --------------------------------------------------------------------------------------------- query forms


def test_u_label_query_for_an_idn_returns_the_a_label_record(demo_source: DatabaseSource) -> None:
    a_label = demo_domain("redacted", idn=True)
    u_label = demo_u_label(a_label)
    assert u_label != a_label
    with running_whois(demo_source) as srv:
        by_u_label = query(srv.port, u_label)
        by_upper_u_label = query(srv.port, u_label.upper())
        by_a_label = query(srv.port, a_label)
    assert by_u_label == by_upper_u_label == by_a_label
    assert fields(by_u_label)["Domain Name"] == [a_label]
    assert u_label not in by_u_label


def test_debian_whois_client_finds_an_idn_by_its_u_label(demo_source: DatabaseSource) -> None:
    a_label = demo_domain("redacted", idn=True)
    with running_whois(demo_source) as srv:
        result = debian_whois(srv.port, demo_u_label(a_label))  # the client sends the A-label (libidn2)
    assert result.returncode == 0
    assert f"Domain Name: {a_label}\n" in result.stdout


def test_mixed_case_trailing_dot_and_whitespace_name_the_same_domain(demo_source: DatabaseSource) -> None:
    name = demo_domain("proxy")
    with running_whois(demo_source) as srv:
        plain = query(srv.port, name)
        variants = [query(srv.port, v) for v in (name.upper() + ".", f"  {name.title()} \t", name + "\n")]
    assert plain.startswith(f"Domain Name: {name}\r\n")
    assert all(v == plain for v in variants)


def test_unknown_name_gets_no_match(demo_source: DatabaseSource) -> None:
    with running_whois(demo_source) as srv:
        raw = query_raw(srv.port, b"No-Such-Domain.COM\r\n")
        text = python_whois_text(srv.port, "no-such-domain.com")
    assert_crlf_only(raw)
    lines = raw.decode().split("\r\n")
    assert lines[0] == 'No match for "no-such-domain.com".'
    assert LAST_UPDATE.match(lines[1])
    with pytest.raises(WhoisDomainNotFoundError):
        WhoisEntry.load("no-such-domain.com", text)


@pytest.mark.parametrize(
    "payload",
    [
        b"foo bar <script>\r\n",
        b"\r\n",
        b"-v example.com\r\n",
        b"\xff\xfe\xc3(\r\n",
        b"exa\x00mple.com\r\n",
        b"a..b\r\n",
    ],
    ids=["spaces-and-markup", "empty-line", "flag", "invalid-utf8", "nul-byte", "empty-label"],
)
def test_malformed_query_gets_an_error_that_echoes_nothing(demo_source: DatabaseSource, payload: bytes) -> None:
    with running_whois(demo_source) as srv:
        raw = query_raw(srv.port, payload)
    assert_crlf_only(raw)
    assert raw.startswith(b"Error: malformed query")
    if payload.strip():
        assert payload.strip() not in raw


# -------------------------------------------------------------------------------------------------- limits


def test_oversized_line_is_drained_and_refused(demo_source: DatabaseSource) -> None:
    with running_whois(demo_source, whois_settings(max_query_bytes=64)) as srv:
        raw = query_raw(srv.port, b"a" * 200_000 + b".com\r\n")
        raw_no_newline = query_raw(srv.port, b"b" * 5_000, half_close=True)
        exactly_at_limit = query(srv.port, "x" * 56 + "-0.com")  # 62 bytes: a name, not too long
    assert raw.startswith(b"Error: query longer than 64 bytes\r\n")
    assert raw_no_newline.startswith(b"Error: query longer than 64 bytes\r\n")
    assert exactly_at_limit.startswith("No match for")


def test_silent_and_slow_clients_are_answered_after_the_read_timeout(demo_source: DatabaseSource) -> None:
    name = demo_domain("proxy")
    with running_whois(demo_source, whois_settings(read_timeout_seconds=0.3)) as srv:
        started = time.monotonic()
        silent = query_raw(srv.port, b"")
        elapsed = time.monotonic() - started
        slow = query_raw(srv.port, name.encode())  # never ends its line
        fine = query(srv.port, name)
    assert silent.startswith(b"Error: no complete query received within 0.3 seconds\r\n")
    assert 0.3 <= elapsed < 3
    assert slow.startswith(b"Error: no complete query received")
    assert fine.startswith(f"Domain Name: {name}")


def test_third_query_of_a_burst_of_two_is_refused(demo_source: DatabaseSource) -> None:
    name = demo_domain("redacted")
    with running_whois(demo_source, whois_settings(rate_burst=2, rate_per_second=0.01)) as srv:
        answers = [query(srv.port, name) for _ in range(3)]
    assert answers[0].startswith("Domain Name:")
    assert answers[1] == answers[0]
    first_line = answers[2].split("\r\n")[0]
    assert first_line.startswith("Error: too many queries from your address; please slow down")
    assert re.search(r"retry in \d+ s$", first_line)


def test_connections_beyond_max_connections_are_refused(demo_source: DatabaseSource) -> None:
    name = demo_domain("proxy")
    with running_whois(demo_source, whois_settings(max_connections=1)) as srv:
        with socket.create_connection((HOST, srv.port), timeout=10) as holder:
            wait_until(lambda: srv.server.open_connections == 1)
            refused = query_raw(srv.port, name.encode() + b"\r\n")
            holder.sendall(name.encode() + b"\r\n")  # the admitted connection is still served
            held_answer = read_all(holder)
        wait_until(lambda: srv.server.open_connections == 0)
        after = query(srv.port, name)
    assert refused.startswith(b"Error: server busy: too many open connections")
    assert_crlf_only(refused)
    assert held_answer.startswith(f"Domain Name: {name}".encode())
    assert after.startswith(f"Domain Name: {name}")


# ---------------------------------------------------------------------------------- freshness, logs, stop


def test_privacy_change_is_visible_in_the_very_next_answer(demo_source: DatabaseSource, demo_uow: UnitOfWork) -> None:
    name = demo_domain("proxy")
    with running_whois(demo_source) as srv:
        before = fields(query(srv.port, name))
        services.set_privacy_mode(
            demo_uow, actor=Actor("staff", "tests"), domain=name, mode="redacted", reason="whois freshness test"
        )
        after = fields(query(srv.port, name))
    assert before["Registrant Name"] == [PROXY_NAME]
    assert after["Registrant Name"] == ["REDACTED FOR PRIVACY"]


def test_logs_name_query_and_outcome_but_no_contact_data(
    demo_source: DatabaseSource, demo_uow: UnitOfWork, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER_NAME)
    names = [demo_domain("public"), demo_domain("redacted"), demo_domain("proxy")]
    with running_whois(demo_source, whois_settings(rate_burst=5, rate_per_second=0.01)) as srv:
        replies = [query(srv.port, n) for n in names]
        query_raw(srv.port, b"not a name\r\n")
        query(srv.port, "unknown-name.com")
        query(srv.port, names[0])  # the fifth: rate-limited
    assert fields(replies[0])["Registrant Name"][0] != "REDACTED FOR PRIVACY"  # the public reply carries PII
    query_lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("whois query")]
    outcomes = [re.search(r"name=(\S+) outcome=(\S+)", line).groups() for line in query_lines]  # type: ignore[union-attr]
    assert outcomes == [
        (names[0], "found"), (names[1], "found"), (names[2], "found"), ("malformed", "error"),
        ("unknown-name.com", "not-found"), (names[0], "rate-limited"),
    ]  # fmt: skip
    assert all(re.search(r"client=127\.0\.0\.1 .* duration_ms=\d+\.\d ", line) for line in query_lines)
    log_text = "\n".join(r.getMessage() for r in caplog.records)
    for n in names:
        record = services.get_domain(demo_uow, name=n)
        for contact in record.contacts.values():
            if contact is None:
                continue
            data = contact.data
            values = [data.name, data.org, *data.street, data.city, data.postal_code, data.phone, data.fax, data.email]
            for value in values:
                if value and len(value) >= 5:
                    assert value not in log_text
    assert "@privacy.registrar.example" not in log_text  # nor any published value


@dataclass
class SlowSource:
    """The real source, but each lookup waits for the test's signal, so a query can be caught in flight."""

    inner: DatabaseSource
    started: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def lookup(self, a_label: str) -> PublicRecord | None:
        self.started.set()
        self.release.wait(10)
        return self.inner.lookup(a_label)

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection((HOST, port), timeout=2).close()
    except (ConnectionRefusedError, ConnectionResetError):  # closed, or reset while in the closing backlog
        return True
    return False


def test_stop_lets_the_answer_in_flight_complete(demo_source: DatabaseSource) -> None:
    name = demo_domain("proxy")
    source = SlowSource(demo_source)
    with running_whois(source, whois_settings(shutdown_grace_seconds=5)) as srv:
        with socket.create_connection((HOST, srv.port), timeout=10) as client:
            client.sendall(name.encode() + b"\r\n")
            assert source.started.wait(5)
            stopping = threading.Thread(target=srv.stop)
            stopping.start()
            wait_until(lambda: refuses_connections(srv.port))  # stop() closed the listener, waits for us
            assert stopping.is_alive()
            source.release.set()
            reply = read_all(client)
        stopping.join(10)
        assert not stopping.is_alive()
    assert reply.startswith(f"Domain Name: {name}\r\n".encode())
    assert reply.endswith(b"\r\n") and b"For more information on Whois status codes" in reply


def test_a_client_that_half_closes_before_the_answer_still_gets_it(demo_source: DatabaseSource) -> None:
    name = demo_domain("redacted")
    source = SlowSource(demo_source)
    with running_whois(source) as srv:
        with socket.create_connection((HOST, srv.port), timeout=10) as client:
            client.sendall(name.encode() + b"\r\n")
            client.shutdown(socket.SHUT_WR)  # the server sees EOF while the lookup is in the pool
            assert source.started.wait(5)
            time.sleep(0.05)
            source.release.set()
            reply = read_all(client)
        wait_until(lambda: srv.server.open_connections == 0)
    assert reply.startswith(f"Domain Name: {name}\r\n".encode())
    assert_crlf_only(reply)


def test_pipelined_input_after_the_query_is_discarded(demo_source: DatabaseSource) -> None:
    name = demo_domain("proxy")
    with running_whois(demo_source) as srv:
        alone = query(srv.port, name)
        pipelined = query_raw(srv.port, name.encode() + b"\r\nsecond.example\r\n" + b"x" * 100_000)
    assert pipelined.decode() == alone
    assert alone.startswith(f"Domain Name: {name}\r\n")


@dataclass
class AlwaysHit:
    """Every name is a fresh cache hit on one record object (whose rendering the test replaces)."""

    record: object = field(default_factory=object)

    def lookup(self, a_label: str) -> PublicRecord | None:
        raise AssertionError("a hit never reaches the store")

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return True, cast(PublicRecord, self.record)


def test_a_reply_larger_than_the_socket_buffers_is_sent_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    big = (b"y" * 78 + b"\r\n") * 200_000  # 16 MB: more than the socket buffers take at once
    monkeypatch.setattr(WhoisServer, "_render", lambda self, record: big)
    with running_whois(AlwaysHit()) as srv:
        with socket.create_connection((HOST, srv.port), timeout=10) as client:
            client.sendall(b"example.com\r\n")
            time.sleep(0.2)  # the server's buffers fill up before we read
            reply = read_all(client)
        wait_until(lambda: srv.server.open_connections == 0)
    assert reply == big


def test_a_client_that_does_not_take_its_reply_is_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    big = (b"z" * 78 + b"\r\n") * 200_000
    monkeypatch.setattr(WhoisServer, "_render", lambda self, record: big)
    with running_whois(AlwaysHit(), whois_settings(read_timeout_seconds=0.3)) as srv:
        client = socket.create_connection((HOST, srv.port), timeout=10)
        try:
            client.sendall(b"example.com\r\n")
            wait_until(lambda: srv.server.open_connections == 1)
            wait_until(lambda: srv.server.open_connections == 0)  # read timeout + linger, not forever
        finally:
            client.close()


@dataclass
class BrokenSource:
    def lookup(self, a_label: str) -> PublicRecord | None:
        raise RuntimeError("secret detail: jane.private@mailbox.example")

    def peek(self, a_label: str) -> tuple[bool, PublicRecord | None]:
        return False, None


def test_unexpected_exception_gets_a_generic_reply_with_a_request_id(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER_NAME)
    with running_whois(BrokenSource()) as srv:
        raw = query_raw(srv.port, b"example.com\r\n")
        still_serving = query_raw(srv.port, b"not a name\r\n")
    match = re.match(rb"Error: internal error \(request id ([0-9a-f]{12})\); please retry later\r\n", raw)
    assert match, raw
    assert b"secret" not in raw
    assert still_serving.startswith(b"Error: malformed query")
    request_id = match.group(1).decode()
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and request_id in errors[0].getMessage()
    assert "RuntimeError" in errors[0].getMessage() and "in lookup" in errors[0].getMessage()
    assert "jane.private" not in caplog.text  # the exception's message may quote record values: never logged
    assert any(request_id in r.getMessage() and "outcome=error" in r.getMessage() for r in caplog.records)


# ------------------------------------------------------------------------------------------------- cache


class CountingExecutor(ThreadPoolExecutor):
    """The lookup pool, counting what is sent to it."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="whois-test-lookup")
        self.submitted = 0

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


def test_cache_hits_are_answered_without_the_lookup_pool(demo_uow: UnitOfWork) -> None:
    name, unknown = demo_domain("proxy"), "unknown-name.com"
    executor = CountingExecutor()
    with followed_cache(demo_uow.engine) as (cache, _):
        source = DatabaseSource(demo_uow, publication_policy(load_settings(environ={})), cache)
        with running_whois(source, executor=executor) as srv:
            first = [query(srv.port, name), query(srv.port, unknown)]
            assert executor.submitted == 2  # two misses: loaded in the pool
            again = [query(srv.port, name), query(srv.port, unknown)]
            assert executor.submitted == 2  # two fresh hits: answered on the loop
            assert query_raw(srv.port, b"not a name\r\n").startswith(b"Error: malformed query")
            assert executor.submitted == 2  # malformed: never reaches the pool
            services.set_privacy_mode(
                demo_uow, actor=Actor("staff", "tests"), domain=name, mode="redacted", reason="whois memo test"
            )  # committed in this process: the cache has dropped the name before the service returned
            changed = [query(srv.port, name), query(srv.port, name)]  # a miss (new view), then a hit on it
            assert executor.submitted == 3
    executor.shutdown()
    assert again == first
    assert first[0].startswith(f"Domain Name: {name}\r\n") and first[1].startswith('No match for "unknown-name.com"')
    assert fields(first[0])["Registrant Name"] == [PROXY_NAME]
    assert changed[0] == changed[1]  # the memoised reply belongs to the new view, not the old one
    assert fields(changed[0])["Registrant Name"] == ["REDACTED FOR PRIVACY"]
    assert cache.hits >= 2
