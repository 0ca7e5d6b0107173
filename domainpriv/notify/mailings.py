"""Mailings (marketing, partner offers, reseller newsletters): queued only to accounts whose consent to the
purpose is in force, each with an unsubscribe link that works without logging in.

Why the consent check is here, in the function that queues (STYLE §9): no other path queues an optional notice
(outbox.enqueue refuses one that is not a mailing), and the delivery checks the consent again before sending, so
a withdrawal between queueing and sending is honoured too. Mandatory notices never pass through here and never
depend on consent.

The unsubscribe token is random and only its SHA-256 is stored (UnsubscribeLink). It withdraws exactly one
purpose of one account, can be used any number of times (a second click changes nothing) and does nothing else.
"""

from __future__ import annotations

from sqlalchemy import Select, exists, select
from sqlalchemy.orm import aliased

from domainpriv.accounts import tokens
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.notify.outbox import enqueue, mailing_kind
from domainpriv.notify.templates import render
from domainpriv.registration.errors import AccountNotFound, ValidationError
from domainpriv.registration.services import record_consent
from domainpriv.registration.validation import normalize_text
from domainpriv.store import Account, AccountKind, Consent, ConsentPurpose, UnitOfWork, UnsubscribeLink
from domainpriv.vocabulary import MAILING_PURPOSES

__all__ = ["queue_mailing", "unsubscribe"]


def queue_mailing(
    uow: UnitOfWork,
    *,
    actor: Actor,
    purpose: ConsentPurpose,
    subject: str,
    body: str,
    link_base: str,
    reseller: str | None = None,
    reason: str = "mailing",
) -> int:
    """Queue one mailing per account whose consent to `purpose` is in force; returns how many were queued.
    RESELLER_NEWSLETTER goes to the customers of `reseller` only (required for it, refused for the others).
    Each body ends with `{link_base}/unsubscribe/{token}`. One audit event for the whole mailing (purpose,
    count), not one per recipient. Raises ValidationError (purpose, reseller, subject, body), AccountNotFound."""
    if purpose not in MAILING_PURPOSES:
        raise ValidationError("purpose", f"must be one of {', '.join(p.value for p in MAILING_PURPOSES)}")
    if (purpose is ConsentPurpose.RESELLER_NEWSLETTER) != (reseller is not None):
        raise ValidationError("reseller", "is required for the reseller newsletter, and only for it")
    subject = normalize_text(subject, "subject", max_length=200)
    if not body.strip():
        raise ValidationError("body", "must not be empty")
    base = link_base.rstrip("/")
    with uow:
        now = uow.clock()
        s = uow.session
        recipients = _consenting(purpose)
        if reseller is not None:
            parent = s.scalar(select(Account).where(Account.handle == reseller))
            if parent is None or parent.kind is not AccountKind.RESELLER:
                raise AccountNotFound(reseller)
            recipients = recipients.where(Account.parent_id == parent.id)
        count = 0
        for account_id, address in s.execute(recipients.order_by(Account.id)):
            token = tokens.new_token()
            s.add(UnsubscribeLink(account_id=account_id, purpose=purpose, digest=tokens.token_digest(token),
                                  created_at=now))  # fmt: skip
            text = render("mailing", subject=subject, body=body, purpose=purpose,
                          unsubscribe_link=f"{base}/unsubscribe/{token}")  # fmt: skip
            enqueue(s, now=now, kind=mailing_kind(purpose), to=address, subject=text.subject, body=text.body,
                    mandatory=False, account_id=account_id)  # fmt: skip
            count += 1
        record_event(s, now=now, actor=actor, action=f"notice:mailing:{purpose.value}", object_type="mailing",
                     object_key=reseller or purpose.value, reason=reason,
                     details={"purpose": purpose.value, "count": count, "reseller": reseller},
                     affects=NOTHING)  # fmt: skip
        uow.commit()
    return count


def unsubscribe(uow: UnitOfWork, token: str, *, policy_version: str | None) -> ConsentPurpose | None:
    """Withdraw the purpose of an unsubscribe link, without a login (source "unsubscribe-link"); returns the
    purpose, or None for an unknown or malformed token (which changes nothing). A link whose purpose is already
    withdrawn records nothing new. `policy_version`: config consent.policy_version."""
    if not tokens.looks_like_token(token):
        return None
    with uow:
        s = uow.session
        link = s.scalar(select(UnsubscribeLink).where(UnsubscribeLink.digest == tokens.token_digest(token)))
        if link is None:
            return None
        # Locked: two clicks at once record one withdrawal (the second sees it in force no longer).
        account = s.scalar(select(Account).where(Account.id == link.account_id).with_for_update())
        assert account is not None  # the link's foreign key cascades on delete
        if _in_force(uow, account.id, link.purpose):
            record_consent(uow, actor=Actor(account.kind.value, account.handle), account=account.handle,
                           purpose=link.purpose, granted=False, source="unsubscribe-link",
                           policy_version=policy_version, reason="unsubscribe link in a mailing")  # fmt: skip
        uow.commit()
        return link.purpose


def _consenting(purpose: ConsentPurpose) -> Select[int, str]:
    """(account id, address) of the accounts whose newest record for `purpose` is a grant."""
    newer = aliased(Consent)
    latest_grant = (
        select(Consent.id)
        .where(Consent.account_id == Account.id, Consent.purpose == purpose, Consent.granted.is_(True))
        .where(~exists().where(newer.account_id == Consent.account_id, newer.purpose == purpose, newer.id > Consent.id))
    )
    return select(Account.id, Account.email).where(latest_grant.exists())


def _in_force(uow: UnitOfWork, account_id: int, purpose: ConsentPurpose) -> bool:
    granted = uow.session.scalar(
        select(Consent.granted)
        .where(Consent.account_id == account_id, Consent.purpose == purpose)
        .order_by(Consent.id.desc())
        .limit(1)
    )
    return bool(granted)
