"""`domainpriv case open|list|show|act` and `sweep` as an operator runs them on the demo data, on both backends:
a complaint runs through notice, deadline (the clock moved past it with `faketime`, as README's walk-through
does), deactivation visible in WHOIS, disclosure; an illegal action is one `error:` line naming the state."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from domainpriv.cli import app
from domainpriv.demo import demo_records


def env(db_url: str, cwd: Path) -> dict[str, str]:
    return {"DOMAINPRIV_DATABASE_URL": db_url, "DOMAINPRIV_CASES_EVIDENCE_DIR": str(cwd / "evidence"),
            "DOMAINPRIV_CASES_DEACTIVATION": "hold", "DOMAINPRIV_ESCROW_AGENT_PUBLIC_KEY": "",
            "DOMAINPRIV_MAIL_SMTP_PORT": "9"}  # fmt: skip


class Cli:
    """The commands run in this process (Typer's runner: one import for the whole test), with the environment
    an operator would set; `subprocess()` runs one as a real process, for the exit status and the error line."""

    def __init__(self, db_url: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.db_url, self.cwd = db_url, cwd
        for key in [k for k in os.environ if k.startswith("DOMAINPRIV_")]:
            monkeypatch.delenv(key)
        for key, value in env(db_url, cwd).items():
            monkeypatch.setenv(key, value)
        monkeypatch.chdir(cwd)

    def __call__(self, *args: str) -> str:
        result = CliRunner().invoke(app, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    def subprocess(self, *args: str, later: str | None = None) -> subprocess.CompletedProcess[str]:
        """One command as a real process; `later` ("+20 days") runs it under faketime, the clock moved on."""
        clean = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
        shifted = ["faketime", later] if later else []
        return subprocess.run([*shifted, sys.executable, "-m", "domainpriv", *args], cwd=self.cwd,
                              env=clean | env(self.db_url, self.cwd), capture_output=True, text=True, timeout=120,
                              check=False)  # fmt: skip


LATER = "+20 days"


@pytest.mark.skipif(
    shutil.which("faketime") is None and os.environ.get("DOMAINPRIV_REQUIRE_SERVICES") != "1",
    reason="faketime is not installed (Debian package faketime)",
)
def test_a_complaint_filed_with_case_open_runs_to_disclosure_with_the_cli(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cli = Cli(db_url, tmp_path, monkeypatch)
    cli("db", "upgrade")
    cli("demo", "load", "--domains", "12")
    domain = next(r["name"] for r in demo_records(12, 1) if r["type"] == "domain" and r["privacy_mode"] == "proxy")
    (tmp_path / "screenshot.png").write_bytes(b"\x89PNG fake shop")

    opened = cli("case", "open", "--domain", domain, "--kind", "complaint", "--requester-name",
                 "Carl Complainant", "--requester-email", "carl@brand.example", "--fields",
                 "registrant.name,registrant.email", "--text", "Counterfeits of BRAND.", "--evidence",
                 str(tmp_path / "screenshot.png"))  # fmt: skip
    case_id = opened.strip()
    assert case_id.isdigit()
    refused = cli.subprocess("case", "act", case_id, "disclose", "--fields", "registrant.name")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.startswith("error: cannot disclose: the complaint case is received")
    cli("case", "act", case_id, "accept", "--reason", "specific")
    assert "customer_notified" in cli("case", "act", case_id, "notify-customer")

    # Time passes: 20 days later the deadline (10 business days) is behind us.
    assert "deadline" not in cli("sweep")  # today: nothing of the case is due
    swept = cli.subprocess("sweep", later=LATER)
    assert swept.returncode == 0, swept.stderr
    assert "deadline passed" in swept.stdout and f"domain {domain} deactivated" in swept.stdout
    assert "clientHold" in cli("whois", domain)
    disclosed = cli.subprocess("case", "act", case_id, "disclose", "--fields", "registrant.name", "--reason",
                               "silent", later=LATER)  # fmt: skip
    assert disclosed.returncode == 0, disclosed.stderr

    shown = orjson.loads(cli("case", "show", case_id, "--json"))
    assert shown["state"] == "disclosed" and shown["kind"] == "complaint" and shown["domain"] == domain
    assert [e["action"] for e in shown["history"]] == ["open", "accept", "notify-customer", "deadline-passed",
                                                       "deactivate", "disclose"]  # fmt: skip
    assert shown["evidence"][0]["name"] == "screenshot.png" and len(shown["evidence"][0]["sha256"]) == 64
    assert shown["disclosures"][0]["fields"] == ["registrant.name"]
    listed = orjson.loads(cli("case", "list", "--state", "disclosed", "--json"))
    assert [c["id"] for c in listed] == [int(case_id)]
    rows = list(csv.DictReader(io.StringIO(cli("case", "list", "--csv", "--kind", "complaint"))))
    assert rows[0]["fields_released"] == "registrant.name" and rows[0]["state"] == "disclosed"
    text = cli("case", "show", shown["reference"])
    assert "deactivate" in text and "state: disclosed" in text
    assert "audit chain intact" in cli("audit", "verify")
