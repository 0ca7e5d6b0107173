"""The transitions of cases as services: `act(uow, case, action, ...)` checks the kind's table (states.py), who
acts, the action's own rules, and writes the new state, the case event, the audit event and the notices in ONE
transaction. An illegal transition is refused naming the current state.

Who acts (`actor`):
* a `Principal` (portal, API): staff need the `cases` permission (accounts/access.py) and act as staff; a
  customer or reseller acts as the customer on cases about its own domains, and another tenant's case is
  CaseNotFound, exactly like a missing one;
* an audit `Actor`: `cli` and `staff` act as staff (the operator on the machine), `system` as the system (the
  sweep, cases/deadlines.py).

What each action does beyond the state (notices are mandatory and queued in the same transaction):
* request-info, reject, refuse: the reason goes to the requester (refuse also needs the balancing notes, which go
  with it: the Registration Data Policy wants refusals to say how the balancing test was applied);
* notify-customer: the customer (and their reseller) get the complaint or request with the options and the
  deadline (`cases.assurance_business_days`, on the business-day calendar), a reminder is scheduled
  `cases.reminder_business_days` before it;
* give-assurances, cancel, court-proceedings: the customer's answer (recorded by staff for an e-mailed one);
* accept-legal-order: only on an urgent case that gives a legal basis; allows disclosure without prior notice;
* deactivate / reactivate: cases/deactivation.py; the DNS step follows after commit;
* disclose: cases/disclosure.py; acknowledge: stamps the register's clock.
The decision and review clocks are stamped when decided, and marked missed when decided late.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from domainpriv.accounts.access import Permission, Principal, in_scope, require
from domainpriv.audit import Actor
from domainpriv.cases import deactivation, disclosure, states
from domainpriv.cases.calendar import calendar_for
from domainpriv.cases.clocks import mark_missed, refresh_due
from domainpriv.cases.errors import CaseNotFound, CaseRuleBroken, NoLegalOrder, NotAllowedToAct
from domainpriv.cases.history import customer_recipients, queue_notice, record_step, require_case
from domainpriv.cases.intake import MAX_TEXT, Evidence, check_evidence, free_text, store_evidence, when
from domainpriv.cases.records import CaseSnapshot, snapshot
from domainpriv.cases.states import Who
from domainpriv.config import Settings
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.validation import u_label
from domainpriv.store import Account, Case, CaseEvidence, DisclosureEntry, Domain, UnitOfWork

__all__ = ["CaseActor", "act", "apply_action", "give_assurances", "who_acts"]

CaseActor = Principal | Actor
_NEEDS_REASON = frozenset({"request-info", "reject", "refuse", "reject-assurances", "give-assurances"})
_REVIEWS_ABUSE = frozenset({"accept", "reject", "request-info"})


@dataclass(frozen=True, slots=True)
class _Step:
    """One action as the services receive it."""

    action: str
    reason: str
    fields: str | Sequence[str] | None = None
    balancing_notes: str | None = None
    evidence: Sequence[Evidence] = ()
    details: dict[str, Any] = field(default_factory=dict)


def act(
    uow: UnitOfWork,
    case: int | str,
    action: str,
    *,
    settings: Settings,
    actor: CaseActor,
    reason: str | None = None,
    fields: str | Sequence[str] | None = None,
    balancing_notes: str | None = None,
    evidence: Sequence[Evidence] = (),
) -> CaseSnapshot:
    """Take `action` on the case (an id or a reference). Raises CaseNotFound, UnknownAction, IllegalTransition
    (naming the current state), NotAllowedToAct, Forbidden (staff without the cases permission), ValidationError
    (reason, fields, balancing_notes, evidence[i]), DisclosureNotAllowed, NoLegalOrder, AlreadyDeactivated,
    NothingToReactivate, DomainNotFound."""
    step = _Step(action, _reason(action, reason), fields, balancing_notes, evidence)
    return _act(uow, case, step, settings=settings, actor=actor)


def give_assurances(
    uow: UnitOfWork,
    case: int | str,
    *,
    settings: Settings,
    actor: CaseActor,
    indemnity: bool,
    contacted_complainant: bool,
    statement: str,
    evidence: Sequence[Evidence] = (),
) -> CaseSnapshot:
    """The customer's answer to a complaint (seed 002): the promise to indemnify and the confirmation of having
    contacted the complainant and made their contact information available, with a statement and evidence.
    Both confirmations are needed. Raises ValidationError (indemnity, contacted_complainant, reason: the
    statement, evidence[i]) and what `act` raises."""
    if not indemnity:
        raise ValidationError("indemnity", "the assurances include the promise to indemnify")
    if not contacted_complainant:
        raise ValidationError("contacted_complainant", "the assurances include having contacted the complainant")
    step = _Step("give-assurances", _reason("give-assurances", statement), evidence=evidence,
                 details={"indemnity": True, "contacted_complainant": True})  # fmt: skip
    return _act(uow, case, step, settings=settings, actor=actor)


def _act(uow: UnitOfWork, case: int | str, step: _Step, *, settings: Settings, actor: CaseActor) -> CaseSnapshot:
    with uow:
        now = uow.clock()
        s = uow.session
        row = require_case(s, case, for_update=True)
        who, audit_actor = who_acts(s, actor, row)
        apply_action(uow, settings, row, step_action=step.action, who=who, actor=audit_actor, now=now,
                     reason=step.reason, fields=step.fields, balancing_notes=step.balancing_notes,
                     evidence=step.evidence, details=step.details)  # fmt: skip
        uow.commit()
        case_id = row.id
    if step.action in ("deactivate", "reactivate"):
        deactivation.run_dns_steps(uow, settings, case_id)
    with uow.reading() as r:
        fresh = require_case(r.session, case_id)
        entries = list(r.session.scalars(select(DisclosureEntry).where(DisclosureEntry.case_id == case_id)))
        return snapshot(fresh, entries)


def who_acts(s: Session, actor: CaseActor, case: Case) -> tuple[Who, Actor]:
    """Who the actor is for this case, and the audit actor. Raises Forbidden (staff without the cases
    permission), CaseNotFound (a customer's principal on a case not about its domains, or an untrusted actor)."""
    if isinstance(actor, Principal):
        if actor.is_staff:
            require(actor, Permission.CASES)
            return Who.STAFF, actor.actor
        if case.domain_id is not None:
            row = s.execute(
                select(Domain.account_id, Account.parent_id)
                .join(Account, Account.id == Domain.account_id)
                .where(Domain.id == case.domain_id)
            ).first()
            if row is not None and in_scope(actor, row.account_id, row.parent_id):
                return Who.CUSTOMER, actor.actor
        raise CaseNotFound(case.reference)
    if actor.kind == "system":
        return Who.SYSTEM, actor
    if actor.kind in ("cli", "staff"):
        return Who.STAFF, actor
    raise CaseNotFound(case.reference)


def apply_action(
    uow: UnitOfWork,
    settings: Settings,
    case: Case,
    *,
    step_action: str,
    who: Who,
    actor: Actor,
    now: datetime,
    reason: str,
    fields: str | Sequence[str] | None = None,
    balancing_notes: str | None = None,
    evidence: Sequence[Evidence] = (),
    details: dict[str, Any] | None = None,
) -> None:
    """Take one action on a loaded, locked case inside the open transaction (never commits): the table, who may,
    the action's rules and effects, the new state, its history and audit events, its notices, `due_at`."""
    s = uow.session
    t = states.transition(case.kind, case.state, step_action)
    if who not in t.who:
        raise NotAllowedToAct(step_action, who.value, sorted(w.value for w in t.who))
    extra: dict[str, Any] = dict(details or {})
    if who is Who.STAFF and step_action in ("give-assurances", "cancel", "court-proceedings"):
        extra["recorded_by_staff"] = True
    before = case.state
    _effects(uow, settings, case, step_action, now=now, actor=actor, reason=reason, fields=fields,
             balancing_notes=balancing_notes, extra=extra)  # fmt: skip
    for i, file in enumerate(evidence):
        _add_evidence(settings, case, file, f"evidence[{i}]", actor=actor, now=now)
    if evidence:
        extra["evidence"] = len(evidence)
    case.state = t.leads_from(before)
    if case.state == states.CLOSED:
        case.closed_at = now
    case.retry_at, case.attempts, case.last_error = None, 0, None
    refresh_due(case)
    record_step(s, case, now=now, actor=actor, action=step_action, from_state=before, reason=reason, details=extra)


def _effects(
    uow: UnitOfWork,
    settings: Settings,
    case: Case,
    action: str,
    *,
    now: datetime,
    actor: Actor,
    reason: str,
    fields: str | Sequence[str] | None,
    balancing_notes: str | None,
    extra: dict[str, Any],
) -> None:
    s = uow.session
    domain = u_label(case.domain_name)
    if case.kind == states.Kind.ABUSE and action in _REVIEWS_ABUSE | {"deactivate"}:
        _decided(case, now)  # the review clock of an abuse report (RAA 3.18.2)
    if action == "acknowledge":
        case.acknowledged_at = now
        if case.ack_due_at is not None and now > case.ack_due_at:
            mark_missed(case, "acknowledgement")
    elif action == "request-info":
        queue_notice(s, now=now, kind="case-info-requested", to=case.requester_email, reference=case.reference,
                     domain=domain, needed=reason)  # fmt: skip
    elif action in ("reject", "refuse"):
        notes = None
        if action == "refuse":
            if balancing_notes is None or not balancing_notes.strip():
                raise ValidationError("balancing_notes", "a refusal says how the balancing test was applied")
            notes = free_text(balancing_notes, "balancing_notes", max_length=MAX_TEXT)
            case.balancing_notes = notes
        case.refusal_reasons = reason
        case.decision = "refused" if action == "refuse" else "rejected"
        _decided(case, now)
        queue_notice(s, now=now, kind="case-refused", to=case.requester_email, reference=case.reference,
                     domain=domain, reasons=reason, balancing=notes or "")  # fmt: skip
    elif action == "notify-customer":
        _notify_customer(s, settings, case, now=now, domain=domain)
    elif action == "accept-legal-order":
        if not case.urgent or not case.legal_basis:
            raise NoLegalOrder(case.reference, case.state)
        case.legal_order_at = now
    elif action == "deadline-passed":
        case.deadline_passed_at = now
    elif action == "reject-assurances":
        _tell_customer(s, case, now=now, domain=domain, what="your assurances were not accepted; the deadline of "
                       f"{when(case.customer_deadline_at)} still applies.", reason=reason)  # fmt: skip
    elif action == "accept-assurances":
        case.decision = "resolved"
        _tell_customer(s, case, now=now, domain=domain, what="your assurances were accepted and the matter is "
                       "closed.", reason=reason)  # fmt: skip
    elif action == "cancel":
        case.decision = "cancelled"
    elif action == "court-proceedings":
        case.decision = "court-proceedings"
    elif action == "deactivate":
        done = deactivation.deactivate_domain(uow, settings, case, now=now, actor=actor, reason=reason)
        extra["done"] = done
        for address, account_id in customer_recipients(s, case):
            queue_notice(s, now=now, kind="case-deactivated", to=address, account_id=account_id,
                         reference=case.reference, domain=domain,
                         actions=done or ["recorded the deactivation (nothing was left to change)"])  # fmt: skip
    elif action == "reactivate":
        done = deactivation.reactivate_domain(uow, settings, case, now=now, actor=actor, reason=reason)
        extra["done"] = done
        _tell_customer(s, case, now=now, domain=domain, what="the domain was reactivated: "
                       + ("; ".join(done) or "nothing was left to restore") + ".", reason=reason)  # fmt: skip
    elif action == "disclose":
        released = disclosure.disclose_fields(s, case, now=now, fields=fields)
        extra["fields"] = list(released)
        requested = case.fields_requested.split()
        case.decision = "disclosed" if len(released) == len(requested) else "partial"
        _decided(case, now)


def _notify_customer(s: Session, settings: Settings, case: Case, *, now: datetime, domain: str) -> None:
    recipients = customer_recipients(s, case)
    if not recipients:
        raise CaseRuleBroken(f"case {case.reference}: the domain {case.domain_name} is no longer registered here; "
                             "there is no customer to notify")  # fmt: skip
    calendar = calendar_for(settings.cases)
    deadline = calendar.add_business_days(now, settings.cases.assurance_business_days)
    reminder = None
    if settings.cases.reminder_business_days > 0:
        reminder = calendar.subtract_business_days(deadline, settings.cases.reminder_business_days)
        reminder = reminder if reminder > now else None
    case.customer_notified_at, case.customer_deadline_at = now, deadline
    case.reminder_at, case.reminder_sent_at = reminder, None
    link = f"{settings.portal.base_url}cases/{case.reference}"
    body = ""
    for address, account_id in recipients:
        body = queue_notice(
            s, now=now, kind="case-customer-notice", to=address, account_id=account_id, reference=case.reference,
            case_kind=case.kind, domain=domain, allegation=case.allegation, requester_name=case.requester_name,
            requester_org=case.requester_org or "",
            requester_email=case.requester_email if case.kind == states.Kind.COMPLAINT else "",
            deadline=when(deadline), link=link,
        )  # fmt: skip
    case.customer_notice = body


def send_reminder(s: Session, settings: Settings, case: Case, *, now: datetime) -> None:
    """The reminder before the customer's deadline (the sweep's `remind` timer), in the open transaction."""
    link = f"{settings.portal.base_url}cases/{case.reference}"
    for address, account_id in customer_recipients(s, case):
        queue_notice(s, now=now, kind="case-reminder", to=address, account_id=account_id, reference=case.reference,
                     domain=u_label(case.domain_name), deadline=when(case.customer_deadline_at), link=link)  # fmt: skip
    case.reminder_sent_at = now


def _tell_customer(s: Session, case: Case, *, now: datetime, domain: str, what: str, reason: str) -> None:
    for address, account_id in customer_recipients(s, case):
        queue_notice(s, now=now, kind="case-customer-update", to=address, account_id=account_id,
                     reference=case.reference, domain=domain, what=what, reason=reason)  # fmt: skip


def _decided(case: Case, now: datetime) -> None:
    if case.decided_at is not None:
        return
    case.decided_at = now
    if case.decision_due_at is not None and now > case.decision_due_at:
        mark_missed(case, "decision")


def _add_evidence(settings: Settings, case: Case, file: Evidence, field_name: str, *, actor: Actor,
                  now: datetime) -> None:  # fmt: skip
    name, content = check_evidence(file, field_name, settings.cases)
    digest = store_evidence(settings.cases.evidence_dir, content)
    case.evidence.append(CaseEvidence(name=name, bytes=len(content), sha256=digest, added_by=str(actor),
                                      added_at=now))  # fmt: skip


def _reason(action: str, reason: str | None) -> str:
    if reason is None or not reason.strip():
        if action in _NEEDS_REASON:
            raise ValidationError("reason", f"{action} needs a reason (it is sent or recorded with the step)")
        return action
    return free_text(reason, "reason", max_length=MAX_TEXT)
