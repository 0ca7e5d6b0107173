"""A complaint against a privacy-protected domain, end to end on both backends: intake, customer notice with its
business-day deadline, reminder, deadline, automatic deactivation visible in WHOIS and RDAP, disclosure of only
the approved fields with its ledger entry, reactivation restoring exactly what was there; every step audited."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

from domainpriv.accounts.access import principal_for
from domainpriv.audit import verify_audit_log
from domainpriv.cases import (
    CaseNotFound,
    DisclosureNotAllowed,
    IllegalTransition,
    NotAllowedToAct,
    act,
    get_case,
    give_assurances,
    ledger_for_account,
    process_due,
)
from domainpriv.cases.intake import Evidence
from domainpriv.config import Settings
from domainpriv.rdds import DatabaseSource, publication_policy
from domainpriv.rdds.rdap_app import domain_response
from domainpriv.rdds.whois_answer import answer_whois
from domainpriv.registration import services as registration
from domainpriv.registration.errors import AccountNotFound, ValidationError
from domainpriv.store import UnitOfWork
from tests.integration.cases.conftest import (
    CLI,
    DOMAIN,
    REGISTRANT,
    STAFF,
    World,
    audit_actions,
    history,
    leaks,
    notices,
    open_complaint,
)


def whois(uow: UnitOfWork, settings: Settings) -> str:
    return answer_whois(DOMAIN, DatabaseSource(uow, publication_policy(settings)), uow.clock(),
                        settings.publication.terms_of_use)  # fmt: skip


def rdap(uow: UnitOfWork, settings: Settings) -> dict[str, object]:
    status, body = domain_response(DOMAIN, source=DatabaseSource(uow, publication_policy(settings)),
                                   settings=settings.rdap, now=uow.clock())  # fmt: skip
    assert status == 200
    return dict(orjson.loads(body))


def test_a_complaint_runs_from_notice_through_deadline_deactivation_and_disclosure_to_reactivation(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    # Monday 2026-11-02 09:00: the complaint arrives.
    clock.now = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    case = open_complaint(uow, settings)
    assert case.state == "received" and case.reference.startswith("CMP-2026-")
    (ack,) = notices(uow, "case-acknowledgement")
    assert ack.to_address == "carl@brand.example" and case.reference in ack.subject and not leaks(ack.body)

    act(uow, case.id, "accept", settings=settings, actor=STAFF, reason="specific enough")
    notified = act(uow, case.reference, "notify-customer", settings=settings, actor=STAFF)
    assert notified.state == "customer_notified"
    # 10 business days from Mon 2 Nov 2026 (US): Wed 11 Nov (Veterans Day) is skipped -> Tue 17 Nov.
    assert notified.customer_deadline_at == datetime(2026, 11, 17, 9, 0, tzinfo=UTC)
    assert notified.reminder_at == datetime(2026, 11, 13, 9, 0, tzinfo=UTC)  # 2 business days before
    to = {n.to_address for n in notices(uow, "case-customer-notice")}
    assert to == {"cust-1@mail.example", "res-1@mail.example"}  # the customer and its reseller
    body = notices(uow, "case-customer-notice")[0].body
    assert "Give assurances" in body and "Cancel" in body and "court proceedings" in body and "2026-11-17" in body

    # Disclosure before the deadline is refused, naming the state.
    with pytest.raises(DisclosureNotAllowed, match="customer_notified"):
        act(uow, case.id, "disclose", settings=settings, actor=STAFF, fields="registrant.name")

    clock.now = datetime(2026, 11, 13, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    assert process_due(uow, settings, clock.now).lines == (f"case {case.reference}: reminder sent",)  # type: ignore[attr-defined]
    assert process_due(uow, settings, clock.now).acted == 0  # type: ignore[attr-defined]  # once
    assert len(notices(uow, "case-reminder")) == 2

    clock.now = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    report = process_due(uow, settings, clock.now)  # type: ignore[attr-defined]
    assert report.lines == (f"case {case.reference}: deadline passed",
                            f"case {case.reference}: domain {DOMAIN} deactivated")  # fmt: skip
    deactivated = get_case(uow, case.id, actor=STAFF)
    assert deactivated.state == "deactivated"
    assert "clientHold" in registration.get_domain(uow, name=DOMAIN).statuses
    assert "Domain Status: clientHold" in whois(uow, settings)
    assert "client hold" in rdap(uow, settings)["status"]  # type: ignore[operator]
    assert len(notices(uow, "case-deactivated")) == 2

    released = act(uow, case.id, "disclose", settings=settings, actor=STAFF, fields=["registrant.name"],
                   reason="customer silent past the deadline")  # fmt: skip
    assert released.state == "disclosed" and released.decision == "partial"
    (mail,) = notices(uow, "case-disclosure")
    assert mail.to_address == "carl@brand.example"
    assert REGISTRANT["name"] in mail.body and not leaks(mail.body, allowed=[REGISTRANT["name"]])
    (entry,) = ledger_for_account(uow, account="cust-1")
    assert (entry.case, entry.fields, entry.recipient_name) == (
        case.reference,
        ("registrant.name",),
        "Carl Complainant",
    )
    customer = principal_for(uow, "cust-1", via="session")
    assert ledger_for_account(uow, account="cust-1", principal=customer) == [entry]
    with pytest.raises(AccountNotFound):
        ledger_for_account(uow, account="cust-1", principal=principal_for(uow, "cust-2", via="session"))

    back = act(uow, case.id, "reactivate", settings=settings, actor=STAFF, reason="customer came forward")
    assert back.state == "reactivated" and back.deactivations[0].state == "restored"
    assert registration.get_domain(uow, name=DOMAIN).statuses == ("ok",)
    assert "clientHold" not in whois(uow, settings)
    closed = act(uow, case.id, "close", settings=settings, actor=STAFF)
    assert closed.state == "closed" and closed.closed_at == clock.now  # type: ignore[attr-defined]
    assert history(closed) == ["open", "accept", "notify-customer", "remind", "deadline-passed", "deactivate",
                               "disclose", "reactivate", "close"]  # fmt: skip
    assert [a.split(":")[2] for a in audit_actions(uow)] == history(closed)
    assert audit_actions(uow, "domain:statuses") == ["domain:statuses:set", "domain:statuses:set"]
    verify_audit_log(uow)
    to_requester = notices(uow, to="carl@brand.example")
    assert [n.kind for n in to_requester] == ["case-acknowledgement", "case-disclosure"]
    assert all(not leaks(n.subject + n.body, allowed=[REGISTRANT["name"]]) for n in to_requester)


def test_the_customer_answers_with_assurances_in_the_portal_and_staff_accept_them(
    uow: UnitOfWork, settings: Settings, world: World
) -> None:
    case = open_complaint(uow, settings)
    act(uow, case.id, "accept", settings=settings, actor=STAFF)
    act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    customer = principal_for(uow, "cust-1", via="session")
    with pytest.raises(ValidationError, match="indemnity"):
        give_assurances(uow, case.id, settings=settings, actor=customer, indemnity=False, contacted_complainant=True,
                        statement="I promise")  # fmt: skip
    with pytest.raises(CaseNotFound):  # another tenant's case is not found
        give_assurances(uow, case.id, settings=settings, actor=principal_for(uow, "cust-2", via="session"),
                        indemnity=True, contacted_complainant=True, statement="not mine")  # fmt: skip
    answered = give_assurances(uow, case.id, settings=settings, actor=customer, indemnity=True,
                               contacted_complainant=True, statement="I wrote to Carl on 3 Nov and indemnify you.",
                               evidence=[Evidence("letter.pdf", b"%PDF-1.4 letter")])  # fmt: skip
    assert answered.state == "assurances_received"
    assert answered.history[-1].details == {"contacted_complainant": True, "evidence": 1, "indemnity": True}
    assert answered.evidence[0].name == "letter.pdf" and answered.evidence[0].added_by == "customer:cust-1"
    with pytest.raises(NotAllowedToAct, match="staff"):
        act(uow, case.id, "accept-assurances", settings=settings, actor=customer)
    with pytest.raises(IllegalTransition, match="assurances_received"):
        act(uow, case.id, "deadline-passed", settings=settings, actor=STAFF)
    closed = act(uow, case.id, "accept-assurances", settings=settings, actor=STAFF, reason="adequate")
    assert closed.state == "closed" and closed.decision == "resolved"
    assert [n.kind for n in notices(uow, to="cust-1@mail.example")][-1] == "case-customer-update"


def test_a_deadline_passed_after_a_clock_jump_acts_once_and_skips_the_moot_reminder(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    case = open_complaint(uow, settings)
    act(uow, case.id, "accept", settings=settings, actor=STAFF)
    act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    clock.advance(days=60)  # type: ignore[attr-defined]
    first = process_due(uow, settings, clock.now)  # type: ignore[attr-defined]
    assert [line.split(": ")[1] for line in first.lines] == ["deadline passed", f"domain {DOMAIN} deactivated"]
    assert process_due(uow, settings, clock.now).acted == 0  # type: ignore[attr-defined]
    clock.advance(days=-30)  # type: ignore[attr-defined]  # back: nothing new
    assert process_due(uow, settings, clock.now).acted == 0  # type: ignore[attr-defined]
    done = get_case(uow, case.id, actor=CLI)
    assert history(done).count("deadline-passed") == 1 and "remind" not in history(done)
    assert notices(uow, "case-reminder") == [] and done.due_at is None
