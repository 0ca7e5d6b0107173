"""Disclosure: only the requested and approved fields, taken from the stored record, mailed to the requester
through the outbox and recorded in the disclosure ledger; and the registrant's view of that ledger.

Rules (workflows.md §1.2 row 8, §2; the seeds limit disclosure to legal need):
* the customer is told before any disclosure: it needs a customer notice AND its deadline expired, unless an
  urgent legal order has been accepted on the case (`accept-legal-order`);
* the approved fields are a non-empty subset of the requested ones (public field names);
* the values come from the stored registration data (never the public view: the point is what is hidden there);
* the requester's mail holds those values and the use limits, nothing else of the customer's data;
* each disclosure is a ledger row (case, domain, the registrant's account, recipient, fields, basis, time).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domainpriv.accounts.access import Principal, scoped_account
from domainpriv.cases.errors import DisclosureNotAllowed
from domainpriv.cases.fields import field_values, join_fields, parse_fields, split_fields
from domainpriv.cases.history import queue_notice
from domainpriv.cases.intake import when
from domainpriv.cases.records import LedgerEntry, ledger_entry
from domainpriv.registration.errors import AccountNotFound, DomainNotFound, ValidationError
from domainpriv.registration.record_query import load_domain
from domainpriv.store import Account, Case, DisclosureEntry, UnitOfWork

__all__ = ["check_disclosure_allowed", "disclose_fields", "ledger_for_account", "ledger_rows"]


def check_disclosure_allowed(case: Case, now: datetime) -> None:
    """Raise DisclosureNotAllowed unless the customer was notified and the deadline expired, or an urgent legal
    order was accepted."""
    if case.legal_order_at is not None:
        return
    if case.customer_notified_at is None:
        raise DisclosureNotAllowed(case.reference, case.state, "the customer has not been notified (notify-customer "
                                   "first, or accept-legal-order for an urgent legal order)")  # fmt: skip
    if case.customer_deadline_at is None or now < case.customer_deadline_at:
        raise DisclosureNotAllowed(case.reference, case.state, "the customer's deadline runs until "
                                   f"{when(case.customer_deadline_at)}")  # fmt: skip


def disclose_fields(s: Session, case: Case, *, now: datetime, fields: str | Sequence[str] | None) -> tuple[str, ...]:
    """Release the approved `fields` of the case's domain to the requester, in the open transaction: the mail and
    the ledger row. Returns the fields released. Raises DisclosureNotAllowed, ValidationError (fields: none
    given, or one not requested), DomainNotFound."""
    check_disclosure_allowed(case, now)
    requested = split_fields(case.fields_requested)
    if not requested:
        raise ValidationError("fields", f"case {case.reference} requested no fields: there is nothing to disclose")
    approved = parse_fields(fields or ())
    if not approved:
        raise ValidationError("fields", f"name the approved fields (of those requested: {', '.join(requested)})")
    extra = [f for f in approved if f not in requested]
    if extra:
        raise ValidationError("fields", f"{extra[0]} was not requested (requested: {', '.join(requested)})")
    found = load_domain(s, case.domain_name)
    if found is None:
        raise DomainNotFound(case.domain_name)
    record, keys = found
    basis = case.legal_basis or (f"{case.kind} {case.reference}: no adequate answer from the customer by the deadline")
    queue_notice(s, now=now, kind="case-disclosure", to=case.requester_email, reference=case.reference,
                 domain=record.u_label, values=field_values(record, approved), basis=basis)  # fmt: skip
    s.add(DisclosureEntry(case_id=case.id, domain_name=case.domain_name, account_id=keys.account_id,
                          recipient_name=case.requester_name, recipient_org=case.requester_org,
                          recipient_email=case.requester_email, fields=join_fields(approved), basis=basis,
                          legal_order=case.legal_order_at is not None, at=now))  # fmt: skip
    return approved


def ledger_rows(s: Session, account_id: int) -> list[LedgerEntry]:
    """The ledger of one account's domains, oldest first, inside the caller's transaction (the personal-data
    export reads it this way)."""
    rows = s.execute(
        select(DisclosureEntry, Case.reference)
        .join(Case, Case.id == DisclosureEntry.case_id)
        .where(DisclosureEntry.account_id == account_id)
        .order_by(DisclosureEntry.at, DisclosureEntry.id)
    )
    return [ledger_entry(entry, reference) for entry, reference in rows]


def ledger_for_account(uow: UnitOfWork, *, account: str, principal: Principal | None = None) -> list[LedgerEntry]:
    """Who received which fields of the account's domains, when, on what basis, under which case. With a
    `principal` (the portal, the API), only an account in its scope (AccountNotFound otherwise, also for another
    tenant's); without one (staff tools, the export) any account. Raises AccountNotFound."""
    account_id = scoped_account(uow, principal, account) if principal is not None else None
    with uow.reading() as r:
        if account_id is None:
            account_id = r.session.scalar(select(Account.id).where(Account.handle == account))
            if account_id is None:
                raise AccountNotFound(account)
        return ledger_rows(r.session, account_id)
