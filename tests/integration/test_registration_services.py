"""Registration services on real SQLite and PostgreSQL: rules, audit events, and all-or-nothing failures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import Engine, select

from domainpriv.audit import verify_chain
from domainpriv.registration import services
from domainpriv.registration.errors import (
    AccountNotFound,
    ConsentMissing,
    ContactNotFound,
    ContactNotOwned,
    DomainExists,
    DomainNotFound,
    InvalidAccountHierarchy,
    ValidationError,
)
from domainpriv.registration.validation import validate_contact
from domainpriv.store import AccountKind, AuditEvent, PrivacyMode, UnitOfWork
from support.builders import (
    ACTOR,
    contact_fields,
    grant_publish_consent,
    make_account,
    make_contact,
    make_domain,
)
from support.counting import table_counts


def audit_events(uow: UnitOfWork) -> list[AuditEvent]:
    with uow.reading() as r:
        return list(r.session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_create_domain_stores_a_label_and_all_four_roles(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    reg = make_contact(uow, acct).handle
    tech = make_contact(uow, acct, name="Tech Person", email="tech@engines.example").handle
    record = make_domain(
        uow,
        "Bücher.Example.COM",
        account=acct,
        registrant=reg,
        admin=reg,
        tech=tech,
        billing=reg,
        nameservers=[("NS1.Example.net", ["192.0.2.1", "2001:DB8::1"])],
    )
    assert record.name == "xn--bcher-kva.example.com"
    assert record.u_label == "bücher.example.com"
    stored = services.get_domain(uow, name="bücher.example.com")
    assert stored == record
    assert {r: c.handle if c else None for r, c in stored.contacts.items()} == {
        "registrant": reg,
        "admin": reg,
        "tech": tech,
        "billing": reg,
    }
    assert stored.nameservers[0].host == "ns1.example.net"
    assert stored.nameservers[0].addresses == ("192.0.2.1", "2001:db8::1")
    assert stored.expires_at.year == stored.created_at.year + 1


def test_every_service_writes_one_audit_event_without_personal_data(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    contact = make_contact(uow, acct, name="Grace Hopper", email="grace@navy.example")
    domain = make_domain(uow, account=acct, registrant=contact.handle)
    services.set_nameservers(
        uow, actor=ACTOR, domain=domain.name, nameservers=[("ns1.dns.example", [])], reason="customer request"
    )
    services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="proxy", reason="customer request")
    events = audit_events(uow)
    assert [e.action for e in events] == [
        "account::create",
        "contact::create",
        "domain::create",
        "domain:nameservers:set",
        "domain:privacy:set",
    ]
    assert all(e.actor == "staff:tester" for e in events)
    assert events[3].before_digest and events[3].after_digest and events[3].before_digest != events[3].after_digest
    for event in events:
        text = f"{event.details} {event.reason} {event.object_key}"
        assert "Grace" not in text and "grace@navy.example" not in text
    with uow.reading() as r:
        assert verify_chain(r.session).events == 5


def test_privacy_mode_change_keeps_the_stored_contacts(uow: UnitOfWork) -> None:
    domain = make_domain(uow)
    for mode in ("proxy", "redacted"):
        after = services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode=mode, reason="test")
        assert after.privacy_mode is PrivacyMode(mode)
        assert after.contacts == domain.contacts


def test_public_mode_needs_recorded_consent_and_withdrawal_redacts(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    domain = make_domain(uow, account=acct)
    with pytest.raises(ConsentMissing):
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="public", reason="test")
    grant_publish_consent(uow, acct)
    assert (
        services.set_privacy_mode(uow, actor=ACTOR, domain=domain.name, mode="public", reason="test").privacy_mode
        is PrivacyMode.PUBLIC
    )
    grant_publish_consent(uow, acct, granted=False)
    assert services.get_domain(uow, name=domain.name).privacy_mode is PrivacyMode.REDACTED


def test_reseller_contact_may_serve_its_customers_but_not_strangers(uow: UnitOfWork) -> None:
    reseller = make_account(uow, kind=AccountKind.RESELLER).handle
    customer = make_account(uow, parent=reseller).handle
    stranger = make_account(uow).handle
    reseller_tech = make_contact(uow, reseller).handle
    domain = make_domain(uow, account=customer, tech=reseller_tech)
    assert domain.contacts["tech"] is not None and domain.contacts["tech"].handle == reseller_tech
    with pytest.raises(ContactNotOwned):
        make_domain(uow, account=stranger, registrant=reseller_tech)


def test_update_contact_shows_on_every_domain_and_clears_verification(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    contact = make_contact(uow, acct).handle
    one = make_domain(uow, account=acct, registrant=contact)
    two = make_domain(uow, account=acct, registrant=contact, tech=contact)
    new = validate_contact(contact_fields(email="new@engines.example", city="Cambridge"))
    updated = services.update_contact(uow, actor=ACTOR, handle=contact, data=new, reason="moved")
    assert updated.verified_at is None
    for name in (one.name, two.name):
        stored = services.get_domain(uow, name=name).contacts["registrant"]
        assert stored is not None and stored.data.city == "Cambridge"


def test_set_domain_contact_replaces_and_removes_roles(uow: UnitOfWork) -> None:
    acct = make_account(uow).handle
    domain = make_domain(uow, account=acct)
    tech = make_contact(uow, acct).handle
    after = services.set_domain_contact(
        uow,
        actor=ACTOR,
        domain=domain.name,
        role="tech",
        contact=tech,
        reason="customer changed the technical contact",
    )
    assert after.contacts["tech"] is not None and after.contacts["tech"].handle == tech
    after = services.set_domain_contact(
        uow, actor=ACTOR, domain=domain.name, role="tech", contact=None, reason="removed"
    )
    assert after.contacts["tech"] is None
    with pytest.raises(ValidationError, match="registrant"):
        services.set_domain_contact(uow, actor=ACTOR, domain=domain.name, role="registrant", contact=None, reason="x")
    with pytest.raises(ValidationError, match="role"):
        services.set_domain_contact(uow, actor=ACTOR, domain=domain.name, role="owner", contact=tech, reason="x")


BAD_CALLS: list[tuple[str, type[Exception], dict[str, Any]]] = [
    ("unknown domain", DomainNotFound, {"op": "privacy", "domain": "nosuch.example"}),
    ("invalid IDN", ValidationError, {"op": "privacy", "domain": "xn--zz-.example"}),
    ("bad privacy mode", ValidationError, {"op": "privacy", "mode": "hidden"}),
    ("duplicate domain", DomainExists, {"op": "create"}),
    ("unknown contact", ContactNotFound, {"op": "create", "name": "fresh.example", "registrant": "NOSUCH"}),
    ("unknown account", AccountNotFound, {"op": "create", "name": "fresh.example", "account": "nobody"}),
    ("malformed name server", ValidationError, {"op": "nameservers", "ns": [("ns1..example", [])]}),
    ("malformed glue", ValidationError, {"op": "nameservers", "ns": [("ns1.example.net", ["300.1.1.1"])]}),
    ("reseller with a parent", InvalidAccountHierarchy, {"op": "account"}),
    ("ok with a hold", ValidationError, {"op": "statuses", "statuses": ["ok", "clientHold"]}),
    ("unknown status", ValidationError, {"op": "statuses", "statuses": ["clientFrozen"]}),
    ("no status", ValidationError, {"op": "statuses", "statuses": []}),
    ("statuses of an unknown domain", DomainNotFound, {"op": "statuses", "domain": "nosuch.example"}),
]


@pytest.mark.parametrize(("case", "error", "call"), BAD_CALLS, ids=[c[0] for c in BAD_CALLS])
def test_bad_input_raises_a_named_error_and_changes_nothing(
    uow: UnitOfWork, engine: Engine, case: str, error: type[Exception], call: dict[str, Any]
) -> None:
    acct = make_account(uow).handle
    reseller = make_account(uow, kind=AccountKind.RESELLER).handle
    domain = make_domain(uow, account=acct)
    before = table_counts(engine)
    with pytest.raises(error):
        if call["op"] == "privacy":
            services.set_privacy_mode(
                uow,
                actor=ACTOR,
                domain=call.get("domain", domain.name),
                mode=call.get("mode", "proxy"),
                reason="x",
            )
        elif call["op"] == "create":
            services.create_domain(
                uow,
                actor=ACTOR,
                name=call.get("name", domain.name),
                account=call.get("account", acct),
                registrant=call.get("registrant", domain.contacts["registrant"].handle),  # type: ignore[union-attr]
                reason="x",
            )
        elif call["op"] == "nameservers":
            services.set_nameservers(uow, actor=ACTOR, domain=domain.name, nameservers=call["ns"], reason="x")
        elif call["op"] == "statuses":
            name, statuses = call.get("domain", domain.name), call.get("statuses", ["ok"])
            services.set_statuses(uow, actor=ACTOR, domain=name, statuses=statuses, reason="x")
        else:
            services.create_account(
                uow,
                actor=ACTOR,
                handle="sub-reseller",
                kind=AccountKind.RESELLER,
                name="Sub",
                email="sub@mail.example",
                parent=reseller,
                reason="x",
            )
    assert table_counts(engine) == before
    assert services.get_domain(uow, name=domain.name) == domain


def test_set_statuses_is_audited_from_and_to_and_shows_in_the_record(uow: UnitOfWork) -> None:
    domain = make_domain(uow, account=make_account(uow).handle)
    after = services.set_statuses(uow, actor=ACTOR, domain=domain.name, statuses=["clientHold"], reason="case C-1")
    assert after.statuses == ("clientHold",) and services.get_domain(uow, name=domain.name) == after
    with uow.reading() as r:
        event = r.session.scalars(select(AuditEvent).where(AuditEvent.action == "domain:statuses:set")).one()
        chain = verify_chain(r.session)
    assert event.object_key == domain.name and event.reason == "case C-1"
    assert json.loads(event.details or "{}") == {"from": list(domain.statuses), "to": ["clientHold"]}
    assert chain.events >= 3  # the account, the domain and the statuses, chained


def test_contact_validation_errors_name_the_field_not_the_value() -> None:
    with pytest.raises(ValidationError) as phone:
        validate_contact(contact_fields(phone="call me maybe"))
    assert phone.value.field == "contact.phone" and "call me" not in str(phone.value)
    with pytest.raises(ValidationError) as country:
        validate_contact(contact_fields(country="XX"))
    assert country.value.field == "contact.country"


def test_sync_privacy_service_is_audited_only_on_change(uow: UnitOfWork) -> None:
    from domainpriv.config import load_settings

    settings = load_settings(environ={}).privacy_service
    assert services.sync_privacy_service(uow, actor=ACTOR, settings=settings) is True
    assert services.sync_privacy_service(uow, actor=ACTOR, settings=settings) is False
    changed = settings.model_copy(update={"phone": "+1.5555550111"})
    assert services.sync_privacy_service(uow, actor=ACTOR, settings=changed) is True
    assert [e.action for e in audit_events(uow)] == ["privacy:service:sync"] * 2
