"""Which cases the portal and the API show a caller: one rule for both. A customer (or its reseller) sees only the
cases it has been told of: a case may not be shown before that (an urgent legal order may forbid telling it);
staff with the cases permission see every case."""

from __future__ import annotations

from domainpriv import cases
from domainpriv.accounts.access import Principal
from domainpriv.store import UnitOfWork


def told_cases(uow: UnitOfWork, me: Principal) -> list[cases.CaseSnapshot]:
    return [c for c in cases.cases_of_customer(uow, me) if c.customer_notified_at is not None]


def told_case(uow: UnitOfWork, me: Principal, reference: str) -> cases.CaseSnapshot:
    """The case, or CaseNotFound (also another tenant's, and one the customer has not been told of)."""
    case = cases.get_case(uow, reference, actor=me)
    if not me.is_staff and case.customer_notified_at is None:
        raise cases.CaseNotFound(reference)
    return case
