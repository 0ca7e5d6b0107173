"""`domainpriv serve` as an operator runs it: both servers up, fresh answers across daemons, clean SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

READY = re.compile(r"WHOIS on [\d.]+:(\d+), RDAP on [\d.]+:(\d+)")


def daemon_env(db_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
    env.update({"DOMAINPRIV_DATABASE_URL": db_url, "DOMAINPRIV_WHOIS_PORT": "0", "DOMAINPRIV_RDAP_PORT": "0"})
    return env


def cli(db_url: str, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url), capture_output=True,
                          text=True, timeout=120, check=True)  # fmt: skip
    return proc.stdout


@contextmanager
def daemon(db_url: str, cwd: Path) -> Iterator[tuple[subprocess.Popen[str], int, int]]:
    proc = subprocess.Popen([sys.executable, "-m", "domainpriv", "serve"], env=daemon_env(db_url), cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        match = READY.search(line)
        assert match, f"no ready line: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        yield proc, int(match.group(1)), int(match.group(2))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def cli_bytes(db_url: str, *args: str) -> bytes:
    return subprocess.run([sys.executable, "-m", "domainpriv", *args], env=daemon_env(db_url), capture_output=True,
                          timeout=120, check=True).stdout  # fmt: skip


def whois(port: int, name: str) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(name.encode() + b"\r\n")
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def rdap(port: int, name: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/domain/{name}", timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.fixture
def loaded_db(db_url: str) -> str:
    cli(db_url, "db", "upgrade")
    cli(db_url, "demo", "load", "--domains", "20")
    return db_url


def first_domain(db_url: str, mode: str) -> str:
    for line in cli(db_url, "export").splitlines():
        record = json.loads(line)
        if record["type"] == "domain" and record["privacy_mode"] == mode:
            return str(record["name"])
    raise AssertionError(f"no {mode} domain in the demo")


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


def test_a_change_shows_in_the_next_answer_of_two_daemons(loaded_db: str, tmp_path: Path) -> None:
    name = first_domain(loaded_db, "redacted")
    with daemon(loaded_db, tmp_path) as (_, whois_a, rdap_a), daemon(loaded_db, tmp_path) as (_, whois_b, rdap_b):
        for port in (whois_a, whois_b):
            assert "REDACTED FOR PRIVACY" in whois(port, name)
        cli(loaded_db, "privacy", "set", name, "proxy")
        for port in (whois_a, whois_b):
            assert "Privacy Service of Example Registrar" in whois(port, name)
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
