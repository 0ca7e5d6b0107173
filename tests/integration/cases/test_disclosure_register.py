"""Disclosure requests and their register on both backends: the automatic acknowledgement (a late one marked
missed), refusals with reasons and the balancing test, a decision clock missed and marked once, an urgent legal
order allowing disclosure without prior notice, only approved fields released and recorded in the ledger, and
the register exported as JSON and CSV with the missed clocks."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from domainpriv.cases import (
    DisclosureNotAllowed,
    NoLegalOrder,
    act,
    get_case,
    ledger_for_account,
    process_due,
    register_csv,
    register_rows,
)
from domainpriv.config import Settings
from domainpriv.registration.errors import ValidationError
from domainpriv.store import UnitOfWork
from tests.integration.cases.conftest import REGISTRANT, STAFF, World, history, leaks, notices, open_request


def test_the_register_shows_acknowledgements_and_decisions_and_which_clocks_were_missed(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    clock.now = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)  # type: ignore[attr-defined]
    late = open_request(uow, settings)
    # No sweep ran until Monday: the acknowledgement was due Friday 13 November (Wednesday a holiday).
    clock.now = datetime(2026, 11, 16, 8, 0, tzinfo=UTC)  # type: ignore[attr-defined]
    on_time = open_request(uow, settings)
    report = process_due(uow, settings, clock.now)  # type: ignore[attr-defined]
    assert sorted(report.lines) == sorted([f"case {late.reference}: acknowledged (late: the clock was missed)",
                                           f"case {on_time.reference}: acknowledged"])  # fmt: skip
    assert process_due(uow, settings, clock.now).acted == 0  # type: ignore[attr-defined]

    act(uow, on_time.id, "accept", settings=settings, actor=STAFF)
    with pytest.raises(ValidationError) as no_balancing:
        act(uow, on_time.id, "refuse", settings=settings, actor=STAFF, reason="No legal basis shown.")
    assert no_balancing.value.field == "balancing_notes"
    with pytest.raises(ValidationError) as no_reason:
        act(uow, on_time.id, "refuse", settings=settings, actor=STAFF, balancing_notes="weighed")
    assert no_reason.value.field == "reason"
    refused = act(uow, on_time.id, "refuse", settings=settings, actor=STAFF, reason="No legal basis shown.",
                  balancing_notes="The registrant's privacy outweighs an unspecified claim.")  # fmt: skip
    assert refused.state == "refused" and refused.decision == "refused" and refused.decided_at == clock.now  # type: ignore[attr-defined]
    (mail,) = notices(uow, "case-refused")
    assert "No legal basis shown." in mail.body and "outweighs" in mail.body and not leaks(mail.body)

    clock.now = datetime(2026, 12, 11, 9, 0, tzinfo=UTC)  # type: ignore[attr-defined]  # past the 30 days
    assert process_due(uow, settings, clock.now).lines == (f"case {late.reference}: decision clock missed",)  # type: ignore[attr-defined]
    assert process_due(uow, settings, clock.now).acted == 0  # type: ignore[attr-defined]
    assert history(get_case(uow, late.id, actor=STAFF)) == ["open", "acknowledge", "clock-missed"]

    rows = {r["reference"]: r for r in register_rows(uow, actor=STAFF)}
    assert (rows[late.reference]["ack_missed"], rows[late.reference]["decision_missed"]) == (True, True)
    assert (rows[on_time.reference]["ack_missed"], rows[on_time.reference]["decision_missed"]) == (False, False)
    assert rows[on_time.reference]["refusal_reasons"] == "No legal basis shown."
    assert rows[late.reference]["acknowledged_at"] == "2026-11-16T08:00:00Z"
    table = list(csv.DictReader(io.StringIO(register_csv(list(rows.values())))))
    by_ref = {r["reference"]: r for r in table}
    assert by_ref[late.reference]["ack_missed"] == "true" and by_ref[on_time.reference]["decision"] == "refused"
    assert by_ref[late.reference]["fields_requested"] == "registrant.name registrant.phone registrant.email"


def test_an_urgent_legal_order_allows_disclosure_without_notice_of_only_the_approved_fields(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    urgent = open_request(uow, settings, urgent=True, legal_basis="Court order 4 O 123/26 (imminent threat)")
    process_due(uow, settings, clock.now)  # type: ignore[attr-defined]  # acknowledged automatically
    act(uow, urgent.id, "accept", settings=settings, actor=STAFF)
    with pytest.raises(DisclosureNotAllowed, match="has not been notified"):
        act(uow, urgent.id, "disclose", settings=settings, actor=STAFF, fields="registrant.name")
    act(uow, urgent.id, "accept-legal-order", settings=settings, actor=STAFF, reason="order verified by phone")
    with pytest.raises(ValidationError, match=r"registrant\.street was not requested"):
        act(uow, urgent.id, "disclose", settings=settings, actor=STAFF, fields="registrant.name,registrant.street")
    with pytest.raises(ValidationError, match="name the approved fields"):
        act(uow, urgent.id, "disclose", settings=settings, actor=STAFF)
    clock.advance(hours=2)  # type: ignore[attr-defined]
    done = act(uow, urgent.id, "disclose", settings=settings, actor=STAFF, fields="registrant.email,registrant.name")
    assert done.state == "disclosed" and done.decision == "partial" and "decision" not in done.missed_clocks
    (mail,) = notices(uow, "case-disclosure")
    assert "registrant.name: Rita Registrant" in mail.body and f"registrant.email: {REGISTRANT['email']}" in mail.body
    assert not leaks(mail.body, allowed=[REGISTRANT["name"], REGISTRANT["email"]])
    assert "registrant.phone" not in mail.body and "Court order 4 O 123/26" in mail.body
    (entry,) = ledger_for_account(uow, account="cust-1")
    assert entry.legal_order and entry.fields == ("registrant.name", "registrant.email")
    assert entry.basis.startswith("Court order") and entry.domain == "shop.example"
    assert notices(uow, "case-customer-notice") == []  # no notice: the legal order says so

    plain = open_request(uow, settings)
    process_due(uow, settings, clock.now)  # type: ignore[attr-defined]
    with pytest.raises(NoLegalOrder, match="records no urgent legal order"):
        act(uow, plain.id, "accept-legal-order", settings=settings, actor=STAFF)


def test_the_customer_notice_and_its_expiry_come_before_any_disclosure(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    case = open_request(uow, settings)
    process_due(uow, settings, clock.now)  # type: ignore[attr-defined]
    act(uow, case.id, "accept", settings=settings, actor=STAFF)
    act(uow, case.id, "notify-customer", settings=settings, actor=STAFF)
    (notice, _) = notices(uow, "case-customer-notice")
    assert "Carl Complainant" in notice.body and "carl@brand.example" not in notice.body  # a requester's address
    with pytest.raises(DisclosureNotAllowed, match="deadline runs until"):
        act(uow, case.id, "disclose", settings=settings, actor=STAFF, fields="registrant.name")
    clock.advance(days=20)  # type: ignore[attr-defined]
    assert process_due(uow, settings, clock.now).lines[-1].endswith("deadline passed")  # type: ignore[attr-defined]
    done = act(uow, case.id, "disclose", settings=settings, actor=STAFF,
               fields=["registrant.name", "registrant.email", "registrant.phone"])  # fmt: skip
    assert done.decision == "disclosed" and done.disclosures[0].legal_order is False
    assert done.customer_notified_at is not None and done.customer_deadline_at is not None
    assert done.disclosures[0].at >= done.customer_deadline_at > done.customer_notified_at
    assert done.decided_at == clock.now and done.decided_at - done.received_at > timedelta(days=19)  # type: ignore[attr-defined]
