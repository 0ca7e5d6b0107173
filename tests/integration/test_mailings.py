"""Mailings on real SQLite and PostgreSQL, delivered to a real SMTP sink: only with consent in force, each with an
unsubscribe link that works without a login and withdraws exactly its purpose; mandatory notices always go."""

from __future__ import annotations

import json
import logging
import re
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, func, select, text

from domainpriv.accounts import consent, password_reset
from domainpriv.config import MailSettings
from domainpriv.notify.delivery import deliver_due
from domainpriv.notify.mailings import queue_mailing, unsubscribe
from domainpriv.notify.outbox import WITHDRAWN
from domainpriv.registration.errors import AccountNotFound, ValidationError
from domainpriv.store import AccountKind, AuditEvent, ConsentPurpose, Notice, UnitOfWork, UnsubscribeLink
from support.builders import ACTOR, make_account
from support.smtp_sink import Sink, smtp_sink

POLICY = "2026-12"
BASE = "https://portal.registrar.example/"
M, P, N = ConsentPurpose.MARKETING, ConsentPurpose.PARTNER_OFFERS, ConsentPurpose.RESELLER_NEWSLETTER
LINK = re.compile(r"https://portal\.registrar\.example/unsubscribe/(\S+)\n\Z")


def mail(sink: Sink) -> MailSettings:
    return MailSettings.model_validate({
        "smtp_host": "127.0.0.1", "smtp_port": sink.port, "from_address": "noreply@registrar.example",
        "starttls": False, "username": "", "password": "", "timeout_seconds": 5, "max_attempts": 3,
        "backoff_seconds": 60,
    })  # fmt: skip


def grant(uow: UnitOfWork, handle: str, *purposes: ConsentPurpose) -> None:
    for purpose in purposes:
        consent.grant(uow, actor=ACTOR, account=handle, purpose=purpose, source="portal", policy_version=POLICY,
                      reason="t")  # fmt: skip


def withdraw(uow: UnitOfWork, handle: str, purpose: ConsentPurpose) -> None:
    consent.withdraw(uow, actor=ACTOR, account=handle, purpose=purpose, source="portal", policy_version=POLICY,
                     reason="t")  # fmt: skip


def marketing(uow: UnitOfWork, **kwargs: object) -> int:
    values: dict[str, object] = {"actor": ACTOR, "purpose": M, "subject": "Autumn offers",
                                 "body": "Two domains for the price of one.", "link_base": BASE}  # fmt: skip
    return queue_mailing(uow, **{**values, **kwargs})  # type: ignore[arg-type]


def delivered(uow: UnitOfWork) -> Sink:
    with smtp_sink() as sink:
        deliver_due(uow, mail(sink))
    return sink


def notices(uow: UnitOfWork) -> list[Notice]:
    with uow.reading() as r:
        return list(r.session.scalars(select(Notice).order_by(Notice.id)))


def content(message: EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")  # SMTP's line ends, back to the template's


def token_of(sink: Sink, to: str) -> str:
    (message,) = [m for m in sink.messages if m["To"] == to]
    found = LINK.search(content(message))
    assert found, "the body ends with the unsubscribe link"
    return found.group(1)


def count(uow: UnitOfWork, model: type[AuditEvent] | type[UnsubscribeLink] | type[Notice]) -> int:
    with uow.reading() as r:
        return r.session.scalar(select(func.count()).select_from(model)) or 0


def test_a_mailing_goes_only_to_accounts_whose_consent_is_in_force(uow: UnitOfWork) -> None:
    yes, _never_granted, withdrawn, other_purpose = (make_account(uow) for _ in range(4))
    grant(uow, yes.handle, M)
    grant(uow, withdrawn.handle, M)
    withdraw(uow, withdrawn.handle, M)
    grant(uow, other_purpose.handle, P, N)
    assert marketing(uow) == 1
    (notice,) = notices(uow)
    assert (notice.to_address, notice.kind, notice.mandatory) == (yes.email, "mailing:marketing", False)
    sink = delivered(uow)
    assert [m["To"] for m in sink.messages] == [yes.email]
    assert sink.messages[0]["Subject"] == "Autumn offers"
    assert content(sink.messages[0]).startswith("Two domains for the price of one.\n\n--\n")


def test_only_the_token_digest_is_stored(uow: UnitOfWork, engine: Engine) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    token = token_of(delivered(uow), account.email)
    with engine.connect() as conn:
        stored = "\n".join(str(v) for row in conn.execute(text("SELECT * FROM unsubscribe_link")) for v in row)
    assert token not in stored and len(stored) > 0


def test_the_reseller_newsletter_goes_only_to_that_resellers_consenting_customers(uow: UnitOfWork) -> None:
    reseller = make_account(uow, kind=AccountKind.RESELLER)
    other = make_account(uow, kind=AccountKind.RESELLER)
    mine, mine_no_consent, theirs = (make_account(uow, parent=r.handle) for r in (reseller, reseller, other))
    direct = make_account(uow)
    for account in (mine, theirs, direct, reseller):
        grant(uow, account.handle, N)
    assert marketing(uow, purpose=N, reseller=reseller.handle) == 1
    assert [n.to_address for n in notices(uow)] == [mine.email]
    assert mine_no_consent.email not in {n.to_address for n in notices(uow)}


@pytest.mark.parametrize(
    ("purpose", "reseller", "field"),
    [(N, None, "reseller"), (M, "some-reseller", "reseller"), (ConsentPurpose.PUBLISH_CONTACT_DATA, None, "purpose")],
)
def test_a_mailing_with_a_wrong_purpose_or_reseller_is_refused_naming_the_field(
    uow: UnitOfWork, purpose: ConsentPurpose, reseller: str | None, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        marketing(uow, purpose=purpose, reseller=reseller)
    assert refused.value.field == field


def test_the_reseller_newsletter_of_an_unknown_or_non_reseller_account_is_refused(uow: UnitOfWork) -> None:
    customer = make_account(uow)
    for handle in ("no-such-reseller", customer.handle):
        with pytest.raises(AccountNotFound):
            marketing(uow, purpose=N, reseller=handle)
    assert count(uow, Notice) == 0


def test_a_mailing_is_one_audit_event_with_its_count_not_one_per_recipient(uow: UnitOfWork) -> None:
    for _ in range(3):
        grant(uow, make_account(uow).handle, P)
    before = count(uow, AuditEvent)
    assert marketing(uow, purpose=P) == 3
    with uow.reading() as r:
        (event,) = r.session.scalars(select(AuditEvent).where(AuditEvent.seq > before))
    assert event.action == "notice:mailing:partner_offers"
    assert json.loads(event.details) == {"purpose": "partner_offers", "count": 3, "reseller": None}


def test_a_rolled_back_mailing_sends_nothing(uow: UnitOfWork) -> None:
    grant(uow, make_account(uow).handle, M)
    with uow:
        assert marketing(uow) == 1
        # the outer block ends without commit: the joined mailing is rolled back
    assert (count(uow, Notice), count(uow, UnsubscribeLink)) == (0, 0)
    assert delivered(uow).messages == []


def test_the_unsubscribe_link_without_login_withdraws_exactly_its_purpose(uow: UnitOfWork) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M, P)
    marketing(uow)
    token = token_of(delivered(uow), account.email)
    assert unsubscribe(uow, token, policy_version=POLICY) is M
    state = consent.in_force(uow, account.handle)
    assert (state[M], state[P]) == (False, True)
    last = consent.ledger(uow, account.handle)[-1]
    assert (last.purpose, last.granted, last.source, last.policy_version) == (M, False, "unsubscribe-link", POLICY)
    assert marketing(uow) == 0  # the next mailing leaves it out


def test_a_second_click_is_harmless(uow: UnitOfWork) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    token = token_of(delivered(uow), account.email)
    assert unsubscribe(uow, token, policy_version=POLICY) is M
    entries, events = consent.ledger(uow, account.handle), count(uow, AuditEvent)
    assert unsubscribe(uow, token, policy_version=POLICY) is M
    assert consent.ledger(uow, account.handle) == entries and count(uow, AuditEvent) == events


@pytest.mark.parametrize("token", ["dp_" + "A" * 43, "", "dp_", "x" * 3000, "../../etc/passwd", "' OR 1=1 --"])
def test_an_unknown_token_changes_nothing(uow: UnitOfWork, token: str) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    entries, events = consent.ledger(uow, account.handle), count(uow, AuditEvent)
    assert unsubscribe(uow, token, policy_version=POLICY) is None
    assert consent.ledger(uow, account.handle) == entries and count(uow, AuditEvent) == events


def test_a_mailing_queued_before_the_withdrawal_is_not_sent(uow: UnitOfWork) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    withdraw(uow, account.handle, M)
    with smtp_sink() as sink:
        report = deliver_due(uow, mail(sink))
    assert (report.sent, report.withdrawn) == (0, 1) and sink.messages == []
    (notice,) = notices(uow)
    assert notice.state == WITHDRAWN and notice.attempts == 0 and notice.body == ""


def test_a_withdrawal_and_a_grant_again_before_delivery_sends(uow: UnitOfWork) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    withdraw(uow, account.handle, M)
    grant(uow, account.handle, M)
    assert [m["To"] for m in delivered(uow).messages] == [account.email]


def test_a_mandatory_notice_still_goes_after_marketing_is_withdrawn(uow: UnitOfWork) -> None:
    account = make_account(uow)
    grant(uow, account.handle, M, P)
    marketing(uow)
    token = token_of(delivered(uow), account.email)
    unsubscribe(uow, token, policy_version=POLICY)
    withdraw(uow, account.handle, P)
    password_reset.request_reset(uow, email=account.email, link_base=BASE)
    marketing(uow)
    sink = delivered(uow)
    assert [m["Subject"] for m in sink.messages] == ["Reset your password"]


def test_no_personal_data_in_the_log_lines(uow: UnitOfWork, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="domainpriv")
    account = make_account(uow)
    grant(uow, account.handle, M)
    marketing(uow)
    marketing(uow)
    token = token_of(_deliver_one(uow), account.email)
    unsubscribe(uow, token, policy_version=POLICY)
    deliver_due(uow, mail(Sink(1)))  # the second mailing: withheld, and logged as such
    # Every logger but the test's own SMTP sink (aiosmtpd's `mail.log` logs the recipients it receives, at INFO,
    # whenever an earlier test in the same worker left the root logger at INFO).
    text = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("mail.log"))
    assert "withdrawn" in text
    assert account.email not in text and token not in text
    assert "Two domains" not in text


def _deliver_one(uow: UnitOfWork) -> Sink:
    with smtp_sink() as sink:
        deliver_due(uow, mail(sink), limit=1)
    return sink
