"""schemathesis against /api/v1/openapi.json of a real uvicorn server on a loopback port, authenticated with
customer A's token: no 5xx, no answer outside the schema, bounded in examples and time (at most 15 s of
generation on each of SQLite and PostgreSQL).

Every check runs but one, left out deliberately: `positive_data_acceptance` (ST202, "schema-valid request
rejected"). The request schemas give types and lengths only; the content rules (a mode is proxy, redacted or
public; a contact needs a name; a host name is a host name) live once, in the services
(registration/validation.py), which answer 422 naming the field — which ST202 reports for every such body."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from portal.kit import Population, portal_settings

from domainpriv.portal.app import build_portal
from domainpriv.store import UnitOfWork
from support.ports import HOST

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
def live_portal(uow: UnitOfWork, population: Population) -> Iterator[str]:
    """The portal under uvicorn on 127.0.0.1, on a socket bound before the server starts."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((HOST, 0))
    port = sock.getsockname()[1]
    base = f"http://{HOST}:{port}"
    app = build_portal(portal_settings(DOMAINPRIV_PORTAL_BASE_URL=f"{base}/"), uow)
    config = uvicorn.Config(app, host=HOST, port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="portal-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_portal: str, population: Population, tmp_path: Path
) -> None:
    command = [
        str(SCHEMATHESIS), "run", f"{live_portal}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {population['cust-a'].token}",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        "--max-examples", "5", "--max-time", "15", "--workers", "2",
        "--request-timeout", "10", "--no-color", "--suppress-health-check", "all",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, f"schemathesis exit {run.returncode}\n{run.stdout[-12000:]}\n{run.stderr[-3000:]}"
