"""Delivering the outbox over SMTP: claim due notices, send each, record the outcome.

Claiming: on PostgreSQL `FOR UPDATE SKIP LOCKED`, so two daemons sweeping at once send each notice once; on SQLite
the write transaction holds the database. A notice is marked sent in the transaction that claimed it, after the
relay accepted it: a crash between the relay's "250" and the commit sends it again at the next sweep (at least
once: a duplicate notice is better than a lost security notice). Failures are retried with exponential backoff
and end as `failed` with the relay's reason (never the message) after `max_attempts`.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy import select

from domainpriv.config import MailSettings
from domainpriv.notify.outbox import FAILED, QUEUED, SENT
from domainpriv.store import Notice, UnitOfWork

log = logging.getLogger(__name__)

BATCH = 50
MAX_BACKOFF = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    sent: int
    retried: int
    failed: int


def deliver_due(uow: UnitOfWork, mail: MailSettings, *, limit: int = BATCH) -> DeliveryReport:
    """Send the notices that are due now, at most `limit`, over one SMTP connection."""
    sent = retried = failed = 0
    with uow:
        now = uow.clock()
        s = uow.session
        due = list(
            s.scalars(
                select(Notice)
                .where(Notice.state == QUEUED, Notice.next_attempt_at <= now)
                .order_by(Notice.next_attempt_at, Notice.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        if not due:
            return DeliveryReport(0, 0, 0)
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
                        notice.state = FAILED
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
                notice.state, notice.sent_at, notice.last_error = SENT, now, None
                sent += 1
        finally:
            _hang_up(relay)
        uow.commit()
    return DeliveryReport(sent, retried, failed)


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
