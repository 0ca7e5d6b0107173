"""The disclosure ledger in the personal-data export (issue 10 point 6): the registrant sees who received which of
its data, on real SQLite and PostgreSQL; another account's disclosures are not in it."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from domainpriv import cases
from domainpriv.accounts.export import export_account
from domainpriv.audit import Actor
from domainpriv.config import load_settings
from domainpriv.store import UnitOfWork
from support.builders import make_account, make_contact, make_domain

SCHEMA = json.loads((Path(__file__).parents[3] / "docs" / "export-schema.json").read_text(encoding="utf-8"))
STAFF = Actor("cli", "legal-team")


def test_a_disclosure_is_in_the_registrants_export_and_no_one_elses(uow: UnitOfWork, tmp_path: Path) -> None:
    base = load_settings(environ={})
    settings = base.model_copy(update={"cases": base.cases.model_copy(update={"evidence_dir": tmp_path / "ev",
                                                                             "deactivation": "hold"})})  # fmt: skip
    make_account(uow, "cust-a")
    make_account(uow, "cust-b")
    make_contact(uow, "cust-a", "REG-A", name="Rita Registrant", email="rita@a.example")
    make_contact(uow, "cust-b", "REG-B", email="reg@b.example")
    make_domain(uow, "a-shop.example", account="cust-a", registrant="REG-A")
    make_domain(uow, "b-shop.example", account="cust-b", registrant="REG-B")
    requester = cases.Requester(name="Carl Complainant", email="carl@brand.example", org="Brand Holdings")
    case = cases.open_case(uow, settings, actor=STAFF, kind="complaint", domain="a-shop.example",
                           requester=requester, text="Counterfeits of BRAND.", fields="registrant.name", urgent=True,
                           legal_basis="court order 12/2026")  # fmt: skip
    for action in ("accept-legal-order", "accept"):
        cases.act(uow, case.id, action, settings=settings, actor=STAFF, reason="court order 12/2026")
    cases.act(uow, case.id, "disclose", settings=settings, actor=STAFF, fields=["registrant.name"],
              reason="court order 12/2026")  # fmt: skip

    mine = export_account(uow, actor=STAFF, account="cust-a", reason="subject access request")
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(mine)
    (entry,) = mine["disclosures"]
    assert entry["case"] == case.reference and entry["domain"] == "a-shop.example"
    assert (entry["recipient_name"], entry["recipient_org"], entry["fields"]) == (
        "Carl Complainant", "Brand Holdings", ["registrant.name"])  # fmt: skip
    assert entry["legal_order"] is True and entry["at"].endswith("Z")
    assert export_account(uow, actor=STAFF, account="cust-b", reason="subject access request")["disclosures"] == []
