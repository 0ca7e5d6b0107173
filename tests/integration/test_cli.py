"""The `domainpriv` command end to end, as an operator runs it, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from sqlalchemy import select, update

from domainpriv.store import AuditEvent, make_engine


class Cli:
    def __init__(self, db_url: str, cwd: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("DOMAINPRIV_")}
        self.env["DOMAINPRIV_DATABASE_URL"] = db_url
        self.cwd = cwd

    def __call__(self, *args: str, ok: bool = True, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [sys.executable, "-m", "domainpriv", *args],
            cwd=self.cwd,
            env=self.env,
            input=stdin.decode() if stdin is not None else None,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if ok:
            assert proc.returncode == 0, proc.stderr
        return proc


@pytest.fixture
def cli(db_url: str, tmp_path: Path) -> Cli:
    return Cli(db_url, tmp_path)


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    assert "upgraded from empty to" in cli("db", "upgrade").stdout
    assert "already at revision" in cli("db", "upgrade").stdout


def test_demo_load_show_privacy_export_import_and_verify(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    assert "loaded 25 domains" in cli("demo", "load", "--domains", "25", "--seed", "5").stdout
    assert "already holds 25 domains" in cli("demo", "load").stdout
    summary = cli("demo", "summary").stdout
    assert "domains: proxy" in summary and "accounts: reseller" in summary

    exported = cli("export").stdout.encode()
    domains = [orjson.loads(x) for x in exported.splitlines() if b'"type":"domain"' in x]
    name = domains[0]["name"]
    shown = orjson.loads(cli("domain", "show", name.upper(), "--json").stdout)
    assert shown["name"] == name and set(shown["contacts"]) == {"registrant", "admin", "tech", "billing"}
    assert f"name: {name}" in cli("domain", "show", name).stdout

    assert "privacy mode is now proxy" in cli("privacy", "set", name, "proxy", "--reason", "ticket 42").stdout
    assert orjson.loads(cli("domain", "show", name, "--json").stdout)["privacy_mode"] == "proxy"

    out_file = tmp_path / "dump.jsonl"
    cli("export", "-o", str(out_file))
    assert out_file.read_bytes() == cli("export").stdout.encode()
    assert not list(tmp_path.glob(".dump.jsonl.*"))

    second = Cli(f"sqlite:///{tmp_path / 'second.sqlite3'}", tmp_path)
    second("db", "upgrade")
    assert "imported 25 domains" in second("import", str(out_file)).stdout
    assert second("export").stdout.encode() == out_file.read_bytes()
    assert "audit chain intact" in cli("audit", "verify").stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("domain", "show", "nosuch.example"), "domain nosuch.example not found"),
        (("domain", "show", "xn--zz-.example"), "name:"),
        (("privacy", "set", "nosuch.example", "proxy"), "not found"),
        (("privacy", "set", "nosuch.example", "invisible"), "mode: must be one of"),
        (("import", "/nonexistent/file.jsonl"), "cannot read"),
        (("export", "-o", "/nonexistent/folder/out.jsonl"), "cannot write /nonexistent/folder/out.jsonl"),
    ],
)
def test_errors_are_one_clear_line(cli: Cli, args: tuple[str, ...], message: str) -> None:
    cli("db", "upgrade")
    proc = cli(*args, ok=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_config_key_is_named(cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[whois]\nprot = 43\n", encoding="utf-8")
    proc = cli("--config", str(config), "db", "upgrade", ok=False)
    assert proc.returncode == 1 and "whois.prot: unknown key" in proc.stderr
    cli.env["DOMAINPRIV_WHOIS_PROT"] = "43"
    assert "DOMAINPRIV_WHOIS_PROT" in cli("db", "upgrade", ok=False).stderr


def test_rejected_import_names_the_line_and_changes_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    cli("demo", "load", "--domains", "5")
    before = cli("export").stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(
        b'{"type":"header","format":"domainpriv-registrations","version":1}\n'
        b'{"type":"account","handle":"new-one","kind":"customer","name":"N","email":"n@mail.example",'
        b'"created_at":"2020-01-01T00:00:00Z"}\n'
        b'{"type":"contact","handle":"CNEW1","account":"new-one","name":"N","city":"X","country":"ZZ",'
        b'"email":"n@mail.example"}\n'
    )
    proc = cli("import", str(bad), ok=False)
    assert proc.returncode == 1 and "line 3: contact.country" in proc.stderr
    assert cli("export").stdout == before


def test_audit_verify_fails_on_tampering(cli: Cli, db_url: str) -> None:
    cli("db", "upgrade")
    cli("demo", "load", "--domains", "5")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 1).values(reason="edited"))
    engine.dispose()
    proc = cli("audit", "verify", ok=False)
    assert proc.returncode == 1 and "audit chain broken at event 1" in proc.stderr


def test_account_export_writes_one_sorted_json_document_mode_0600_and_is_audited(
    cli: Cli, db_url: str, tmp_path: Path
) -> None:
    cli("db", "upgrade")
    cli("demo", "load", "--domains", "5")
    lines = [orjson.loads(x) for x in cli("export").stdout.splitlines()]
    handle = next(x["account"] for x in lines if x["type"] == "domain")
    target = tmp_path / "export.json"
    target.write_text("old", encoding="utf-8")
    target.chmod(0o644)
    cli("account", "export", handle, "-o", str(target), "--reason", "ticket 99")
    assert target.stat().st_mode & 0o777 == 0o600 and not list(tmp_path.glob(".export.json.*"))
    written = target.read_bytes()
    doc = orjson.loads(written)
    assert written == orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    assert doc["account"]["handle"] == handle and doc["domains"] and doc["contacts"]
    assert b"\\u" not in written  # UTF-8 as is, not escaped
    assert orjson.loads(cli("account", "export", handle, "--reason", "again").stdout)["account"] == doc["account"]

    engine = make_engine(db_url)
    with engine.connect() as conn:
        events = conn.execute(
            select(AuditEvent.actor, AuditEvent.object_key, AuditEvent.reason).where(
                AuditEvent.action == "account:export"
            )
        ).all()
    engine.dispose()
    assert [(key, reason) for _, key, reason in events] == [(handle, "ticket 99"), (handle, "again")]
    assert all(actor.startswith("cli:") for actor, _, _ in events)
    assert "audit chain intact" in cli("audit", "verify").stdout


def test_account_export_needs_a_reason_and_names_an_unknown_account_writing_nothing(cli: Cli, tmp_path: Path) -> None:
    cli("db", "upgrade")
    assert cli("account", "export", "somebody", ok=False).returncode == 2  # usage: --reason is required
    target = tmp_path / "ghost.json"
    proc = cli("account", "export", "ghost", "-o", str(target), "--reason", "test", ok=False)
    assert proc.returncode == 1 and proc.stderr.startswith("error: account ghost not found")
    assert not target.exists() and not list(tmp_path.glob(".ghost.json.*"))
    proc = cli("account", "export", "ghost", "-o", "/nonexistent/folder/x.json", "--reason", "test", ok=False)
    assert proc.returncode == 1 and "cannot write /nonexistent/folder/x.json" in proc.stderr  # before any export
