"""The customer's own consent choices (marketing, partner offers, the reseller's newsletter, publishing the
organisation), changed from the portal, the API or by staff on an e-mailed request: authorised and scoped here,
recorded in the one consent ledger (accounts/consent.py) with its source and policy version."""

from __future__ import annotations

from domainpriv.accounts import consent
from domainpriv.accounts.access import Permission, require, scoped_account
from domainpriv.registration.errors import ValidationError
from domainpriv.selfservice.changes import Request, audit_reason
from domainpriv.store import UnitOfWork
from domainpriv.vocabulary import MAILING_PURPOSES, ConsentPurpose

# What the customer switches here; publishing contact data goes with the privacy mode (changes.set_privacy).
CHOICES = (*MAILING_PURPOSES, ConsentPurpose.PUBLISH_ORGANIZATION)


def set_consent(
    uow: UnitOfWork, request: Request, *, account: str, purpose: str, granted: bool, policy_version: str
) -> list[consent.ConsentEntry]:
    """Grant or withdraw one purpose for an account in scope; returns its ledger. Raises ValidationError
    (purpose), AccountNotFound (also another tenant's), Forbidden."""
    require(request.principal, Permission.CONSENT_WRITE)
    chosen = next((p for p in CHOICES if p.value == purpose), None)
    if chosen is None:
        raise ValidationError("purpose", f"must be one of {', '.join(p.value for p in CHOICES)}")
    scoped_account(uow, request.principal, account)
    p = request.principal
    source = "staff-email-request" if p.is_staff else ("api" if p.via == "token" else "portal")
    change = consent.grant if granted else consent.withdraw
    with uow:
        change(uow, actor=p.actor, account=account, purpose=chosen, source=source, policy_version=policy_version,
               reason=audit_reason(request, account))  # fmt: skip
        uow.commit()
    return consent.ledger(uow, account)
