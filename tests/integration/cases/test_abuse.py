"""Abuse reports (RAA 3.18) on both backends: acknowledged with a reference, a law-enforcement report's 24-hour
review clock (met by the review, marked once when missed), the mitigation's action log (the statuses set, the
deactivation saved and reversed)."""

from __future__ import annotations

from typing import Any

from domainpriv.cases import Requester, act, get_case, process_due
from domainpriv.config import Settings
from domainpriv.registration import services as registration
from domainpriv.store import UnitOfWork
from tests.integration.cases.conftest import STAFF, World, history, leaks, notices, open_complaint

POLICE = Requester(name="Officer Oz", email="oz@police.example", org="Cyber Unit", authentication="law-enforcement")


def test_a_law_enforcement_report_is_reviewed_on_its_clock_and_mitigated_with_an_action_log(
    uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    report = open_complaint(uow, settings, kind="abuse", requester=POLICE, fields="", text="Phishing at /login")
    (ack,) = notices(uow, "case-acknowledgement")
    assert report.reference in ack.subject and "abuse report" in ack.subject and not leaks(ack.body)
    clock.advance(hours=3)
    reviewed = act(uow, report.id, "accept", settings=settings, actor=STAFF, reason="phishing confirmed")
    assert reviewed.state == "investigating" and reviewed.decided_at == clock.now and not reviewed.missed_clocks
    mitigated = act(uow, report.id, "deactivate", settings=settings, actor=STAFF, reason="phishing kit live")
    (d,) = mitigated.deactivations
    assert (d.statuses_before, d.statuses_added, d.state) == (("ok",), ("clientHold",), "active")
    assert mitigated.history[-1].details["done"][0].startswith("put the domain on hold")
    assert "clientHold" in registration.get_domain(uow, name="shop.example").statuses
    act(uow, report.id, "reactivate", settings=settings, actor=STAFF, reason="site cleaned")
    closed = act(uow, report.id, "close", settings=settings, actor=STAFF, reason="resolved")
    assert history(closed) == ["open", "accept", "deactivate", "reactivate", "close"]
    complaint = open_complaint(uow, settings)  # a related case on the same domain is linked both ways
    assert get_case(uow, report.id, actor=STAFF).related == (complaint.reference,)
    assert get_case(uow, complaint.id, actor=STAFF).to_json()["related"] == [report.reference]
    assert registration.get_domain(uow, name="shop.example").statuses == ("ok",)
    assert process_due(uow, settings, clock.now).acted == 0


def test_a_review_clock_passed_without_review_is_marked_once(
    uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    report = open_complaint(uow, settings, kind="abuse", requester=POLICE, fields="", text="Botnet C2")
    clock.advance(hours=25)
    assert process_due(uow, settings, clock.now).lines == (f"case {report.reference}: decision clock missed",)
    assert process_due(uow, settings, clock.now).acted == 0
    late = act(uow, report.id, "reject", settings=settings, actor=STAFF, reason="the host is not ours")
    assert late.missed_clocks == ("decision",) and late.state == "rejected"
    (refusal,) = notices(uow, "case-refused")
    assert refusal.to_address == "oz@police.example" and "the host is not ours" in refusal.body
