"""Queueing a notice inside the caller's transaction: a rolled-back change sends nothing, a committed one always
does (the delivery retries until it is accepted or gives up visibly).

Mandatory notices (security, change confirmations, later complaints and disclosures) go whatever the consents.
A notice that is not mandatory is a mailing: its kind names its consent purpose (`mailing:marketing`), it is
about one account, and the delivery sends it only while that account's consent to the purpose is in force
(notify/mailings.py queues them after checking it; notify/delivery.py checks again before sending).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import normalize_email
from domainpriv.store import Notice
from domainpriv.vocabulary import MAILING_PURPOSES, ConsentPurpose

# WITHDRAWN: a mailing not sent because its consent was withdrawn after it was queued.
QUEUED, SENT, FAILED, WITHDRAWN = "queued", "sent", "failed", "withdrawn"
_MAILING = "mailing:"


def mailing_kind(purpose: ConsentPurpose) -> str:
    """The notice kind of a mailing for `purpose`."""
    return _MAILING + purpose.value


def mailing_purpose(kind: str) -> ConsentPurpose | None:
    """The consent purpose a mailing kind names; None for any other kind."""
    if not kind.startswith(_MAILING):
        return None
    purpose = kind.removeprefix(_MAILING)
    return next((p for p in MAILING_PURPOSES if p.value == purpose), None)


def enqueue(
    session: Session,
    *,
    now: datetime,
    kind: str,
    to: str,
    subject: str,
    body: str,
    mandatory: bool,
    account_id: int | None = None,
) -> Notice:
    """Add a notice to the outbox in the open transaction (never commits). Raises ValidationError for a bad
    address. Subject lines are single lines (a newline there would be a header injection). `account_id`: the
    account the notice is about (its export lists it). A notice that is not mandatory must be a mailing to an
    account (ValidationError otherwise): nothing else may depend on consent."""
    if not mandatory and (mailing_purpose(kind) is None or account_id is None):
        raise ValidationError("mandatory", "only a mailing (kind mailing:<purpose>) to an account may be optional")
    address = normalize_email(to, "to")
    subject = " ".join(subject.split())[:255]
    notice = Notice(kind=kind, mandatory=mandatory, to_address=address, subject=subject, body=body, created_at=now,
                    state=QUEUED, attempts=0, next_attempt_at=now, account_id=account_id)  # fmt: skip
    session.add(notice)
    return notice
