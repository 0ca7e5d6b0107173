"""Delivering the outbox over SMTP: claim due notices, send each, record the outcome.

Claiming: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two daemons sweeping at once send each notice once; on SQLite
the write transaction holds the database. A notice is marked sent in the transaction that claimed it, after the
relay accepted it: a crash between the relay's "250" and the commit sends it again at the next sweep (at least
once: a duplicate notice is better than a lost security notice). Failures are retried with exponential backoff
and end as `failed` with the relay's reason (never the message) after `max_attempts`.

A notice that is done (sent, failed for good, withheld) keeps its kind, address, subject and outcome, but not its
body: bodies carry personal data and live secrets (reset links, codes), and nothing reads them again.

A mailing (a notice that is not mandatory) is sent only while its account's consent to its purpose is in force:
one withdrawn after the mailing was queued ends as `withdrawn`, unsent. Mandatory notices are never held back.
A poll that finds nothing due costs one read, no write transaction (SQLite's write lock stays free).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from domainpriv.config import MailSettings
from domainpriv.notify.outbox import FAILED, QUEUED, SENT, WITHDRAWN, mailing_purpose
from domainpriv.store import Consent, ConsentPurpose, Notice, UnitOfWork

log = logging.getLogger(__name__)

BATCH = 50
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int
    retried: int
    failed: int
    withdrawn: int = 0  # mailings not sent: their consent was withdrawn after queueing


def deliver_due(uow: UnitOfWork, mail: MailSettings, *, limit: int = BATCH) -> DeliveryReport:
    """Send the notices that are due now, at most `limit`, over one SMTP connection."""
    sent = retried = failed = withdrawn = 0
    with uow.reading() as r:
        if r.session.scalar(select(Notice.id).where(*_due(uow.clock())).limit(1)) is None:
            return DeliveryReport(0, 0, 0)
    with uow:
        now = uow.clock()
        s = uow.session
        due = list(
            s.scalars(
                select(Notice)
                .where(*_due(now))
                .order_by(Notice.next_attempt_at, Notice.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        held = _consent_withdrawn(s, [n for n in due if not n.mandatory])
        for notice in held:
            _done(notice, WITHDRAWN)
            notice.last_error = None
            log.info("notice %d (%s) not sent: consent withdrawn", notice.id, notice.kind)
        withdrawn, held_ids = len(held), {n.id for n in held}
        due = [n for n in due if n.id not in held_ids]
        if not due:
            uow.commit()
            return DeliveryReport(0, 0, 0, withdrawn)
        try:
            relay: smtplib.SMTP | None = _connect(mail)
        except (OSError, smtplib.SMTPException) as exc:
            relay, connect_error = None, _describe(exc)
        try:
            for notice in due:
                notice.attempts += 1
                try:
                    if relay is None:
                        raise _Unreachable(connect_error)
                    relay.send_message(_message(notice, mail, now))
                except (OSError, smtplib.SMTPException, _Unreachable) as exc:
                    notice.last_error = _describe(exc)
                    if notice.attempts >= mail.max_attempts:
                        _done(notice, FAILED)
                        failed += 1
                        log.warning("notice %d (%s) failed after %d attempts: %s", notice.id, notice.kind,
                                    notice.attempts, notice.last_error)  # fmt: skip
                    else:
                        notice.next_attempt_at = now + _backoff(mail, notice.attempts)
                        retried += 1
                    if relay is not None and isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                        relay.close()  # the connection is gone: the rest wait for the next sweep
                        relay, connect_error = None, notice.last_error
                    continue
                _done(notice, SENT)
                notice.sent_at, notice.last_error = now, None
                sent += 1
        finally:
            _hang_up(relay)
        uow.commit()
    return DeliveryReport(sent, retried, failed, withdrawn)


def _done(notice: Notice, state: str) -> None:
    """The notice's final state; its body goes (personal data, live links: nothing reads it again)."""
    notice.state, notice.body = state, ""


def _consent_withdrawn(s: Session, mailings: list[Notice]) -> list[Notice]:
    """The mailings whose account's consent to their purpose is no longer in force (one read for all)."""
    if not mailings:
        return []
    state: dict[tuple[int, ConsentPurpose], bool] = {}
    accounts = {n.account_id for n in mailings if n.account_id is not None}
    for account_id, purpose, granted in s.execute(
        select(Consent.account_id, Consent.purpose, Consent.granted)
        .where(Consent.account_id.in_(accounts))
        .order_by(Consent.id)
    ):
        state[(account_id, purpose)] = granted
    out = []
    for notice in mailings:
        wanted = mailing_purpose(notice.kind)
        if notice.account_id is None or wanted is None or not state.get((notice.account_id, wanted), False):
            out.append(notice)
    return out


def _due(now: datetime) -> tuple[ColumnElement[bool], ...]:
    return Notice.state == QUEUED, Notice.next_attempt_at <= now


class _Unreachable(Exception):
    pass


def _connect(mail: MailSettings) -> smtplib.SMTP:
    relay = smtplib.SMTP(mail.smtp_host, mail.smtp_port, timeout=mail.timeout_seconds)
    try:
        if mail.starttls:
            relay.starttls(context=ssl.create_default_context())
        if mail.username:
            relay.login(mail.username, mail.password)
    except BaseException:
        relay.close()
        raise
    return relay


def _hang_up(relay: smtplib.SMTP | None) -> None:
    if relay is None:
        return
    try:
        relay.quit()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        relay.close()


def _message(notice: Notice, mail: MailSettings, now: datetime) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail.from_address
    message["To"] = notice.to_address
    message["Subject"] = notice.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(idstring=f"notice-{notice.id}", domain=mail.from_address.rpartition("@")[2])
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to notices
    message.set_content(notice.body)
    return message


def _backoff(mail: MailSettings, attempts: int) -> timedelta:
    return min(MAX_BACKOFF, timedelta(seconds=mail.backoff_seconds * 2 ** (attempts - 1)))


def _describe(exc: BaseException) -> str:
    """The relay's reason, bounded; never the message or its addresses (smtplib puts recipients in some errors)."""
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{type(exc).__name__}: {exc.smtp_code}"[:500]
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "SMTPRecipientsRefused: the relay refused the recipient"
    return f"{type(exc).__name__}: {exc}"[:500]
