"""Change of registrant (ICANN Transfer Policy §II; workflows.md §6): a new registrant name, organisation or
e-mail waits for the current registrant's confirmation by an e-mailed link, then applies with the 60-day
inter-registrar transfer lock, which the registrant may opt out of where the registrar allows it.

Why a pending row instead of applying and reverting: nothing is published or escrowed before the registrant
agrees, and an unconfirmed request simply expires. The link's token is stored only as a digest and works once.
The new data becomes a new contact of the domain's account (the old contact may serve other domains and roles).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, update

from domainpriv.accounts import tokens
from domainpriv.accounts.access import Permission, require
from domainpriv.audit import SYSTEM, Actor, record_event
from domainpriv.changes import domains
from domainpriv.errors import DomainprivError
from domainpriv.notify.outbox import enqueue
from domainpriv.notify.templates import render
from domainpriv.registration import services as registration
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.records import DomainRecord, iso
from domainpriv.registration.validation import ContactData, normalize_domain_name, validate_contact
from domainpriv.selfservice.changes import Request, audit_reason, is_change_of_registrant, new_contact_handle
from domainpriv.selfservice.scope import load_in_scope
from domainpriv.store import Domain, RegistrantChange, UnitOfWork


@dataclass(frozen=True, slots=True)
class RegistrantChangePolicy:
    lock_days: int = 60  # 0: no lock (the Transfer Policy Review's recommendation, if adopted)
    opt_out_allowed: bool = True
    valid_for: timedelta = timedelta(days=7)


DEFAULT_POLICY = RegistrantChangePolicy()


class RegistrantChangeRefused(DomainprivError):
    """The link is unknown, used, cancelled or expired (one message for all: the link reveals nothing)."""


class NotARegistrantChange(DomainprivError):
    def __init__(self) -> None:
        super().__init__("the new registrant has the same name, organisation and e-mail: edit the contact instead")


@dataclass(frozen=True, slots=True)
class PendingChange:
    domain: str
    expires_at: datetime
    lock_opt_out: bool


def request_change(
    uow: UnitOfWork,
    request: Request,
    *,
    domain: str,
    data: ContactData,
    lock_opt_out: bool = False,
    link_base: str,
    policy: RegistrantChangePolicy = DEFAULT_POLICY,
) -> PendingChange:
    """Ask the current registrant to confirm `data` as the new registrant; the link goes to the current
    registrant's address, a notice to the new one. A newer request replaces an open one.
    Raises DomainNotFound, Forbidden, NotARegistrantChange, ValidationError (opt-out not allowed)."""
    require(request.principal, Permission.DOMAINS_WRITE)
    a_label = normalize_domain_name(domain, "domain")
    if lock_opt_out and not policy.opt_out_allowed:
        raise ValidationError("lock_opt_out", "this registrar does not allow opting out of the transfer lock")
    with uow:
        s = uow.session
        now = uow.clock()
        record, keys = load_in_scope(s, request.principal, a_label, for_update=True)
        current = record.contacts["registrant"]
        assert current is not None  # a domain always has a registrant
        if not is_change_of_registrant(current.data, data):
            raise NotARegistrantChange()
        reason = audit_reason(request, record.account)
        s.execute(update(RegistrantChange).where(RegistrantChange.domain_id == keys.id, _open(now))
                  .values(cancelled_at=now))  # fmt: skip
        token = tokens.new_token()
        expires_at = now + policy.valid_for
        new_data = json.dumps(data.to_json())
        s.add(RegistrantChange(domain_id=keys.id, digest=tokens.token_digest(token), new_data=new_data,
                               requested_by=str(request.principal.actor), lock_opt_out=lock_opt_out, created_at=now,
                               expires_at=expires_at))  # fmt: skip
        hours = int(policy.valid_for.total_seconds() // 3600)
        lock_days = 0 if lock_opt_out else policy.lock_days
        link = f"{link_base.rstrip('/')}/registrant-change/{token}"
        subject, body = render("registrant-change-confirm", domain=record.u_label, link=link,
                               valid_hours=hours, lock_days=lock_days, lock_opt_out=lock_opt_out)  # fmt: skip
        enqueue(s, now=now, kind="registrant-change-confirm", to=current.data.email, subject=subject, body=body,
                mandatory=True, account_id=keys.account_id)  # fmt: skip
        record_event(s, now=now, actor=request.principal.actor, action="domain:registrant-change:request",
                     object_type="domain", object_key=a_label, reason=reason,
                     details={"lock_opt_out": lock_opt_out, "expires_at": iso(expires_at)},
                     affects=domains(a_label))  # fmt: skip
        uow.commit()
    return PendingChange(a_label, expires_at, lock_opt_out)


def confirm_change(uow: UnitOfWork, token: str, *, policy: RegistrantChangePolicy = DEFAULT_POLICY) -> DomainRecord:
    """The current registrant's confirmation (the e-mailed link, no login): the new registrant is applied, the
    transfer lock set unless opted out, and both addresses told. Raises RegistrantChangeRefused."""
    if not tokens.looks_like_token(token):
        raise RegistrantChangeRefused("this confirmation link is not valid (used, expired or unknown)")
    with uow:
        s = uow.session
        now = uow.clock()
        pending = s.scalar(select(RegistrantChange).where(RegistrantChange.digest == tokens.token_digest(token),
                                                          _open(now)).with_for_update())  # fmt: skip
        if pending is None:
            raise RegistrantChangeRefused("this confirmation link is not valid (used, expired or unknown)")
        domain = s.get(Domain, pending.domain_id)
        assert domain is not None  # ON DELETE CASCADE removes pending changes with their domain
        before = registration.get_domain(uow, name=domain.name)
        old = before.contacts["registrant"]
        data = validate_contact(json.loads(pending.new_data), "new_data")
        actor = Actor("registrant", before.account)
        handle = new_contact_handle(s)
        registration.create_contact(uow, actor=actor, handle=handle, account=before.account, data=data,
                                    reason="change of registrant confirmed")  # fmt: skip
        after = registration.set_domain_contact(uow, actor=actor, domain=domain.name, role="registrant",
                                                contact=handle, reason="change of registrant confirmed")  # fmt: skip
        pending.confirmed_at = now
        locked_until = None if pending.lock_opt_out or policy.lock_days == 0 else now + timedelta(days=policy.lock_days)
        domain.transfer_locked_until = locked_until
        record_event(s, now=now, actor=SYSTEM, action="domain:registrant-change:confirm", object_type="domain",
                     object_key=domain.name, reason="confirmed by the registrant's link",
                     details={"transfer_locked_until": iso(locked_until), "requested_by": pending.requested_by},
                     affects=domains(domain.name))  # fmt: skip
        for address in dict.fromkeys([old.data.email if old else data.email, data.email]):
            subject, body = render(
                "registrant-changed",
                domain=after.u_label,
                lock_opt_out=pending.lock_opt_out,
                lock_days=0 if locked_until is None else policy.lock_days,
            )
            enqueue(s, now=now, kind="registrant-changed", to=address, subject=subject, body=body, mandatory=True,
                    account_id=domain.account_id)  # fmt: skip
        uow.commit()
    return after


def pending_change(uow: UnitOfWork, request: Request, *, domain: str) -> PendingChange | None:
    """The open change of registrant of a domain in scope, if any."""
    require(request.principal, Permission.DOMAINS_READ)
    a_label = normalize_domain_name(domain, "domain")
    with uow.reading() as r:
        _, keys = load_in_scope(r.session, request.principal, a_label)
        row = r.session.scalar(select(RegistrantChange).where(RegistrantChange.domain_id == keys.id,
                                                              _open(uow.clock())))  # fmt: skip
    return None if row is None else PendingChange(a_label, row.expires_at, row.lock_opt_out)


def _open(now: datetime) -> ColumnElement[bool]:
    return (
        RegistrantChange.confirmed_at.is_(None)
        & RegistrantChange.cancelled_at.is_(None)
        & (RegistrantChange.expires_at > now)
    )
