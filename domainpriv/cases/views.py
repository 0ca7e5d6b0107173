"""Reading cases: one case (staff, or the customer whose domain it is about), the staff's list, a customer's
cases. Read-only transactions; another tenant's case is CaseNotFound, like a missing one."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from domainpriv.accounts.access import Permission, Principal, require
from domainpriv.cases.errors import CaseNotFound
from domainpriv.cases.history import load_case
from domainpriv.cases.records import CaseSnapshot, snapshot
from domainpriv.cases.states import KINDS, Who
from domainpriv.cases.transitions import CaseActor, who_acts
from domainpriv.registration.errors import ValidationError
from domainpriv.store import Account, Case, DisclosureEntry, Domain, UnitOfWork

__all__ = ["cases_of_customer", "get_case", "list_cases"]


def get_case(uow: UnitOfWork, case: int | str, *, actor: CaseActor) -> CaseSnapshot:
    """One case with its history, and the references of the other cases about its domain (an abuse report's
    related complaint, say). Raises CaseNotFound (also another tenant's), Forbidden."""
    with uow.reading() as r:
        row = load_case(r.session, case)
        if row is None:
            raise CaseNotFound(case)
        who, _ = who_acts(r.session, actor, row)
        if who is Who.SYSTEM:
            raise CaseNotFound(case)
        entries = list(r.session.scalars(select(DisclosureEntry).where(DisclosureEntry.case_id == row.id)))
        related = r.session.scalars(
            select(Case.reference).where(Case.domain_name == row.domain_name, Case.id != row.id).order_by(Case.id)
        )
        return replace(snapshot(row, entries), related=tuple(related))


def list_cases(
    uow: UnitOfWork, *, actor: CaseActor, state: str | None = None, kind: str | None = None
) -> list[CaseSnapshot]:
    """Every case (staff), oldest first, optionally of one state or kind. Raises Forbidden, ValidationError."""
    if isinstance(actor, Principal):
        require(actor, Permission.CASES)
    if kind is not None and kind not in KINDS:
        raise ValidationError("kind", f"must be one of {', '.join(KINDS)}")
    statement = select(Case).options(
        selectinload(Case.events), selectinload(Case.evidence), selectinload(Case.deactivations)
    )
    if state is not None:
        statement = statement.where(Case.state == state)
    if kind is not None:
        statement = statement.where(Case.kind == kind)
    with uow.reading() as r:
        rows = list(r.session.scalars(statement.order_by(Case.id)))
        entries: dict[int, list[DisclosureEntry]] = {}
        ids = [c.id for c in rows]
        if ids:
            for e in r.session.scalars(select(DisclosureEntry).where(DisclosureEntry.case_id.in_(ids))):
                entries.setdefault(e.case_id, []).append(e)
        return [snapshot(c, entries.get(c.id, [])) for c in rows]


def cases_of_customer(uow: UnitOfWork, principal: Principal) -> list[CaseSnapshot]:
    """The cases about the domains of the principal's account (and, for a reseller, of its customers), newest
    first: what the portal shows the customer (use `customer_json()`)."""
    with uow.reading() as r:
        owners = select(Account.id).where(
            (Account.id == principal.account_id) | (Account.parent_id == principal.account_id)
        )
        domain_ids = select(Domain.id).where(Domain.account_id.in_(owners))
        rows = list(r.session.scalars(
            select(Case).where(Case.domain_id.in_(domain_ids)).order_by(Case.id.desc()).options(
                selectinload(Case.events), selectinload(Case.evidence), selectinload(Case.deactivations))
        ))  # fmt: skip
        return [snapshot(c, []) for c in rows]
