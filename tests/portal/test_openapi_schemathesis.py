"""schemathesis against /api/v1/openapi.json of a real uvicorn server on a loopback port, authenticated with
customer A's token: no 5xx, no answer outside the schema, bounded in examples and time (at most 15 s of
generation on each of SQLite and PostgreSQL).

Every check runs but one, left out deliberately: `positive_data_acceptance` (ST202, "schema-valid request
rejected"). The request schemas give types and lengths only; the content rules (a mode is proxy, redacted or
public; a contact needs a name; a host name is a host name) live once, in the services
(registration/validation.py), which answer 422 naming the field — which ST202 reports for every such body."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from portal.kit import Population, serving

from domainpriv.store import UnitOfWork

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.fixture
def live_portal(uow: UnitOfWork, population: Population) -> Iterator[str]:
    with serving(uow) as base:
        yield base


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    live_portal: str, population: Population, tmp_path: Path
) -> None:
    command = [
        str(SCHEMATHESIS), "run", f"{live_portal}/api/v1/openapi.json",
        "--header", f"Authorization: Bearer {population['cust-a'].token}",
        "--checks", "all", "--exclude-checks", "positive_data_acceptance",
        # One worker: with two threads, hypothesis's lambda descriptions (ast.parse) race in CPython 3.11.7's AST
        # constructor, whose recursion counter is shared by the threads ("SystemError: AST constructor recursion
        # depth mismatch", cpython#106905, fixed in later releases): a runtime error of the tool, not a finding.
        "--max-examples", "5", "--max-time", "15", "--workers", "1",
        "--request-timeout", "10", "--no-color", "--suppress-health-check", "all",
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert run.returncode == 0, f"schemathesis exit {run.returncode}\n{run.stdout[-12000:]}\n{run.stderr[-3000:]}"
