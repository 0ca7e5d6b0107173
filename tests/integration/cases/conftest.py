"""Fixtures of the case tests: settings with a temporary evidence folder and a calendar, a reseller's customer with
a proxy-protected domain, and helpers to open cases and read their notices."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from domainpriv.audit import Actor
from domainpriv.cases import CaseSnapshot, Requester, open_case
from domainpriv.config import Settings, load_settings
from domainpriv.store import AccountKind, AuditEvent, Notice, PrivacyMode, UnitOfWork
from support.builders import make_account, make_contact, make_domain

STAFF = Actor("staff", "legal-1")
CLI = Actor("cli", "operator")
DOMAIN = "shop.example"
REGISTRANT_EMAIL = "owner@private.example"
# The customer's data that must never reach the requester unless approved (the registrant's contact).
REGISTRANT = {"name": "Rita Registrant", "org": "Hidden Shop GmbH", "street": ["Geheimweg 9"], "city": "Versteck",
              "postal_code": "80999", "country": "DE", "phone": "+49.8912345678",
              "email": REGISTRANT_EMAIL}  # fmt: skip
REQUESTER = Requester(name="Carl Complainant", email="carl@brand.example", org="Brand Holdings",
                      address="1 Brand Street, Brandtown", phone="+1.5555550100")  # fmt: skip


def case_settings(tmp_path: Path, **cases: Any) -> Settings:
    base = load_settings(environ={})
    values: dict[str, Any] = {"evidence_dir": tmp_path / "evidence", "deactivation": "hold", "holiday_country": "US"}
    values.update(cases)
    return base.model_copy(update={"cases": base.cases.model_copy(update=values)})


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return case_settings(tmp_path)


@dataclass(frozen=True)
class World:
    domain: str
    customer: str
    reseller: str
    other_customer: str
    other_domain: str


@pytest.fixture
def world(uow: UnitOfWork) -> World:
    """Reseller `res-1` with customer `cust-1`, whose domain shop.example is proxy-protected; `cust-2` alone."""
    make_account(uow, "res-1", kind=AccountKind.RESELLER)
    make_account(uow, "cust-1", parent="res-1")
    make_account(uow, "cust-2")
    reg = make_contact(uow, "cust-1", "REG-1", **REGISTRANT)
    tech = make_contact(uow, "cust-1", "TECH-1", name="Tom Tech", email="tom@tech.example", org=None)
    make_domain(uow, DOMAIN, account="cust-1", mode=PrivacyMode.PROXY, registrant=reg.handle, tech=tech.handle,
                nameservers=[("ns1.dns.example", []), ("ns2.dns.example", [])])  # fmt: skip
    make_domain(uow, "other.example", account="cust-2")
    return World(DOMAIN, "cust-1", "res-1", "cust-2", "other.example")


def open_complaint(uow: UnitOfWork, settings: Settings, **overrides: Any) -> CaseSnapshot:
    values: dict[str, Any] = {"actor": CLI, "kind": "complaint", "domain": DOMAIN, "requester": REQUESTER,
                              "text": "The site sells counterfeits of our trademark BRAND.",
                              "fields": "registrant.name,registrant.email"}  # fmt: skip
    values.update(overrides)
    return open_case(uow, settings, **values)


def open_request(uow: UnitOfWork, settings: Settings, **overrides: Any) -> CaseSnapshot:
    values: dict[str, Any] = {"actor": CLI, "kind": "disclosure", "domain": DOMAIN, "requester": REQUESTER,
                              "text": "We need the registrant to serve a claim.",
                              "legal_basis": "GDPR Art. 6(1)(f): establishment of legal claims",
                              "fields": ["registrant.name", "registrant.email", "registrant.phone"]}  # fmt: skip
    values.update(overrides)
    return open_case(uow, settings, **values)


def notices(uow: UnitOfWork, kind: str | None = None, to: str | None = None) -> list[Notice]:
    with uow.reading() as r:
        q = select(Notice).order_by(Notice.id)
        if kind is not None:
            q = q.where(Notice.kind == kind)
        if to is not None:
            q = q.where(Notice.to_address == to)
        return list(r.session.scalars(q))


def audit_actions(uow: UnitOfWork, prefix: str = "case:") -> list[str]:
    with uow.reading() as r:
        return list(r.session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith(prefix))
                                      .order_by(AuditEvent.seq)))  # fmt: skip


def history(case: CaseSnapshot) -> list[str]:
    return [e.action for e in case.history]


def leaks(text: str, allowed: Iterable[str] = ()) -> list[str]:
    """Values of the registrant's contact (the customer's PII) found in `text`, except the `allowed` ones."""
    values = [REGISTRANT[k] for k in ("name", "org", "city", "postal_code", "phone", "email")]
    values += list(REGISTRANT["street"])  # type: ignore[arg-type]
    values += ["Tom Tech", "tom@tech.example", "+49.8912345678", "cust-1@mail.example"]
    return [v for v in values if v in text and v not in set(allowed)]
