"""Steps shared by the case services, inside the caller's open transaction (they never commit): loading a case,
recording one step of its history together with its audit event, and queueing its notices.

Every step of a case is two rows written together: a `case_event` (the case's own history, shown by `case show`)
and an audit event `case:<kind>:<action>` in the hash chain (DESIGN invariant 4). Audit details carry states,
actions and field names, never contact values (audit.py keeps digests only).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from domainpriv.audit import Actor, record_event
from domainpriv.cases.errors import CaseNotFound
from domainpriv.changes import NOTHING
from domainpriv.notify.outbox import enqueue
from domainpriv.notify.templates import render
from domainpriv.store import Account, Case, CaseEvent, Domain

__all__ = ["customer_recipients", "load_case", "queue_notice", "record_step"]


def load_case(s: Session, case: int | str, *, for_update: bool = False, skip_locked: bool = False) -> Case | None:
    """The case by id (an int or a string of digits) or by reference, with its history, evidence and
    deactivations; None when there is none (or, with `skip_locked`, when another transaction holds it)."""
    statement = select(Case).options(
        selectinload(Case.events), selectinload(Case.evidence), selectinload(Case.deactivations)
    )
    if isinstance(case, int) or (isinstance(case, str) and case.isdigit()):
        statement = statement.where(Case.id == int(case))
    else:
        statement = statement.where(Case.reference == str(case).strip().upper())
    if for_update:
        statement = statement.with_for_update(of=Case, skip_locked=skip_locked)
    return s.scalar(statement)


def require_case(s: Session, case: int | str, *, for_update: bool = False) -> Case:
    row = load_case(s, case, for_update=for_update)
    if row is None:
        raise CaseNotFound(case)
    return row


def record_step(
    s: Session,
    case: Case,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    from_state: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> CaseEvent:
    """One step of the case's history (from `from_state` to the case's state now) and its audit event."""
    text = orjson.dumps(dict(details or {}), option=orjson.OPT_SORT_KEYS).decode()
    event = CaseEvent(action=action, from_state=from_state, to_state=case.state, actor=str(actor), reason=reason,
                      details=text, at=now)  # fmt: skip
    case.events.append(event)
    case.updated_at = now
    record_event(
        s,
        now=now,
        actor=actor,
        action=f"case:{case.kind}:{action}",
        object_type="case",
        object_key=case.reference,
        reason=reason,
        before={"state": from_state},
        after={"state": case.state, "due_at": case.due_at.isoformat() if case.due_at else None},
        details={"domain": case.domain_name, "from": from_state, "to": case.state, **(details or {})},
        affects=NOTHING,
    )
    return event


def queue_notice(
    s: Session, *, now: datetime, kind: str, to: str, account_id: int | None = None, **context: object
) -> str:
    """Render the notice `kind` and queue it (mandatory: legal notices go whatever the consents). Returns the body."""
    subject, body = render(kind, **context)
    enqueue(s, now=now, kind=kind, to=to, subject=subject, body=body, mandatory=True, account_id=account_id)
    return body


def customer_recipients(s: Session, case: Case) -> list[tuple[str, int]]:
    """(address, account id) of the domain's account and of its reseller, if any: who is told of a case."""
    if case.domain_id is None:
        return []
    row = s.execute(select(Domain.account_id).where(Domain.id == case.domain_id)).first()
    if row is None:
        return []
    account = s.get(Account, row.account_id)
    if account is None:
        return []
    out = [(account.email, account.id)]
    if account.parent_id is not None:
        parent = s.get(Account, account.parent_id)
        if parent is not None and parent.email != account.email:
            out.append((parent.email, parent.id))
    return out
