"""`domainpriv serve` as an operator runs it: both servers up, fresh answers across daemons, clean SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import socket
import time
from pathlib import Path

import pytest

from support.daemons import cli, cli_bytes, daemon, first_domain, rdap, whois


@pytest.fixture
def loaded_db(db_url: str) -> str:
    cli(db_url, "db", "upgrade")
    cli(db_url, "demo", "load", "--domains", "20")
    return db_url


def test_serve_answers_and_matches_the_cli_byte_for_byte(loaded_db: str, tmp_path: Path) -> None:
    name = first_domain(loaded_db, "redacted")
    with daemon(loaded_db, tmp_path) as (proc, whois_port, rdap_port):
        answer = whois(whois_port, name)
        status, body = rdap(rdap_port, name)
        assert status == 200 and body["ldhName"] == name
        assert f"domain name: {name}" in answer.lower()
        cli_whois = cli_bytes(loaded_db, "whois", name).decode()
        assert "\r\n" in cli_whois and "\r\n" in answer
        # The last-update line carries the answer time; everything else is the same bytes.
        strip = re.compile(r">>> Last update of WHOIS database: .* <<<")
        assert strip.sub("", cli_whois) == strip.sub("", answer)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_a_change_shows_in_the_answers_of_two_daemons_within_the_poll_interval(loaded_db: str, tmp_path: Path) -> None:
    """The CLI commits in a third process: each daemon's change-feed follower sees it within its poll interval
    (0.5 s by default; at once on PostgreSQL, where a NOTIFY wakes it)."""
    name = first_domain(loaded_db, "redacted")
    with daemon(loaded_db, tmp_path) as (_, whois_a, rdap_a), daemon(loaded_db, tmp_path) as (_, whois_b, rdap_b):
        for port in (whois_a, whois_b):
            assert "REDACTED FOR PRIVACY" in whois(port, name)
        cli(loaded_db, "privacy", "set", name, "proxy")
        committed = time.monotonic()
        for port in (whois_a, whois_b):
            while "Privacy Service of Example Registrar" not in whois(port, name):
                assert time.monotonic() - committed < 0.5 + 1.0, "not fresh within the poll interval (+1 s slack)"
                time.sleep(0.02)
        for port in (rdap_a, rdap_b):
            status, body = rdap(port, name)
            assert status == 200 and "Privacy Service of Example Registrar" in json.dumps(body)


def test_sigterm_lets_an_answer_in_flight_finish(loaded_db: str, tmp_path: Path) -> None:
    name = first_domain(loaded_db, "proxy")
    with daemon(loaded_db, tmp_path) as (proc, whois_port, _):
        with socket.create_connection(("127.0.0.1", whois_port), timeout=10) as sock:
            sock.sendall(name.encode())  # no line end yet: the query is in flight
            time.sleep(0.2)
            proc.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            sock.sendall(b"\r\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        assert b"Domain Name:" in data
        assert proc.wait(timeout=20) == 0


def test_rdap_listener_is_a_tcp_socket_so_responses_are_not_delayed() -> None:
    """asyncio sets TCP_NODELAY on accepted connections only when the listening socket's protocol is TCP;
    without it each keep-alive response after the first waited ~40 ms for the client's delayed ACK."""
    from domainpriv.daemon import _listen

    sock = _listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


def test_keep_alive_requests_are_answered_without_a_delayed_ack_stall(loaded_db: str, tmp_path: Path) -> None:
    import http.client

    name = first_domain(loaded_db, "proxy")
    with daemon(loaded_db, tmp_path) as (_, _, rdap_port):
        conn = http.client.HTTPConnection("127.0.0.1", rdap_port, timeout=10)
        conn.request("GET", f"/domain/{name}")
        conn.getresponse().read()
        started = time.monotonic()
        for _ in range(10):
            conn.request("GET", f"/domain/{name}")
            response = conn.getresponse()
            assert response.status == 200
            response.read()
        conn.close()
        # With the stall: at least 10 x 40 ms. Without: a few ms each, even on a busy machine.
        assert time.monotonic() - started < 0.35
