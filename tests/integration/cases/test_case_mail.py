"""The case mails delivered to a real SMTP server (aiosmtpd on loopback) by the sweep, on both backends: the
requester gets the acknowledgement and the disclosure (only the approved field), the customer and the reseller
the notice with its options and deadline, the reminder and the deactivation; nothing of the customer's data
reaches the requester beyond the approved field."""

from __future__ import annotations

from typing import Any

from domainpriv.cases import act
from domainpriv.config import Settings
from domainpriv.store import UnitOfWork
from domainpriv.sweep import sweep
from support.smtp_sink import smtp_sink
from tests.integration.cases.conftest import REGISTRANT, STAFF, World, leaks, open_complaint
from tests.integration.test_outbox import mail_settings


def test_every_case_mail_reaches_its_recipient_and_the_requester_sees_only_the_approved_field(
    uow: UnitOfWork, settings: Settings, world: World, clock: Any
) -> None:
    with smtp_sink() as sink:
        mailing = settings.model_copy(update={"mail": mail_settings(sink.port)})
        case = open_complaint(uow, mailing)
        act(uow, case.id, "accept", settings=mailing, actor=STAFF)
        notified = act(uow, case.id, "notify-customer", settings=mailing, actor=STAFF)
        assert notified.reminder_at is not None and notified.customer_deadline_at is not None
        sweep(uow, mailing, clock.now)
        clock.now = notified.reminder_at
        sweep(uow, mailing, clock.now)
        clock.now = notified.customer_deadline_at
        sweep(uow, mailing, clock.now)
        act(uow, case.id, "disclose", settings=mailing, actor=STAFF, fields="registrant.name", reason="silent")
        sweep(uow, mailing, clock.now)
    received: dict[str, list[str]] = {}
    for message in sink.messages:
        received.setdefault(str(message["To"]), []).append(str(message["Subject"]))
        if message["To"] == "carl@brand.example":
            assert not leaks(str(message["Subject"]) + message.get_content(), allowed=[REGISTRANT["name"]])
    ref = case.reference
    assert received["carl@brand.example"] == [
        f"[{ref}] We received your complaint about shop.example",
        f"[{ref}] Disclosure of registration data of shop.example",
    ]
    for customer in ("cust-1@mail.example", "res-1@mail.example"):
        subjects = received[customer]
        assert [s.split("] ")[1].split(" ")[0] for s in subjects] == ["A", "Reminder:", "shop.example"]
        assert "please answer by" in subjects[0] and subjects[2].endswith("deactivated")
