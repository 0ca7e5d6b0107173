"""Queueing a notice inside the caller's transaction: a rolled-back change sends nothing, a committed one always
does (the delivery retries until it is accepted or gives up visibly)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from domainpriv.registration.validation import normalize_email
from domainpriv.store import Notice

QUEUED, SENT, FAILED = "queued", "sent", "failed"


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
    account the notice is about (its export lists it)."""
    address = normalize_email(to, "to")
    subject = " ".join(subject.split())[:255]
    notice = Notice(kind=kind, mandatory=mandatory, to_address=address, subject=subject, body=body, created_at=now,
                    state=QUEUED, attempts=0, next_attempt_at=now, account_id=account_id)  # fmt: skip
    session.add(notice)
    return notice
