"""Self-service changes on real SQLite and PostgreSQL: the tenant scope, the notices to the old and the new
address, the change-of-registrant rule with its e-mailed confirmation and transfer lock, staff tickets, roles."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from domainpriv.accounts.access import Forbidden, Permission, Principal, StaffNeedTwoFactor, principal_for, require
from domainpriv.accounts.staff import set_staff_role
from domainpriv.registration import services
from domainpriv.registration.errors import (
    AccountNotFound,
    ConsentMissing,
    ContactNotFound,
    DomainNotFound,
    ValidationError,
)
from domainpriv.registration.validation import validate_contact
from domainpriv.selfservice import changes, registrant_change, scope
from domainpriv.selfservice.changes import RegistrantChangeNeeded, Request, ReverificationNeeded
from domainpriv.store import Account, AccountKind, AuditEvent, Consent, Domain, Notice, PrivacyMode, UnitOfWork
from support.builders import ACTOR, contact_fields, make_account, make_contact, make_domain
from support.public_records import policy

BASE = "http://127.0.0.1:8081"


def principal(uow: UnitOfWork, handle: str) -> Principal:
    return principal_for(uow, handle, via="session")


def notices(uow: UnitOfWork, kind: str) -> list[Notice]:
    with uow.reading() as r:
        return list(r.session.scalars(select(Notice).where(Notice.kind == kind).order_by(Notice.id)))


@pytest.fixture
def tenants(uow: UnitOfWork) -> dict[str, str]:
    """Reseller R with customer A; customer B alone; each with one domain."""
    make_account(uow, "res-r", kind=AccountKind.RESELLER)
    make_account(uow, "cust-a", parent="res-r")
    make_account(uow, "cust-b")
    make_contact(uow, "cust-a", "CA-REG", email="reg-a@a.example")
    make_contact(uow, "cust-a", "CA-TECH", name="Old Tech", email="old-tech@a.example")
    make_contact(uow, "cust-b", "CB-REG", email="reg-b@b.example")
    make_domain(uow, "a-domain.example", account="cust-a", registrant="CA-REG", tech="CA-TECH")
    make_domain(uow, "b-domain.example", account="cust-b", registrant="CB-REG")
    return {"a": "a-domain.example", "b": "b-domain.example"}


def test_a_customer_replaces_its_technical_contact_with_a_new_one_and_both_addresses_are_told(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    me = principal(uow, "cust-a")
    new = validate_contact(contact_fields(name="New Tech Company", email="new-tech@t.example"))
    after = changes.set_role_contact(uow, Request(me, "new hosting company"), domain=tenants["a"], role="tech",
                                     new_contact=new)  # fmt: skip
    tech = after.contacts["tech"]
    assert tech is not None and tech.data.name == "New Tech Company" and tech.account == "cust-a"
    assert services.get_domain(uow, name=tenants["a"]).contacts["tech"] == tech
    sent = {n.to_address: n.body for n in notices(uow, "contact-changed")}
    assert set(sent) == {"old-tech@a.example", "new-tech@t.example"}
    assert "no longer" in sent["old-tech@a.example"] and "now the technical contact" in sent["new-tech@t.example"]
    assert all("New Tech Company" not in body for body in sent.values())  # no contact data in the notices
    with uow.reading() as r:
        actors = r.session.scalars(select(AuditEvent.actor).where(AuditEvent.object_key == tenants["a"])).all()
    assert actors[-1] == "customer:cust-a"


def test_another_tenants_domain_and_contact_answer_exactly_like_missing_ones(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    b = principal(uow, "cust-b")
    for name in (tenants["a"], "never-registered.example"):
        with pytest.raises(DomainNotFound) as caught:
            scope.get_domain(uow, b, name)
        assert str(caught.value) == f"domain {name} not found"
        with pytest.raises(DomainNotFound):
            changes.set_role_contact(uow, Request(b, "x"), domain=name, role="tech", contact="CB-REG")
    with pytest.raises(ContactNotFound):  # A's contact cannot be put on B's domain either
        changes.set_role_contact(uow, Request(b, "x"), domain=tenants["b"], role="tech", contact="CA-TECH")
    assert [d.name for d in scope.list_domains(uow, b)] == [tenants["b"]]
    assert notices(uow, "contact-changed") == []


def test_a_reseller_acts_for_its_own_customers_only(uow: UnitOfWork, tenants: dict[str, str]) -> None:
    reseller = principal(uow, "res-r")
    assert [d.name for d in scope.list_domains(uow, reseller)] == [tenants["a"]]
    changes.set_role_contact(uow, Request(reseller, "on request"), domain=tenants["a"], role="admin", contact="CA-TECH")
    with pytest.raises(DomainNotFound):
        changes.set_role_contact(uow, Request(reseller, "x"), domain=tenants["b"], role="admin", contact="CB-REG")
    with uow.reading() as r:
        reason = r.session.scalars(select(AuditEvent.reason).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert reason == "for cust-a: on request"


def test_a_new_registrant_name_waits_for_the_registrants_confirmation_then_locks_transfers(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    me = principal(uow, "cust-a")
    new = validate_contact(contact_fields(name="Buyer Ltd Director", email="buyer@buyer.example"))
    with pytest.raises(RegistrantChangeNeeded):  # neither replacing nor editing applies it directly
        changes.set_role_contact(uow, Request(me, "sold"), domain=tenants["a"], role="registrant", new_contact=new)
    with pytest.raises(RegistrantChangeNeeded):
        changes.edit_contact(uow, Request(me, "sold"), handle="CA-REG", data=new)
    assert services.get_domain(uow, name=tenants["a"]).contacts["registrant"].handle == "CA-REG"  # type: ignore[union-attr]

    pending = registrant_change.request_change(uow, Request(me, "sold"), domain=tenants["a"], data=new, link_base=BASE)
    (mail,) = notices(uow, "registrant-change-confirm")
    assert mail.to_address == "reg-a@a.example"  # the current registrant confirms
    token = re.search(r"/registrant-change/(\S+)", mail.body).group(1)  # type: ignore[union-attr]
    with uow.reading() as r:
        assert token not in str(r.session.execute(select(Domain)).all())
    record = registrant_change.confirm_change(uow, token)
    registrant = record.contacts["registrant"]
    assert registrant is not None and registrant.data.name == "Buyer Ltd Director"
    with uow.reading() as r:
        locked = r.session.scalar(select(Domain.transfer_locked_until).where(Domain.name == tenants["a"]))
    assert locked is not None and locked - uow.clock() > timedelta(days=59)
    assert {n.to_address for n in notices(uow, "registrant-changed")} == {"reg-a@a.example", "buyer@buyer.example"}
    with pytest.raises(registrant_change.RegistrantChangeRefused):  # the link works once
        registrant_change.confirm_change(uow, token)
    assert pending.expires_at > uow.clock()


def test_the_transfer_lock_opt_out_and_an_unchanged_registrant(uow: UnitOfWork, tenants: dict[str, str]) -> None:
    me = principal(uow, "cust-a")
    same = validate_contact(contact_fields(email="reg-a@a.example", city="Paris"))
    with pytest.raises(registrant_change.NotARegistrantChange):
        registrant_change.request_change(uow, Request(me, "x"), domain=tenants["a"], data=same, link_base=BASE)
    changes.edit_contact(uow, Request(me, "moved"), handle="CA-REG", data=same)  # not material: applied at once
    new = validate_contact(contact_fields(email="other@a.example"))
    no_opt_out = registrant_change.RegistrantChangePolicy(opt_out_allowed=False)
    with pytest.raises(ValidationError, match="lock_opt_out"):
        registrant_change.request_change(uow, Request(me, "x"), domain=tenants["a"], data=new, lock_opt_out=True,
                                         link_base=BASE, policy=no_opt_out)  # fmt: skip
    registrant_change.request_change(uow, Request(me, "x"), domain=tenants["a"], data=new, lock_opt_out=True,
                                     link_base=BASE)  # fmt: skip
    token = re.search(r"/registrant-change/(\S+)", notices(uow, "registrant-change-confirm")[-1].body).group(1)  # type: ignore[union-attr]
    registrant_change.confirm_change(uow, token)
    with uow.reading() as r:
        assert r.session.scalar(select(Domain.transfer_locked_until).where(Domain.name == tenants["a"])) is None


def test_going_public_needs_reverification_and_records_the_consent_with_its_policy_version(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    me = principal(uow, "cust-a")
    request = Request(me, "wants to be found")
    with pytest.raises(ReverificationNeeded):
        changes.set_privacy(uow, request, domain=tenants["a"], mode="public", consent_to_publish=True)
    with pytest.raises(ConsentMissing):
        changes.set_privacy(uow, request, domain=tenants["a"], mode="public", reverified=True)
    after = changes.set_privacy(uow, request, domain=tenants["a"], mode="public", consent_to_publish=True,
                                policy_version="2026-12", reverified=True)  # fmt: skip
    assert after.privacy_mode is PrivacyMode.PUBLIC
    (mail,) = notices(uow, "privacy-changed")
    assert mail.to_address == "reg-a@a.example"
    with uow.reading() as r:
        consent = r.session.scalars(select(Consent).order_by(Consent.id.desc()).limit(1)).one()
    assert (consent.purpose.value, consent.granted, consent.source, consent.policy_version) == (
        "publish_contact_data", True, "portal", "2026-12")  # fmt: skip


def test_the_preview_shows_what_whois_would_publish_and_saves_nothing(uow: UnitOfWork, tenants: dict[str, str]) -> None:
    me = principal(uow, "cust-a")
    public = changes.preview_privacy(uow, me, domain=tenants["a"], mode="public", policy=policy())
    redacted = changes.preview_privacy(uow, me, domain=tenants["a"], mode="redacted", policy=policy())
    assert "reg-a@a.example" in repr(public) and "reg-a@a.example" not in repr(redacted)
    assert services.get_domain(uow, name=tenants["a"]).privacy_mode is PrivacyMode.REDACTED


def test_staff_act_with_a_ticket_only_with_two_factor_and_within_their_role(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    make_account(uow, "staff-s", kind=AccountKind.STAFF)
    set_staff_role(uow, actor=ACTOR, account="staff-s", role="support", reason="hired")
    with pytest.raises(StaffNeedTwoFactor):
        require(principal(uow, "staff-s"), Permission.DOMAINS_WRITE)
    with uow:
        uow.session.execute(update(Account).where(Account.handle == "staff-s").values(totp_enabled_at=uow.clock()))
        uow.commit()
    support = principal(uow, "staff-s")
    with pytest.raises(ValidationError, match="ticket"):
        changes.set_role_contact(uow, Request(support, "by e-mail"), domain=tenants["b"], role="tech", contact="CB-REG")
    changes.set_role_contact(uow, Request(support, "by e-mail", ticket="T-42"), domain=tenants["b"], role="tech",
                             contact="CB-REG")  # fmt: skip
    with uow.reading() as r:
        event = r.session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert (event.actor, event.reason) == ("staff:staff-s", "for cust-b, ticket T-42: by e-mail")
    assert [c.handle for c in scope.find_customers(uow, support, "cust-")] == ["cust-a", "cust-b"]
    set_staff_role(uow, actor=ACTOR, account="staff-s", role="escrow-ops", reason="moved")
    ops = principal(uow, "staff-s")
    with pytest.raises(Forbidden):
        scope.get_domain(uow, ops, tenants["b"])
    with pytest.raises(Forbidden):
        scope.find_customers(uow, ops, "cust")
    with pytest.raises(Forbidden):  # customers cannot search other customers
        scope.find_customers(uow, principal(uow, "cust-a"), "cust")


def test_a_refused_change_sends_nothing_and_changes_nothing(uow: UnitOfWork, tenants: dict[str, str]) -> None:
    me = principal(uow, "cust-a")
    bad_role = changes.set_role_contact
    with pytest.raises(ValidationError, match="role"):
        bad_role(uow, Request(me, "x"), domain=tenants["a"], role="owner", contact="CA-TECH")
    with pytest.raises(ContactNotFound):  # the new contact is created, then the role fails: all rolled back
        changes.set_role_contact(uow, Request(me, "x"), domain=tenants["a"], role="tech", contact="NOPE")
    assert notices(uow, "contact-changed") == []
    assert services.get_domain(uow, name=tenants["a"]).contacts["tech"].handle == "CA-TECH"  # type: ignore[union-attr]


def test_the_account_email_change_needs_reverification_and_tells_the_old_address(
    uow: UnitOfWork, tenants: dict[str, str]
) -> None:
    me = principal(uow, "cust-a")
    with pytest.raises(ReverificationNeeded):
        changes.change_account_email(uow, Request(me, "new mailbox"), account="cust-a", email="a2@a.example")
    changes.change_account_email(uow, Request(me, "new mailbox"), account="cust-a", email="a2@a.example",
                                 reverified=True)  # fmt: skip
    (mail,) = notices(uow, "email-changed")
    assert mail.to_address == "cust-a@mail.example"
    with pytest.raises(AccountNotFound):
        changes.change_account_email(uow, Request(me, "x"), account="cust-b", email="x@x.example", reverified=True)
