"""The consent ledger: each grant and withdrawal of a purpose (publication, marketing, partner offers, reseller
newsletter), with its time, source and the version of the policy text the customer saw; visible to the customer.

Why a ledger and not a flag per purpose: the seeds promise that marketing can be refused and that the refusal is
honoured (000, 001, 002, 004), and a regulator or the customer may ask when and how consent was given. Rows are
only ever added; the newest row per (account, purpose) is in force. Grants and withdrawals go through
`registration.services.record_consent`, the one implementation (it also unpublishes `public` domains when consent
to publish is withdrawn, audits, and writes the change feed); this module names the two directions and reads the
ledger back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from domainpriv.accounts.rows import account_row
from domainpriv.audit import Actor
from domainpriv.registration.services import CONSENT_SOURCES, record_consent
from domainpriv.store import Consent, ConsentPurpose, UnitOfWork

__all__ = ["SOURCES", "ConsentEntry", "grant", "in_force", "ledger", "withdraw"]

SOURCES = CONSENT_SOURCES  # portal, api, unsubscribe-link, staff-email-request, import, cli


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One line of the ledger."""

    time: datetime
    purpose: ConsentPurpose
    granted: bool
    source: str
    policy_version: str | None  # None: recorded before versions were kept, or imported without one


def grant(
    uow: UnitOfWork,
    *,
    actor: Actor,
    account: str,
    purpose: ConsentPurpose,
    source: str,
    policy_version: str | None,
    reason: str,
) -> None:
    """Record the account's consent to `purpose`. Raises AccountNotFound, ValidationError (source,
    policy_version)."""
    record_consent(uow, actor=actor, account=account, purpose=purpose, granted=True, source=source,
                   policy_version=policy_version, reason=reason)  # fmt: skip


def withdraw(
    uow: UnitOfWork,
    *,
    actor: Actor,
    account: str,
    purpose: ConsentPurpose,
    source: str,
    policy_version: str | None,
    reason: str,
) -> None:
    """Record the withdrawal of the account's consent to `purpose` (recorded even when none was in force: the
    customer's refusal is itself worth keeping). Raises AccountNotFound, ValidationError."""
    record_consent(uow, actor=actor, account=account, purpose=purpose, granted=False, source=source,
                   policy_version=policy_version, reason=reason)  # fmt: skip


def ledger(uow: UnitOfWork, account: str) -> list[ConsentEntry]:
    """Every grant and withdrawal of the account, oldest first. Raises AccountNotFound."""
    with uow.reading() as r:
        row = account_row(r, account)
        return [
            ConsentEntry(c.recorded_at, c.purpose, c.granted, c.source, c.policy_version)
            for c in r.session.scalars(select(Consent).where(Consent.account_id == row.id).order_by(Consent.id))
        ]


def in_force(uow: UnitOfWork, account: str) -> dict[ConsentPurpose, bool]:
    """For every purpose, whether the account's consent to it is in force (False where none was ever given).
    Raises AccountNotFound."""
    state = dict.fromkeys(ConsentPurpose, False)
    for entry in ledger(uow, account):
        state[entry.purpose] = entry.granted
    return state
