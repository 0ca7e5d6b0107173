"""Import contracts from DESIGN.md: arrows run interfaces -> services -> store, pure modules do no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "domainpriv"


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


PURE = ["registration/validation.py", "registration/rules.py", "registration/records.py", "transfer/jsonl.py",
        "vocabulary.py", "privacy/record.py", "privacy/policy.py", "privacy/relay.py", "rdds/whois_text.py",
        "rdds/rdap_json.py", "rdds/rdap_notices.py", "cases/states.py", "cases/calendar.py",
        "cases/fields.py"]  # fmt: skip
NO_IO = ("socket", "asyncio", "subprocess", "urllib", "http", "requests", "httpx", "logging")


@pytest.mark.parametrize("module", PURE)
def test_pure_modules_touch_no_database(module: str) -> None:
    bad = {n for n in imports_of(PACKAGE / module) if n.startswith(("sqlalchemy", "psycopg", "sqlite3"))}
    bad |= {n for n in imports_of(PACKAGE / module) if n.startswith("domainpriv.store.") and n != "domainpriv.store"}
    assert not bad


@pytest.mark.parametrize("module", [m for m in PURE if m.startswith(("privacy/", "rdds/"))])
def test_the_public_view_and_renderers_do_no_io(module: str) -> None:
    """DESIGN: `privacy/` and the renderers do no I/O and import nothing from `store/`."""
    imported = imports_of(PACKAGE / module)
    assert not {n for n in imported if n.split(".")[0] in NO_IO}
    assert not {n for n in imported if n == "domainpriv.store" or n.startswith("domainpriv.store.")}


def test_cli_never_reaches_into_models_or_sql() -> None:
    imported = imports_of(PACKAGE / "cli.py")
    assert not {n for n in imported if n.startswith("sqlalchemy")}
    assert not {n for n in imported if n.startswith("domainpriv.store.") and n != "domainpriv.store.migrate"}


def test_no_module_commits_outside_a_service() -> None:
    """Only services (and the unit of work itself) may commit; CLI, import helpers and jobs never do."""
    allowed = {
        "store/session.py",
        "registration/services.py",
        "transfer/importer.py",
        "audit.py",
        "changes/services.py",
        "escrow/services.py",
        # service modules of accounts/ and notify/, one per capability (credentials, sessions, two-factor, delivery)
        "accounts/services.py",
        "accounts/sessions.py",
        "accounts/two_factor.py",
        "accounts/password_reset.py",
        "accounts/export.py",
        "notify/delivery.py",
        "notify/mailings.py",
        "accounts/reverify.py",
        "accounts/staff.py",
        # self-service: registration services composed with their notices in one transaction
        "selfservice/changes.py",
        "selfservice/registrant_change.py",
        "selfservice/consents.py",
        # cases: each action one transaction; the sweep and the DNS steps one per claimed case
        "cases/intake.py",
        "cases/transitions.py",
        "cases/deadlines.py",
        "cases/deactivation.py",
    }
    offenders = [
        str(p.relative_to(PACKAGE))
        for p in PACKAGE.rglob("*.py")
        if ".commit()" in p.read_text(encoding="utf-8") and str(p.relative_to(PACKAGE)) not in allowed
    ]
    assert offenders == []
