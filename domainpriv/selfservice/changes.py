"""Self-service changes of registration data: a role's contact, a contact's fields, name servers, privacy.

Each function is one transaction composed of the registration services (they join it, store/session.py) plus the
notices the change causes, so a refused or failed change sends nothing. The domain row is locked first: the
registration services lock rows and then the audit chain, and a composed change must keep that order (audit.py).

The change-of-registrant rule (Transfer Policy; workflows.md §6): a new registrant name, organisation or e-mail
is not applied here; it becomes a pending change the current registrant confirms by e-mailed link
(selfservice/registrant_change.py). A technical (or admin, billing) contact change never is.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domainpriv.accounts.access import Permission, Principal, acting_reason, in_scope, require
from domainpriv.audit import record_event
from domainpriv.changes import NOTHING
from domainpriv.errors import DomainprivError
from domainpriv.notify.outbox import enqueue
from domainpriv.notify.templates import render
from domainpriv.privacy import PublicationPolicy, PublicRecord, public_view
from domainpriv.registration import rules
from domainpriv.registration import services as registration
from domainpriv.registration.errors import AccountNotFound, ConsentMissing, ValidationError
from domainpriv.registration.records import ContactRecord, DomainRecord
from domainpriv.registration.rows import contact_data
from domainpriv.registration.validation import ContactData, normalize_domain_name, normalize_email, normalize_text
from domainpriv.selfservice.scope import contact_in_scope, load_in_scope
from domainpriv.store import Account, Consent, Contact, Domain, UnitOfWork
from domainpriv.vocabulary import CONTACT_ROLES, ConsentPurpose, PrivacyMode

__all__ = [
    "RegistrantChangeNeeded",
    "Request",
    "ReverificationNeeded",
    "change_account_email",
    "edit_contact",
    "is_change_of_registrant",
    "preview_privacy",
    "set_nameservers",
    "set_privacy",
    "set_role_contact",
]


class RegistrantChangeNeeded(DomainprivError):
    """The edit changes a registrant's name, organisation or e-mail: it needs the registrant's confirmation."""

    def __init__(self, domains: Sequence[str]) -> None:
        shown = ", ".join(domains[:3]) + (" …" if len(domains) > 3 else "")
        super().__init__(
            f"this contact is the registrant of {shown}: a new name, organisation or e-mail is a change of "
            "registrant; request it on the domain (the registrant confirms it by e-mail)"
        )
        self.domains = tuple(domains)


class ReverificationNeeded(DomainprivError):
    """The step needs a recent re-verification (password or e-mailed code)."""

    def __init__(self, step: str) -> None:
        super().__init__(f"{step} needs you to confirm your password (or an e-mailed code) first")
        self.step = step


@dataclass(frozen=True, slots=True)
class Request:
    """Who asks and why, for the audit: staff give the ticket of the customer's e-mailed request."""

    principal: Principal
    reason: str
    ticket: str | None = None


def is_change_of_registrant(old: ContactData, new: ContactData) -> bool:
    """Name, organisation or e-mail changed (Transfer Policy §II.A.1.1: a "material change")."""
    return (old.name, old.org or "", old.email.lower()) != (new.name, new.org or "", new.email.lower())


def set_role_contact(
    uow: UnitOfWork,
    request: Request,
    *,
    domain: str,
    role: str,
    contact: str | None = None,
    new_contact: ContactData | None = None,
) -> DomainRecord:
    """Point `role` of a domain in scope at one of the account's contacts (`contact`) or at a new contact with
    `new_contact`'s data; None for both removes an optional role. Notices go to the old and the new address.
    Raises ValidationError, DomainNotFound, ContactNotFound, ContactNotOwned, Forbidden,
    RegistrantChangeNeeded (a registrant with another name, organisation or e-mail)."""
    require(request.principal, Permission.DOMAINS_WRITE)
    a_label = normalize_domain_name(domain, "domain")
    if role not in CONTACT_ROLES:
        raise ValidationError("role", f"must be one of {', '.join(CONTACT_ROLES)}")
    if contact is not None and new_contact is not None:
        raise ValidationError("contact", "give an existing contact or a new one, not both")
    with uow:
        s = uow.session
        before, keys = load_in_scope(s, request.principal, a_label, for_update=True)
        reason = audit_reason(request, before.account)
        old = before.contacts.get(role)
        wanted = new_contact
        if contact is not None:
            chosen = contact_in_scope(s, request.principal, contact)
            contact, wanted = chosen.handle, contact_data(chosen)
        if (
            role == "registrant"
            and old is not None
            and wanted is not None
            and is_change_of_registrant(old.data, wanted)
        ):
            raise RegistrantChangeNeeded([a_label])
        if new_contact is not None:
            contact = new_contact_handle(s)
            registration.create_contact(uow, actor=request.principal.actor, handle=contact, account=before.account,
                                        data=new_contact, reason=reason)  # fmt: skip
        after = registration.set_domain_contact(uow, actor=request.principal.actor, domain=a_label, role=role,
                                                contact=contact, reason=reason)  # fmt: skip
        new = after.contacts.get(role)
        _notify_contact_change(s, uow.clock(), after, role, old, new, keys.account_id, request)
        uow.commit()
    return after


def edit_contact(uow: UnitOfWork, request: Request, *, handle: str, data: ContactData) -> ContactRecord:
    """Replace the fields of a contact in scope; every domain using it shows the change, and its old and new
    addresses are told. Raises ContactNotFound, Forbidden, RegistrantChangeNeeded."""
    require(request.principal, Permission.DOMAINS_WRITE)
    with uow:
        s = uow.session
        row = contact_in_scope(s, request.principal, handle, for_update=True)
        owner = row.account.handle
        old_email = row.email
        registrant_of = list(s.scalars(select(Domain.name).where(Domain.registrant_id == row.id).order_by(Domain.name)))
        if registrant_of and is_change_of_registrant(contact_data(row), data):
            raise RegistrantChangeNeeded(registrant_of)
        after = registration.update_contact(uow, actor=request.principal.actor, handle=row.handle, data=data,
                                            reason=audit_reason(request, owner))  # fmt: skip
        now = uow.clock()
        for address in dict.fromkeys([old_email, data.email]):
            subject, body = render("contact-edited", contact=row.handle, account=owner, acted_by=acted_by(request))
            enqueue(s, now=now, kind="contact-changed", to=address, subject=subject, body=body, mandatory=True,
                    account_id=row.account_id)  # fmt: skip
        uow.commit()
    return after


def change_account_email(
    uow: UnitOfWork, request: Request, *, account: str, email: str, reverified: bool = False
) -> str:
    """Change an account's own e-mail address (where its notices and reset links go). The holder must have
    re-verified (staff act on an e-mailed request with a ticket); the old address is told. Returns the new
    address. Raises ValidationError, AccountNotFound, Forbidden, ReverificationNeeded."""
    require(request.principal, Permission.DOMAINS_WRITE)
    new = normalize_email(email, "email")
    if not reverified and not request.principal.is_staff:
        raise ReverificationNeeded("changing your e-mail address")
    with uow:
        s = uow.session
        now = uow.clock()
        row = s.scalar(select(Account).where(Account.handle == account).with_for_update())
        if row is None or not in_scope(request.principal, row.id, row.parent_id):
            raise AccountNotFound(account)
        old = row.email
        if old == new:
            return new
        row.email = new
        record_event(s, now=now, actor=request.principal.actor, action="account:email:set", object_type="account",
                     object_key=row.handle, reason=audit_reason(request, row.handle), before={"email": old},
                     after={"email": new}, affects=NOTHING)  # fmt: skip
        subject, body = render("email-changed", account=row.handle)
        enqueue(s, now=now, kind="email-changed", to=old, subject=subject, body=body, mandatory=True,
                account_id=row.id)  # fmt: skip
        uow.commit()
    return new


def set_nameservers(
    uow: UnitOfWork, request: Request, *, domain: str, nameservers: Sequence[tuple[str, Sequence[str]]]
) -> DomainRecord:
    """Replace the name servers of a domain in scope. Raises ValidationError, DomainNotFound, Forbidden."""
    require(request.principal, Permission.DOMAINS_WRITE)
    a_label = normalize_domain_name(domain, "domain")
    with uow:
        before, _ = load_in_scope(uow.session, request.principal, a_label, for_update=True)
        reason = audit_reason(request, before.account)
        after = registration.set_nameservers(uow, actor=request.principal.actor, domain=a_label,
                                             nameservers=nameservers, reason=reason)  # fmt: skip
        uow.commit()
    return after


def preview_privacy(
    uow: UnitOfWork, principal: Principal, *, domain: str, mode: PrivacyMode | str, policy: PublicationPolicy
) -> PublicRecord:
    """Exactly what WHOIS and RDAP would publish for the domain in `mode` (with the consent `public` needs
    assumed given): the public view of the record as it would be, nothing saved."""
    require(principal, Permission.DOMAINS_READ)
    a_label = normalize_domain_name(domain, "domain")
    new_mode = rules.parse_privacy_mode(mode, "mode")
    with uow.reading() as r:
        record, _ = load_in_scope(r.session, principal, a_label)
    consents = record.consents | ({ConsentPurpose.PUBLISH_CONTACT_DATA} if new_mode is PrivacyMode.PUBLIC else set())
    return public_view(replace(record, privacy_mode=new_mode, consents=frozenset(consents)), policy, uow.clock())


def set_privacy(
    uow: UnitOfWork,
    request: Request,
    *,
    domain: str,
    mode: PrivacyMode | str,
    consent_to_publish: bool = False,
    policy_version: str | None = None,
    reverified: bool = False,
) -> DomainRecord:
    """Switch a domain in scope to `mode`. `public` needs the account's consent to publish: given here
    (`consent_to_publish`, recorded in the consent ledger with its policy version) or earlier, and — for the
    customer's own change — a recent re-verification. Raises ValidationError, DomainNotFound, Forbidden,
    ConsentMissing, ReverificationNeeded."""
    require(request.principal, Permission.DOMAINS_WRITE)
    a_label = normalize_domain_name(domain, "domain")
    with uow:
        s = uow.session
        before, keys = load_in_scope(s, request.principal, a_label, for_update=True)
        reason = audit_reason(request, before.account)
        new_mode = rules.parse_privacy_mode(mode, "mode")
        if new_mode is PrivacyMode.PUBLIC and new_mode is not before.privacy_mode:
            if not reverified and not request.principal.is_staff:
                raise ReverificationNeeded("publishing your contact data")
            if consent_to_publish and ConsentPurpose.PUBLISH_CONTACT_DATA not in before.consents:
                registration.record_consent(uow, actor=request.principal.actor, account=before.account,
                                            purpose=ConsentPurpose.PUBLISH_CONTACT_DATA, granted=True,
                                            source="staff-email-request" if request.principal.is_staff else "portal",
                                            reason=reason)  # fmt: skip
                _set_policy_version(s, keys.account_id, policy_version)
            elif ConsentPurpose.PUBLISH_CONTACT_DATA not in before.consents:
                raise ConsentMissing(before.account, ConsentPurpose.PUBLISH_CONTACT_DATA.value)
        after = registration.set_privacy_mode(uow, actor=request.principal.actor, domain=a_label, mode=new_mode,
                                              reason=reason)  # fmt: skip
        if after.privacy_mode is not before.privacy_mode:
            registrant = before.contacts.get("registrant")
            if registrant is not None:
                subject, body = render(
                    "privacy-changed",
                    domain=before.u_label,
                    old_mode=before.privacy_mode.value,
                    new_mode=new_mode.value,
                )
                enqueue(s, now=uow.clock(), kind="privacy-changed", to=registrant.data.email, subject=subject,
                        body=body, mandatory=True, account_id=keys.account_id)  # fmt: skip
        uow.commit()
    return after


def _set_policy_version(s: Session, account_id: int, version: str | None) -> None:
    """Stamp the consent just recorded with the policy text version the customer saw."""
    if version is None:
        return
    version = normalize_text(version, "policy_version", max_length=32)
    newest = s.scalar(select(Consent).where(Consent.account_id == account_id).order_by(Consent.id.desc()).limit(1))
    if newest is not None:
        newest.policy_version = version


def _notify_contact_change(
    s: Session,
    now: datetime,
    record: DomainRecord,
    role: str,
    old: ContactRecord | None,
    new: ContactRecord | None,
    account_id: int,
    request: Request,
) -> None:
    change = "set" if old is None else "replaced"
    copies = {c.data.email: which for which, c in (("previous", old), ("new", new)) if c is not None}
    for address, recipient in copies.items():  # the old and the new address, once each
        subject, body = render("contact-changed", domain=record.u_label, role=role, account=record.account,
                               acted_by=acted_by(request), change=change, recipient=recipient)  # fmt: skip
        enqueue(s, now=now, kind="contact-changed", to=address, subject=subject, body=body, mandatory=True,
                account_id=account_id)  # fmt: skip


def acted_by(request: Request) -> str:
    """Who made a change, as notices name them (a handle, never a person's name)."""
    p = request.principal
    if p.is_staff:
        return f"support staff (ticket {request.ticket})" if request.ticket else "support staff"
    return f"{'reseller' if p.kind.value == 'reseller' else 'account'} {p.handle}"


def audit_reason(request: Request, owner: str) -> str:
    reason = normalize_text(request.reason, "reason", max_length=200)
    ticket = None
    if request.principal.is_staff:
        if not request.ticket:
            raise ValidationError("ticket", "staff changes need the ticket of the customer's request")
        ticket = normalize_text(request.ticket, "ticket", max_length=64)
    return acting_reason(request.principal, reason, owner=owner, ticket=ticket)


def new_contact_handle(s: Session) -> str:
    """A fresh contact handle (C + 10 hex digits: 3-16 characters, RFC 5730 clIDType)."""
    while True:
        handle = "C" + secrets.token_hex(5).upper()
        if s.scalar(select(Contact.id).where(Contact.handle == handle)) is None:
            return handle
