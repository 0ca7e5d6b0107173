"""Case intake on both backends: each bad input is refused naming its field and stores nothing; evidence is kept by
its SHA-256; the acknowledgement with the reference reaches a real SMTP server and carries nothing of the
customer's data; the register's clocks start on the business-day calendar (a holiday skipped)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from domainpriv.cases import Evidence, Requester
from domainpriv.cases.calendar import calendar_for
from domainpriv.config import Settings
from domainpriv.notify.delivery import deliver_due
from domainpriv.registration.errors import DomainNotFound, ValidationError
from domainpriv.store import Case, Notice, UnitOfWork
from support.smtp_sink import smtp_sink
from tests.integration.cases.conftest import (
    REQUESTER,
    World,
    case_settings,
    leaks,
    notices,
    open_complaint,
    open_request,
)
from tests.integration.test_outbox import mail_settings


def count(uow: UnitOfWork, model: type[Any]) -> int:
    with uow.reading() as r:
        return int(r.session.scalar(select(func.count()).select_from(model)) or 0)


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"kind": "lawsuit"}, "kind"),
        ({"domain": "not a domain"}, "domain"),
        ({"requester": Requester(name="", email="carl@brand.example")}, "requester.name"),
        ({"requester": Requester(name="Carl", email="carl@@brand")}, "requester.email"),
        ({"requester": Requester(name="Carl", email="carl@brand.example", phone="12")}, "requester.phone"),
        ({"requester": Requester(name="Carl", email="carl@brand.example", authentication="trust-me")},
         "requester.authentication"),
        ({"text": "   "}, "text"),
        ({"text": "bell\x07"}, "text"),
        ({"fields": "registrant.name,registrant.password"}, "fields[1]"),
        ({"kind": "disclosure", "fields": ""}, "fields"),
        ({"evidence": [Evidence("big.bin", b"x" * 2048)]}, "evidence[0]"),
]  # fmt: skip


def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    uow: UnitOfWork, tmp_path: Path, world: World
) -> None:
    settings = case_settings(tmp_path, max_evidence_bytes=1024)
    for overrides, field in BAD_INPUT:
        with pytest.raises(ValidationError) as refused:
            open_complaint(uow, settings, **overrides)
        assert refused.value.field == field, overrides
    assert count(uow, Case) == 0 and count(uow, Notice) == 0


def test_an_unknown_domain_is_a_clear_error(uow: UnitOfWork, settings: Settings, world: World) -> None:
    with pytest.raises(DomainNotFound, match=r"domain nowhere\.example not found"):
        open_complaint(uow, settings, domain="NOWHERE.example")
    assert count(uow, Case) == 0


def test_evidence_is_stored_by_its_sha256_and_the_acknowledgement_reaches_the_requester(
    uow: UnitOfWork, settings: Settings, world: World
) -> None:
    content = b"%PDF-1.4 trademark registration"
    case = open_complaint(uow, settings, evidence=[Evidence("../../etc/registration.pdf", content)],
                          requester=Requester(name="Carl", email="Carl@Brand.EXAMPLE"))  # fmt: skip
    digest = hashlib.sha256(content).hexdigest()
    (stored,) = case.evidence
    assert (stored.name, stored.bytes, stored.sha256) == ("registration.pdf", len(content), digest)
    assert (settings.cases.evidence_dir / digest[:2] / digest).read_bytes() == content
    assert case.requester_email == "Carl@brand.example"  # the domain part lowercased, as everywhere
    with smtp_sink() as sink:
        assert deliver_due(uow, mail_settings(sink.port)).sent == 1
    (message,) = sink.messages
    assert message["To"] == "Carl@brand.example" and case.reference in message["Subject"]
    body = message.get_content()
    assert case.reference in body and "shop.example" in body and not leaks(body)


def test_a_disclosure_request_gets_its_clocks_on_the_business_day_calendar(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    clock.now = datetime(2026, 11, 10, 15, 30, tzinfo=UTC)  # type: ignore[attr-defined]  # Tue before Veterans Day
    case = open_request(uow, settings)
    assert case.state == "received" and case.reference.startswith("DIS-2026-")
    assert case.ack_due_at == datetime(2026, 11, 13, 15, 30, tzinfo=UTC)  # Wed 11 Nov is a US holiday
    assert case.decision_due_at == datetime(2026, 12, 10, 15, 30, tzinfo=UTC)  # 30 calendar days
    assert case.due_at == case.received_at  # the automatic acknowledgement is due at once
    urgent = open_request(uow, settings, urgent=True)
    assert urgent.decision_due_at == datetime(2026, 11, 11, 15, 30, tzinfo=UTC)  # 24 hours
    (ack, _) = notices(uow, "case-acknowledgement")
    assert "2026-12-10 15:30 UTC" in ack.body and not leaks(ack.body)


def test_the_calendar_skips_weekends_holidays_of_a_subdivision_and_closing_days(tmp_path: Path) -> None:
    start = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)  # toolchain.md §14: +30 business days
    assert calendar_for(case_settings(tmp_path).cases).add_business_days(start, 30).date().isoformat() == "2027-02-09"
    de = calendar_for(case_settings(tmp_path, holiday_country="DE").cases)
    assert de.add_business_days(start, 30).date().isoformat() == "2027-02-08"
    by = calendar_for(case_settings(tmp_path, holiday_country="DE", holiday_subdivision="BY").cases)
    assert by.add_business_days(start, 30).date().isoformat() == "2027-02-09"  # Epiphany, 6 January
    closed = calendar_for(case_settings(tmp_path, closed_days=("2026-12-28",)).cases)
    assert closed.add_business_days(start, 1).date().isoformat() == "2026-12-29"  # 25th holiday, 26-27 weekend
    assert closed.subtract_business_days(datetime(2026, 12, 29, tzinfo=UTC), 1).date().isoformat() == "2026-12-24"
    with pytest.raises(ValidationError, match=r"cases\.holiday_country"):
        calendar_for(case_settings(tmp_path, holiday_country="XX").cases)
    with pytest.raises(ValidationError, match=r"cases\.holiday_subdivision"):
        calendar_for(case_settings(tmp_path, holiday_subdivision="ZZ").cases)
    with pytest.raises(ValidationError, match=r"cases\.closed_days\[0\]"):
        calendar_for(case_settings(tmp_path, closed_days=("28.12.2026",)).cases)


def test_an_urgent_law_enforcement_abuse_report_gets_a_24_hour_review_clock(
    uow: UnitOfWork, settings: Settings, world: World, clock: object
) -> None:
    police = Requester(name="Officer Oz", email="oz@police.example", authentication="law-enforcement")
    report = open_complaint(uow, settings, kind="abuse", requester=police, fields="", text="Phishing kit at /login")
    assert report.reference.startswith("ABU-") and report.decision_due_at == clock.now.replace(  # type: ignore[attr-defined]
        day=2
    )
    ordinary = open_complaint(uow, settings, kind="abuse", requester=REQUESTER, fields="", text="Spam")
    assert ordinary.decision_due_at is None and ordinary.due_at is None
