"""The personal-data export (seed 004) on real SQLite and PostgreSQL: complete, schema-valid, nothing of another
account, no secret of any kind, and itself audited."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pyotp
import pytest
from argon2 import PasswordHasher
from conftest import FrozenClock
from sqlalchemy import Engine, event, select, text, update

from domainpriv import audit
from domainpriv.accounts import password_reset, sessions, two_factor
from domainpriv.accounts import services as credentials
from domainpriv.accounts.export import SCHEMA_ID, export_account
from domainpriv.audit import Actor
from domainpriv.notify.outbox import enqueue
from domainpriv.registration import services
from domainpriv.registration.errors import AccountNotFound
from domainpriv.registration.validation import validate_contact
from domainpriv.store import (
    Account,
    AccountKind,
    AuditEvent,
    Consent,
    ConsentPurpose,
    Domain,
    Notice,
    PrivacyMode,
    RegistrantChange,
    StaffRole,
    UnitOfWork,
    UnsubscribeLink,
    VerificationCode,
)
from support.builders import ACTOR, contact_fields, make_contact, make_domain

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "docs" / "export-schema.json").read_text("utf-8"))
FAST = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
PASSWORD = "correct horse battery staple"
EXPORTER = Actor("customer", "alpha")
IDN = "bäckerei-alpha.de"
DS = {"key_tag": 12345, "algorithm": 13, "digest_type": 2, "digest": "AB" * 32}


@dataclass
class World:
    account: str
    contacts: list[str]
    domains: list[str]
    secrets: list[str]  # plain tokens, session ids, codes and links handed out once: never in an export
    other: list[str]  # distinctive values of the other account: never in this account's export


def validate(document: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


def serialised(document: dict[str, Any]) -> str:
    return orjson.dumps(document).decode()


def open_account(uow: UnitOfWork, handle: str, name: str, email: str, parent: str | None = None) -> None:
    kind = AccountKind.RESELLER if handle.startswith("res-") else AccountKind.CUSTOMER
    services.create_account(uow, actor=ACTOR, handle=handle, kind=kind, name=name, email=email, parent=parent,
                            reason="test")  # fmt: skip


def add_rows(uow: UnitOfWork, *rows: object) -> None:
    with uow:
        uow.session.add_all(rows)
        uow.commit()


def ids(uow: UnitOfWork, handle: str) -> tuple[int, dict[str, int]]:
    with uow.reading() as r:
        account_id = r.session.scalar(select(Account.id).where(Account.handle == handle))
        assert account_id is not None
        domains = dict(r.session.execute(select(Domain.name, Domain.id).where(Domain.account_id == account_id)).all())
    return account_id, {str(k): v for k, v in domains.items()}


def populate(uow: UnitOfWork, clock: FrozenClock, handle: str, *, distinct: str, email: str, source: str) -> list[str]:
    """An account with something in every section; returns the secrets handed out."""
    secrets: list[str] = []
    first = make_contact(uow, handle, f"{distinct.upper()}C1", name=f"{distinct} Registrant",
                         email=f"{distinct}-reg@contacts.example", street=["1 Main St", "Floor 2"], state="Kent",
                         phone="+44.2079460001", phone_ext="12", fax="+44.2079460002")  # fmt: skip
    second = make_contact(uow, handle, f"{distinct.upper()}C2", name=f"{distinct} Tech", org=None,
                          email=f"{distinct}-tech@contacts.example")  # fmt: skip
    edited = contact_fields(name=f"{distinct} Tech", org=None, city="Leeds", email=f"{distinct}-tech@contacts.example")
    services.update_contact(uow, actor=ACTOR, handle=second.handle, data=validate_contact(edited), reason="typo")
    make_domain(uow, f"{distinct}-one.com", account=handle, registrant=first.handle, tech=second.handle,
                nameservers=[(f"ns1.{distinct}-dns.example", ["192.0.2.53"]), (f"ns2.{distinct}-dns.example", [])],
                ds_records=[DS])  # fmt: skip
    make_domain(uow, f"{distinct}-two.org", account=handle, registrant=first.handle, mode=PrivacyMode.PUBLIC)
    make_domain(uow, IDN.replace("alpha", distinct), account=handle, registrant=first.handle, admin=second.handle)
    services.set_privacy_mode(uow, actor=ACTOR, domain=f"{distinct}-one.com", mode="proxy", reason="asked")
    for granted in (True, False):
        services.record_consent(uow, actor=ACTOR, account=handle, purpose=ConsentPurpose.MARKETING,
                                granted=granted, source="portal", reason="test")  # fmt: skip
    account_id, domain_ids = ids(uow, handle)
    credentials.set_password(uow, actor=ACTOR, account=handle, password=PASSWORD, reason="test", hasher=FAST)
    logged_in = sessions.login(uow, account=handle, password=PASSWORD, source=source, hasher=FAST)
    secrets.append(logged_in.session_id)
    with pytest.raises(sessions.LoginRefused):
        sessions.login(uow, account=handle, password="wrong password!", source=source, hasher=FAST)
    secrets.append(credentials.issue_token(uow, actor=ACTOR, account=handle, name="deploy", reason="t").token)
    enrolment = two_factor.begin(uow, actor=ACTOR, account=handle)
    code = pyotp.TOTP(enrolment.secret).at(int(clock.now.timestamp()))
    secrets += [enrolment.secret, *two_factor.confirm(uow, actor=ACTOR, account=handle, code=code)]
    link = f"dp_{distinct}-reset-link-token-0123456789"
    with uow:
        enqueue(uow.session, now=clock.now, kind="contact-changed", to=f"{distinct}@mail.example", mandatory=True,
                subject=f"{distinct}: your contact changed", body=f"Open https://portal.example/password-reset/{link}",
                account_id=account_id)  # fmt: skip
        uow.commit()
    secrets.append(link)
    password_reset.request_reset(uow, email=email, link_base="https://portal.example/")
    with uow.reading() as r:
        mailed = r.session.scalars(select(Notice.body).where(Notice.kind == "password-reset")).all()
    reset_tokens = [m.group(1) for body in mailed if (m := re.search(r"password-reset/(dp_\S+)", body))]
    assert mailed and len(reset_tokens) == len(mailed)
    secrets += reset_tokens
    change_token = f"dp_{distinct}-registrant-change-token"
    new_registrant = contact_fields(name=f"{distinct} New Registrant", email=f"{distinct}-new@contacts.example")
    add_rows(
        uow,
        Consent(account_id=account_id, purpose=ConsentPurpose.PARTNER_OFFERS, granted=True, recorded_at=clock.now,
                source="portal", policy_version=f"{distinct}-2026-11"),
        RegistrantChange(domain_id=domain_ids[f"{distinct}-two.org"], digest=_sha(change_token),
                         new_data=json.dumps(new_registrant), requested_by=f"customer:{handle}", lock_opt_out=False,
                         created_at=clock.now, expires_at=clock.now + timedelta(days=7)),
        VerificationCode(account_id=account_id, digest=_sha(f"{distinct}-code"), created_at=clock.now,
                         expires_at=clock.now + timedelta(minutes=10), attempts=1),
        UnsubscribeLink(account_id=account_id, purpose=ConsentPurpose.MARKETING, digest=_sha(f"{distinct}-unsub"),
                        created_at=clock.now),
    )  # fmt: skip
    return [*secrets, change_token, f"{distinct}-code", f"{distinct}-unsub"]


def _sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@pytest.fixture
def world(uow: UnitOfWork, clock: FrozenClock) -> World:
    open_account(uow, "alpha", "Alpha Holder", "alpha@mail.example")
    open_account(uow, "zeb-other", "Zebediah Quuxley", "zebediah@elsewhere.example")
    secrets = populate(uow, clock, "alpha", distinct="alpha", email="alpha@mail.example", source="198.51.100.7")
    other_secrets = populate(uow, clock, "zeb-other", distinct="zebq", email="zebediah@elsewhere.example",
                             source="203.0.113.99")  # fmt: skip
    clock.advance(minutes=5)
    return World(
        account="alpha",
        contacts=["ALPHAC1", "ALPHAC2"],
        domains=["alpha-one.com", "alpha-two.org", "xn--bckerei-alpha-bfb.de"],
        secrets=secrets,
        other=["zeb-other", "Zebediah", "Quuxley", "zebediah@elsewhere.example", "zebq", "ZEBQ", "203.0.113.99",
               *other_secrets],
    )  # fmt: skip


def stored_secrets(engine: Engine) -> list[str]:
    """Every digest, hash and secret the database holds (credentials, links, the audit chain)."""
    queries = [
        "SELECT password_hash FROM account", "SELECT totp_secret FROM account", "SELECT digest FROM api_token",
        "SELECT digest FROM login_session", "SELECT digest FROM recovery_code", "SELECT digest FROM password_reset",
        "SELECT digest FROM unsubscribe_link", "SELECT digest FROM verification_code",
        "SELECT digest FROM registrant_change", "SELECT hash FROM audit_event", "SELECT prev_hash FROM audit_event",
        "SELECT before_digest FROM audit_event", "SELECT after_digest FROM audit_event", "SELECT body FROM notice",
    ]  # fmt: skip
    with engine.connect() as conn:
        values = [v for q in queries for v in conn.scalars(text(q)) if v]
    assert len(values) > 40
    return [str(v) for v in values if v != audit.GENESIS_HASH]


def test_the_export_holds_every_section_of_the_account_and_validates_against_the_documented_schema(
    uow: UnitOfWork, world: World, clock: FrozenClock
) -> None:
    doc = export_account(uow, actor=EXPORTER, account="alpha", reason="customer asked")
    validate(doc)
    assert doc["schema"] == SCHEMA_ID == SCHEMA["$id"]
    assert doc["generated_at"] == clock.now.isoformat().replace("+00:00", "Z")
    account = doc["account"]
    assert account["handle"] == "alpha" and account["kind"] == "customer" and account["name"] == "Alpha Holder"
    assert account["email"] == "alpha@mail.example" and account["staff_role"] is None and account["password_set"]
    assert account["two_factor"] == {"enabled": True, "enabled_at": "2026-11-01T12:00:00Z", "recovery_codes_left": 10}

    assert [c["handle"] for c in doc["contacts"]] == world.contacts
    first, second = doc["contacts"]
    assert first["street"] == ["1 Main St", "Floor 2"] and first["phone_ext"] == "12" and first["state"] == "Kent"
    assert first["fax"] == "+44.2079460002" and first["email"] == "alpha-reg@contacts.example"
    assert second["city"] == "Leeds" and second["org"] is None and second["verified_at"] is None

    by_name = {d["name"]: d for d in doc["domains"]}
    assert list(by_name) == sorted(world.domains)
    idn = by_name["xn--bckerei-alpha-bfb.de"]
    assert idn["unicode_name"] == IDN and idn["contacts"] == {"registrant": "ALPHAC1", "admin": "ALPHAC2",
                                                               "tech": None, "billing": None}  # fmt: skip
    one = by_name["alpha-one.com"]
    assert one["privacy_mode"] == "proxy" and one["ds_records"] == [DS] and one["statuses"] == ["ok"]
    assert one["nameservers"] == [{"host": "ns1.alpha-dns.example", "addresses": ["192.0.2.53"]},
                                  {"host": "ns2.alpha-dns.example", "addresses": []}]  # fmt: skip
    assert one["transfer_locked_until"] is None and one["registry_domain_id"]
    assert by_name["alpha-two.org"]["privacy_mode"] == "public" and by_name["alpha-two.org"]["nameservers"] == []

    ledger = [(c["purpose"], c["granted"], c["source"], c["policy_version"]) for c in doc["consents"]]
    assert ledger == [
        ("publish_contact_data", True, "portal", None),
        ("marketing", True, "portal", None),
        ("marketing", False, "portal", None),
        ("partner_offers", True, "portal", "alpha-2026-11"),
    ]
    notice, reset = doc["notices"]
    assert notice["kind"] == "contact-changed" and notice["state"] == "queued" and "body" not in notice
    assert reset["kind"] == "password-reset" and reset["mandatory"] and "body" not in reset
    assert notice["to_address"] == "alpha@mail.example" and notice["subject"] == "alpha: your contact changed"
    [session] = doc["sessions"]
    assert session["source"] == "198.51.100.7" and session["ended_at"] is None
    assert [(a["succeeded"], a["source"]) for a in doc["logins"]] == [(True, "198.51.100.7"), (False, "198.51.100.7")]
    [token] = doc["api_tokens"]
    assert token["name"] == "deploy" and token["revoked_at"] is None
    [change] = doc["registrant_changes"]
    assert change["domain"] == "alpha-two.org" and change["state"] == "pending" and not change["lock_opt_out"]
    assert change["new_registrant"]["name"] == "alpha New Registrant"
    assert doc["password_resets"] == [
        {"created_at": "2026-11-01T12:00:00Z", "expires_at": "2026-11-01T13:00:00Z", "used_at": None}
    ]
    assert [v["attempts"] for v in doc["verification_codes"]] == [1]
    assert doc["unsubscribe_links"] == [{"purpose": "marketing", "created_at": "2026-11-01T12:00:00Z"}]

    events = doc["audit_events"]
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    keys = {("account", "alpha"), *(("contact", h) for h in world.contacts), *(("domain", n) for n in world.domains)}
    assert {(e["object_type"], e["object_key"]) for e in events} == keys
    assert {e["action"] for e in events} >= {
        "account::create", "contact::create", "contact::update", "domain::create", "domain:privacy:set",
        "account:consent:grant", "account:consent:withdraw", "account:password:set", "account:session:start",
        "account:token:issue", "account:2fa:begin", "account:2fa:enable",
    }  # fmt: skip
    started = next(e for e in events if e["action"] == "account:session:start")
    assert started["details"]["session_id"] == session["id"] and started["actor"] == "customer:alpha"
    issued = next(e for e in events if e["action"] == "account:token:issue")
    assert issued["details"] == {"token_id": token["id"], "name": "deploy"}
    privacy = next(e for e in events if e["action"] == "domain:privacy:set")
    assert privacy["details"] == {"from": "redacted", "to": "proxy"} and privacy["reason"] == "asked"
    with uow.reading() as r:
        about = r.session.scalars(select(AuditEvent).where(AuditEvent.action != "account:export")).all()
        assert len(events) == len([e for e in about if (e.object_type, e.object_key) in keys])


def test_the_export_holds_nothing_of_another_account(uow: UnitOfWork, world: World) -> None:
    exported = serialised(export_account(uow, actor=EXPORTER, account="alpha", reason="customer asked"))
    for value in world.other:
        assert value not in exported and value.lower() not in exported.lower(), value
    assert "alpha-one.com" in exported  # the check above looks at a real export


def test_the_export_never_holds_a_digest_a_hash_a_secret_or_a_link(
    uow: UnitOfWork, world: World, engine: Engine
) -> None:
    exported = serialised(export_account(uow, actor=EXPORTER, account="alpha", reason="customer asked"))
    for value in [*stored_secrets(engine), *world.secrets]:
        assert value not in exported, value
    assert "$argon2" not in exported and "password-reset/" not in exported and "dp_" not in exported


def test_the_export_is_audited_without_personal_data_in_the_same_transaction(uow: UnitOfWork, world: World) -> None:
    doc = export_account(uow, actor=Actor("staff", "support-sam"), account="alpha", reason="ticket 4711")
    with uow.reading() as r:
        last = r.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (last.action, last.actor, last.object_type, last.object_key) == (
        "account:export", "staff:support-sam", "account", "alpha")  # fmt: skip
    assert last.reason == "ticket 4711" and last.before_digest is None
    assert last.after_digest == audit.digest(doc)  # what was handed out can be proved later; the log holds none of it
    details = orjson.loads(last.details)
    assert details["domains"] == 3 and details["contacts"] == 2 and all(isinstance(v, int) for v in details.values())
    for personal in ("Alpha Holder", "alpha@mail.example", "alpha-one.com", "ALPHAC1", "198.51.100.7"):
        assert personal not in last.details
    again = export_account(uow, actor=EXPORTER, account="alpha", reason="again")
    assert again["audit_events"][-1]["action"] == "account:export"  # the next export lists the previous one
    assert again["audit_events"][-1]["actor"] == "staff:support-sam"
    assert audit.verify_audit_log(uow).events == last.seq + 1


def test_an_unknown_account_is_named_and_nothing_is_audited(uow: UnitOfWork, world: World) -> None:
    with uow.reading() as r:
        before = r.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
    with pytest.raises(AccountNotFound, match="account ghost not found"):
        export_account(uow, actor=EXPORTER, account="ghost", reason="test")
    with uow.reading() as r:
        assert r.session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) == before


def test_a_resellers_export_holds_none_of_its_customers_and_a_customer_names_a_shared_contact_by_handle_only(
    uow: UnitOfWork,
) -> None:
    open_account(uow, "res-rho", "Rho Reselling", "rho@reseller.example")
    open_account(uow, "cust-sigma", "Sigma Customer", "sigma@customer.example", parent="res-rho")
    shared = make_contact(uow, "res-rho", "RHOTECH", name="Rho Tech Desk", email="tech@reseller.example")
    own = make_contact(uow, "cust-sigma", "SIGMAREG", name="Sigma Person", email="sigma-reg@customer.example")
    make_domain(uow, "sigma-shop.com", account="cust-sigma", registrant=own.handle, tech=shared.handle)

    customer = export_account(uow, actor=EXPORTER, account="cust-sigma", reason="test")
    validate(customer)
    assert customer["account"]["reseller"] == "res-rho"
    assert customer["domains"][0]["contacts"]["tech"] == "RHOTECH"
    assert [c["handle"] for c in customer["contacts"]] == ["SIGMAREG"]
    assert "Rho Tech Desk" not in serialised(customer) and "tech@reseller.example" not in serialised(customer)

    reseller = serialised(export_account(uow, actor=EXPORTER, account="res-rho", reason="test"))
    for value in ("cust-sigma", "Sigma", "sigma", "SIGMAREG"):
        assert value not in reseller, value
    assert "RHOTECH" in reseller


def test_a_staff_account_shows_its_role(uow: UnitOfWork, engine: Engine) -> None:
    open_account(uow, "staff-tau", "Tau Staff", "tau@registrar.example")
    with engine.begin() as conn:
        conn.execute(update(Account).where(Account.handle == "staff-tau").values(kind=AccountKind.STAFF,
                                                                               staff_role=StaffRole.LEGAL))  # fmt: skip
    doc = export_account(uow, actor=EXPORTER, account="staff-tau", reason="test")
    validate(doc)
    assert doc["account"]["kind"] == "staff" and doc["account"]["staff_role"] == "legal"
    assert not doc["account"]["password_set"] and not doc["account"]["two_factor"]["enabled"]


def test_the_number_of_statements_does_not_grow_with_the_domains(uow: UnitOfWork, engine: Engine) -> None:
    """No statement per domain: an account can hold 10,000."""
    open_account(uow, "phi-many", "Phi Many", "phi@mail.example")
    registrant = make_contact(uow, "phi-many", "PHIREG").handle
    ns = [("ns.phi.example", ["192.0.2.1"])]

    def statements_to_export(domains: int) -> int:
        seen: list[object] = []

        def count(*execution: object) -> None:
            seen.append(execution[2])  # the statement

        event.listen(engine, "before_cursor_execute", count)
        try:
            doc = export_account(uow, actor=EXPORTER, account="phi-many", reason="test")
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert len(doc["domains"]) == domains and all(d["nameservers"] for d in doc["domains"])
        return len(seen)

    for i in range(2):
        make_domain(uow, f"phi-{i}.com", account="phi-many", registrant=registrant, nameservers=ns)
    few = statements_to_export(2)
    for i in range(2, 25):
        make_domain(uow, f"phi-{i}.com", account="phi-many", registrant=registrant, nameservers=ns)
    assert statements_to_export(25) == few
