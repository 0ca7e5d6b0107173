"""Helpers for tests that run the real WhoisServer on 127.0.0.1 and query it with real clients.

Kept out of tests/servers/conftest.py (shared with the RDAP tests) and imported by the WHOIS server and fuzz
tests. The server runs on its own event loop in a background thread, so tests stay plain synchronous pytest
functions (no pytest-asyncio) and clients can block on sockets and subprocesses as real clients do.
Nothing here ever reaches port 43 or a host other than 127.0.0.1 (toolchain.md §3, §9).
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self, TypeVar

import pytest
from whois.whois import NICClient

from domainpriv import demo
from domainpriv.config import WhoisSettings, load_settings
from domainpriv.rdds.source import RecordSource
from domainpriv.rdds.whois_server import WhoisServer
from domainpriv.registration.validation import normalize_domain_name
from support.databases import services_required

HOST = "127.0.0.1"
TERMS = load_settings(environ={}).publication.terms_of_use
T = TypeVar("T")


def whois_settings(**update: Any) -> WhoisSettings:
    """The embedded [whois] settings on 127.0.0.1, a free port, and the given overrides."""
    return load_settings(environ={}).whois.model_copy(update={"host": HOST, "port": 0, **update})


class ServerThread:
    """Runs a WhoisServer on a private event loop in a daemon thread; `with` starts and stops it."""

    def __init__(self, server: WhoisServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="whois-test-loop", daemon=True)
        self.port = 0

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> Self:
        self._thread.start()
        self.port = self.call(self.server.start())
        return self

    def stop(self) -> None:
        self.call(self.server.stop())

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.stop()
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@contextmanager
def running_whois(
    source: RecordSource, settings: WhoisSettings | None = None, executor: Executor | None = None
) -> Iterator[ServerThread]:
    server = WhoisServer(settings or whois_settings(), source, TERMS, executor=executor)
    with ServerThread(server) as running:
        yield running


def query_raw(port: int, payload: bytes, *, half_close: bool = False, timeout: float = 10.0) -> bytes:
    """Send `payload`, optionally shut down the writing side, and read everything until the server closes."""
    with socket.create_connection((HOST, port), timeout=timeout) as sock:
        if payload:
            sock.sendall(payload)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        return read_all(sock)


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def query(port: int, name: str) -> str:
    """A well-behaved client: one query line with CR LF, the reply as text."""
    return query_raw(port, name.encode("utf-8") + b"\r\n").decode("utf-8")


# ------------------------------------------------------------------------------------------- real clients


def whois_binary() -> str:
    """Debian's `whois`, or a skip (a failure under DOMAINPRIV_REQUIRE_SERVICES=1)."""
    path = shutil.which("whois")
    if path is None:
        reason = "Debian whois client not installed (apt-get install whois)"
        if services_required():
            pytest.fail(f"DOMAINPRIV_REQUIRE_SERVICES=1 but {reason}")
        pytest.skip(reason)
    return path


def debian_whois(port: int, name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [whois_binary(), "-h", HOST, "-p", str(port), "--no-recursion", name],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def nic_client_for(port: int) -> NICClient:
    """python-whois's socket client, which hard-codes port 43, redirected to `port` (toolchain.md §9)."""

    class _Socket(socket.socket):
        def connect(self, address: Any) -> None:
            assert address[0] == HOST, "python-whois tried to reach another host"
            super().connect((HOST, port))

    class _Client(NICClient):  # type: ignore[misc]  # python-whois ships no type information
        @staticmethod
        def get_socket() -> socket.socket:
            return _Socket(socket.AF_INET, socket.SOCK_STREAM)

    return _Client()


def python_whois_text(port: int, name: str) -> str:
    # flags=0: never follow "Registrar WHOIS Server:" to a real host; errors raise instead of returning text.
    text: str = nic_client_for(port).whois(name, HOST, 0, timeout=10, ignore_socket_errors=False)
    return text


# ------------------------------------------------------------------------------------------------ demo data


def demo_domains() -> list[dict[str, Any]]:
    """The domains of the demo data set the `demo_source` fixture imports (60 domains, seed 1)."""
    return [r for r in demo.demo_records(60, 1) if r["type"] == "domain"]


def demo_domain(mode: str, *, idn: bool = False) -> str:
    """The A-label of the first demo domain in `mode` (an IDN one if asked)."""
    for record in demo_domains():
        a_label = normalize_domain_name(record["name"])
        if record["privacy_mode"] == mode and (a_label != record["name"]) == idn:
            return a_label
    raise LookupError(f"no demo domain in mode {mode} (idn={idn})")


def demo_u_label(a_label: str) -> str:
    return next(str(r["name"]) for r in demo_domains() if normalize_domain_name(r["name"]) == a_label)


def wait_until(predicate: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.005)
