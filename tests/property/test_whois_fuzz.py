"""Hostile clients against the running WHOIS server: random bytes, huge lines, no line end, half-closed and
reset connections, slow writers, many at once. Every connection must get a well-formed reply or a clean close,
the server must log no error, and afterwards it must still answer a valid query correctly.

The examples run inside one test (hypothesis's inner-function form) so the demo database and the server are
set up once per database backend; timeouts are short to keep the run to a few seconds.
"""

from __future__ import annotations

import logging
import socket
import struct
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domainpriv.rdds import DatabaseSource
from domainpriv.rdds.whois_text import render_domain
from support.whois_fixtures import HOST, TERMS, demo_domain, query, query_raw, read_all, running_whois, whois_settings

READ_TIMEOUT_SECONDS = 0.25
MAX_QUERY_BYTES = 512
REPLY_STARTS = (b"Domain Name: ", b'No match for "', b"Error: ")


@dataclass(frozen=True)
class Probe:
    payload: bytes
    line_end: bytes
    pieces: int  # > 1: a slow writer sending the bytes in pieces, with pauses
    half_close: bool  # shut down the writing side after sending
    reset: bool  # close with a RST right after sending, never reading

    @property
    def sent(self) -> bytes:
        return self.payload + self.line_end


PAYLOADS = st.one_of(
    st.binary(max_size=2048),
    st.text(max_size=80).map(lambda t: t.encode("utf-8")),
    st.sampled_from([b"example.com", b"BAKERY-0.COM.", "bücher-7.org".encode(), b"\xc3", b"\x00" * 10, b" \t "]),
    st.integers(MAX_QUERY_BYTES - 2, 300_000).map(lambda n: b"z" * n),  # around and far beyond the limit
)
PROBES = st.builds(
    Probe,
    payload=PAYLOADS,
    line_end=st.sampled_from([b"", b"\r\n", b"\n", b"\r"]),
    pieces=st.sampled_from([1, 1, 2, 5]),
    half_close=st.booleans(),
    reset=st.sampled_from([False, False, False, True]),
)


def send(probe: Probe, port: int) -> bytes | None:
    """Play `probe`; the bytes the server sent back, or None if the client reset the connection itself."""
    with socket.create_connection((HOST, port), timeout=10) as sock:
        data = probe.sent
        step = max(1, -(-len(data) // probe.pieces))
        for start in range(0, len(data), step):
            sock.sendall(data[start : start + step])
            if probe.pieces > 1:
                time.sleep(0.01)
        if probe.reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return None
        if probe.half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def check_reply(probe: Probe, reply: bytes) -> None:
    if not probe.sent and probe.half_close:
        assert reply == b""  # nothing asked: a clean close
        return
    assert reply.endswith(b"\r\n"), reply[:200]
    assert reply.count(b"\n") == reply.count(b"\r\n") == reply.count(b"\r")
    assert reply.startswith(REPLY_STARTS), reply[:200]
    if not probe.line_end and not probe.half_close and b"\r" not in probe.payload and b"\n" not in probe.payload:
        assert reply.startswith((b"Error: no complete query", b"Error: query longer than")), reply[:200]
    if len(probe.payload.split(b"\n")[0].split(b"\r")[0]) > MAX_QUERY_BYTES:
        assert reply.startswith(b"Error: query longer than"), reply[:200]


def test_hostile_clients_never_break_the_server(demo_source: DatabaseSource, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    name = demo_domain("redacted")
    expected = demo_source.lookup(name)
    assert expected is not None
    config = whois_settings(
        read_timeout_seconds=READ_TIMEOUT_SECONDS, max_query_bytes=MAX_QUERY_BYTES, rate_burst=100_000
    )
    with running_whois(demo_source, config) as srv:

        @settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
        @given(probe=PROBES)
        def one_client(probe: Probe) -> None:
            reply = send(probe, srv.port)
            if reply is not None:
                check_reply(probe, reply)

        one_client()
        assert query(srv.port, name) == render_domain(expected, TERMS)

        # Many at once, mixed with garbage. The read timeout is the default here: on a loaded machine 60
        # simultaneous clients can wait longer than the fuzzing phase's 0.25 s, which would test the machine.
    with running_whois(demo_source, whois_settings(rate_burst=100_000)) as srv:
        with ThreadPoolExecutor(max_workers=40) as pool:
            good = [pool.submit(query, srv.port, name) for _ in range(40)]
            bad = [pool.submit(query_raw, srv.port, b"\xff" * 100, half_close=True) for _ in range(20)]
            assert all(job.result(timeout=30) == render_domain(expected, TERMS) for job in good)
            assert all(job.result(timeout=30).startswith(b"Error: malformed query") for job in bad)

        assert query(srv.port, name) == render_domain(expected, TERMS)
        wait_for_idle = time.monotonic() + 5
        while srv.server.open_connections and time.monotonic() < wait_for_idle:
            time.sleep(0.01)
        assert srv.server.open_connections == 0
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]
