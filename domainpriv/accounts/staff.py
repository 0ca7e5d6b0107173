"""Staff roles: which role a staff account holds (accounts/access.py says what each role may do)."""

from __future__ import annotations

from domainpriv.accounts.rows import account_row
from domainpriv.audit import Actor, record_event
from domainpriv.changes import NOTHING
from domainpriv.registration.errors import ValidationError
from domainpriv.store import AccountKind, UnitOfWork
from domainpriv.vocabulary import StaffRole


def set_staff_role(uow: UnitOfWork, *, actor: Actor, account: str, role: StaffRole | str, reason: str) -> StaffRole:
    """Give a staff account its role (admins, or the CLI). Raises AccountNotFound, ValidationError (not a staff
    account, or no such role)."""
    try:
        new = StaffRole(role)
    except ValueError:
        raise ValidationError("role", f"must be one of {', '.join(r.value for r in StaffRole)}") from None
    with uow:
        row = account_row(uow, account)
        if row.kind is not AccountKind.STAFF:
            raise ValidationError("account", "only staff accounts have a staff role")
        before = row.staff_role
        row.staff_role = new
        record_event(uow.session, now=uow.clock(), actor=actor, action="account:staff-role:set", object_type="account",
                     object_key=row.handle, reason=reason,
                     details={"from": before.value if before else None, "to": new.value}, affects=NOTHING)  # fmt: skip
        uow.commit()
    return new
