"""The outbox on real SQLite and PostgreSQL, delivered to a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, select

from domainpriv.config import MailSettings
from domainpriv.notify.delivery import deliver_due
from domainpriv.notify.outbox import FAILED, QUEUED, SENT, enqueue
from domainpriv.registration.errors import ValidationError
from domainpriv.store import Notice, UnitOfWork
from support.ports import free_port
from support.smtp_sink import smtp_sink


def mail_settings(port: int, **overrides: object) -> MailSettings:
    values: dict[str, object] = {
        "smtp_host": "127.0.0.1", "smtp_port": port, "from_address": "noreply@registrar.example", "starttls": False,
        "username": "", "password": "", "timeout_seconds": 5, "max_attempts": 3, "backoff_seconds": 60,
    }  # fmt: skip
    return MailSettings.model_validate({**values, **overrides})


def queue(uow: UnitOfWork, to: str = "ada@engines.example", *, commit: bool = True, n: int = 1) -> None:
    with uow:
        for i in range(n):
            enqueue(uow.session, now=uow.clock(), kind="password-changed", to=to, subject=f"Your password {i}",
                    body="Your password was changed.\nIf this was not you, reset it now.", mandatory=True)  # fmt: skip
        if commit:
            uow.commit()


def notices(uow: UnitOfWork) -> list[Notice]:
    with uow.reading() as r:
        return list(r.session.scalars(select(Notice).order_by(Notice.id)))


def test_a_committed_notice_is_delivered_once_and_a_rolled_back_one_never(uow: UnitOfWork) -> None:
    queue(uow, "rolled-back@engines.example", commit=False)
    queue(uow)
    with smtp_sink() as sink:
        report = deliver_due(uow, mail_settings(sink.port))
        assert (report.sent, report.retried, report.failed) == (1, 0, 0)
        assert deliver_due(uow, mail_settings(sink.port)).sent == 0  # already sent
    assert len(sink.messages) == 1
    message = sink.messages[0]
    assert message["To"] == "ada@engines.example" and message["From"] == "noreply@registrar.example"
    assert message["Auto-Submitted"] == "auto-generated" and "reset it now" in message.get_content()
    (stored,) = notices(uow)
    assert stored.state == SENT and stored.attempts == 1 and stored.sent_at is not None
    assert stored.body == "" and stored.subject  # done: the body (personal data, live links) is not kept


def test_a_relay_that_is_down_or_refuses_gets_retries_with_backoff_then_a_visible_failure(
    uow: UnitOfWork, clock: object
) -> None:
    queue(uow)
    down = mail_settings(free_port())  # nothing listens there
    report = deliver_due(uow, down)
    assert (report.sent, report.retried) == (0, 1)
    (first,) = notices(uow)
    assert first.state == QUEUED and first.attempts == 1 and first.last_error and "ada@" not in first.last_error
    assert "reset it now" in first.body  # kept while it may still be sent
    assert deliver_due(uow, down).retried == 0  # not due before its backoff
    with smtp_sink() as sink:
        sink.refuse_with = "451 4.3.0 try again later"
        clock.advance(seconds=61)  # type: ignore[attr-defined]
        assert deliver_due(uow, mail_settings(sink.port)).retried == 1
        (second,) = notices(uow)
        assert second.attempts == 2 and "451" in (second.last_error or "")
        assert (second.next_attempt_at - uow.clock()).total_seconds() == pytest.approx(120)  # doubled
        clock.advance(seconds=121)  # type: ignore[attr-defined]
        assert deliver_due(uow, mail_settings(sink.port)).failed == 1  # max_attempts = 3
    (last,) = notices(uow)
    assert last.state == FAILED and last.attempts == 3 and not sink.messages and last.body == ""


def test_two_deliverers_at_once_send_each_notice_once(engine: Engine, uow: UnitOfWork) -> None:
    queue(uow, n=40)
    with smtp_sink() as sink:
        settings = mail_settings(sink.port)

        def deliver() -> None:
            mine = UnitOfWork(engine, clock=uow.clock)
            while deliver_due(mine, settings, limit=5).sent:
                pass

        threads = [threading.Thread(target=deliver) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    subjects = [m["Subject"] for m in sink.messages]
    assert sorted(subjects) == sorted(f"Your password {i}" for i in range(40))
    assert all(n.state == SENT for n in notices(uow))


@pytest.mark.parametrize("bad", ["not an address", "a@b@c.example", "ada@engines.example\r\nBcc: all@x.example"])
def test_a_bad_address_is_refused_when_queued_naming_the_field(uow: UnitOfWork, bad: str) -> None:
    with pytest.raises(ValidationError) as refused:
        queue(uow, bad)
    assert refused.value.field == "to"
    assert notices(uow) == []


def test_a_subject_cannot_inject_headers(uow: UnitOfWork) -> None:
    with uow:
        enqueue(uow.session, now=uow.clock(), kind="test", to="ada@engines.example",
                subject="Hello\r\nBcc: everyone@x.example", body="body", mandatory=True)  # fmt: skip
        uow.commit()
    with smtp_sink() as sink:
        deliver_due(uow, mail_settings(sink.port))
    (message,) = sink.messages
    assert message["Bcc"] is None and message["Subject"] == "Hello Bcc: everyone@x.example"


@pytest.mark.parametrize(("kind", "account"), [("password-changed", True), ("mailing:marketing", False),
                                               ("mailing:publish_contact_data", True)])  # fmt: skip
def test_only_a_mailing_to_an_account_may_be_optional(uow: UnitOfWork, kind: str, account: bool) -> None:
    """Consent may hold back mailings only: anything else is mandatory, so it can never be withheld by mistake."""
    account_id = 1 if account else None  # refused before anything is written
    with uow, pytest.raises(ValidationError) as refused:
        enqueue(uow.session, now=uow.clock(), kind=kind, to="ada@engines.example", subject="s", body="b",
                mandatory=False, account_id=account_id)  # fmt: skip
    assert refused.value.field == "mandatory"
