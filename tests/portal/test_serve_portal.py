"""`domainpriv serve` answers the portal on its own port beside WHOIS and RDAP (a subprocess, as an operator
runs it), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

from support.daemons import cli, daemon, rdap
from support.ports import free_port


def test_serve_answers_the_portal_login_page_on_the_portal_port(db_url: str, tmp_path: Path) -> None:
    cli(db_url, "db", "upgrade")
    cli(db_url, "demo", "load", "--domains", "5")
    port = free_port()
    with daemon(db_url, tmp_path, extra_env={"DOMAINPRIV_PORTAL_PORT": str(port)}) as (_, _, rdap_port):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as answer:
            assert answer.status == 200
            page = answer.read().decode()
            headers = answer.headers
        assert 'name="csrf"' in page and 'name="password"' in page
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"] and "dp_csrf=" in headers["Set-Cookie"]
        assert headers.get("Server") is None  # the daemon's uvicorn does not name itself
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/openapi.json", timeout=10) as answer:
            assert json.loads(answer.read())["info"]["title"] == "domainpriv API"
        assert rdap(rdap_port, "no-such-domain.example")[0] == 404  # RDAP still answers beside it
