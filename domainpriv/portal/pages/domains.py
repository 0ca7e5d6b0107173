"""The account's domains: the list, one domain with what WHOIS shows, a role's contact, privacy with its
preview, name servers, and the change of registrant (confirmed by the current registrant's e-mailed link)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from domainpriv.accounts import reverify
from domainpriv.accounts.access import Principal
from domainpriv.portal.context import portal_of, session_id
from domainpriv.portal.pages.render import logged_in, page, posted, redirect
from domainpriv.rdds.whois_text import render_domain as render_whois
from domainpriv.registration.errors import ConsentMissing, ValidationError
from domainpriv.registration.validation import CONTACT_FIELDS, validate_contact
from domainpriv.selfservice import changes, registrant_change, scope
from domainpriv.selfservice.changes import RegistrantChangeNeeded, ReverificationNeeded
from domainpriv.selfservice.changes import Request as Change
from domainpriv.vocabulary import CONTACT_ROLES, PrivacyMode

router = APIRouter(include_in_schema=False)
Me = Annotated[Principal, Depends(logged_in)]
Form = Annotated[dict[str, str], Depends(posted)]
ROLE_NAMES = {"registrant": "Registrant", "admin": "Administrative contact", "tech": "Technical contact",
              "billing": "Billing contact"}  # fmt: skip
NAMESERVER_ROWS = 6


def change_of(me: Principal, form: dict[str, str]) -> Change:
    """Who asks and why: staff give the ticket of the customer's e-mailed request."""
    return Change(me, form.get("reason") or "changed in the portal", form.get("ticket") or None)


def contact_fields(form: dict[str, str]) -> dict[str, object]:
    """The contact inputs of a form, as validate_contact takes them (street: up to three lines)."""
    raw: dict[str, object] = {k: form[k] for k in CONTACT_FIELDS if k != "street" and form.get(k, "").strip()}
    raw["street"] = [line for line in (form.get(f"street{i}", "").strip() for i in (1, 2, 3)) if line]
    return raw


@router.get("/domains")
def domain_list(request: Request, me: Me, after: str = "", account: str | None = None) -> Response:
    found = scope.list_domains(portal_of(request).uow, me, account=account, after=after, limit=scope.PAGE + 1)
    more = len(found) > scope.PAGE
    return page(request, "domains.html", me=me, domains=found[: scope.PAGE], account=account,
                next_after=found[scope.PAGE - 1].name if more else None)  # fmt: skip


@router.get("/domains/{name}")
def domain_page(request: Request, me: Me, name: str) -> Response:
    portal = portal_of(request)
    record = scope.get_domain(portal.uow, me, name)
    view = changes.preview_privacy(portal.uow, me, domain=record.name, mode=record.privacy_mode, policy=portal.policy)
    pending = registrant_change.pending_change(portal.uow, Change(me, "read"), domain=record.name)
    return page(request, "domain.html", me=me, record=record, roles=ROLE_NAMES, pending=pending,
                whois=render_whois(view, portal.settings.publication.terms_of_use))  # fmt: skip


def _role_page(request: Request, me: Principal, name: str, role: str, *, status: int = 200,
               errors: dict[str, str] | None = None, values: dict[str, str] | None = None) -> Response:  # fmt: skip
    if role not in CONTACT_ROLES:
        raise ValidationError("role", f"must be one of {', '.join(CONTACT_ROLES)}")
    uow = portal_of(request).uow
    record = scope.get_domain(uow, me, name)
    current = record.contacts.get(role)
    own = scope.list_contacts(uow, me, account=record.account)
    return page(request, "role_contact.html", me=me, status=status, record=record, role=role,
                role_name=ROLE_NAMES[role], current=current, contacts=own, errors=errors or {},
                values=values or {})  # fmt: skip


@router.get("/domains/{name}/contacts/{role}")
def role_form(request: Request, me: Me, name: str, role: str) -> Response:
    return _role_page(request, me, name, role)


@router.post("/domains/{name}/contacts/{role}")
def role_post(request: Request, me: Me, name: str, role: str, form: Form) -> Response:
    portal = portal_of(request)
    existing = form.get("contact") if form.get("choice", "existing") == "existing" else None
    new = None
    try:
        new = None if existing else validate_contact(contact_fields(form), "contact")
        record = changes.set_role_contact(portal.uow, change_of(me, form), domain=name, role=role,
                                          contact=existing or None, new_contact=new)  # fmt: skip
    except RegistrantChangeNeeded as needed:
        if new is None:  # an existing contact with another name, organisation or e-mail
            return _role_page(request, me, name, role, status=409, values=form, errors={"contact": str(needed)})
        pending = registrant_change.request_change(portal.uow, change_of(me, form), domain=name, data=new,
                                                   lock_opt_out=form.get("lock_opt_out") == "1",
                                                   link_base=portal.link_base)  # fmt: skip
        return page(request, "message.html", me=me, status=202, title="Change of registrant requested",
                    message=f"The current registrant of {pending.domain} has been e-mailed a link to confirm the "
                    f"change (valid until {pending.expires_at:%Y-%m-%d %H:%M} UTC). Nothing changes until then.",
                    link=(f"/domains/{pending.domain}", "Back to the domain"))  # fmt: skip
    except ValidationError as exc:
        return _role_page(request, me, name, role, status=422, values=form,
                          errors={exc.field.removeprefix("contact."): exc.problem})  # fmt: skip
    return redirect(f"/domains/{record.name}?changed={role}")


@router.get("/domains/{name}/privacy")
def privacy_form(request: Request, me: Me, name: str) -> Response:
    record = scope.get_domain(portal_of(request).uow, me, name)
    return page(request, "privacy.html", me=me, record=record, modes=list(PrivacyMode),
                chosen=record.privacy_mode.value, preview=None)  # fmt: skip


@router.post("/domains/{name}/privacy")
def privacy_post(request: Request, me: Me, name: str, form: Form) -> Response:
    portal = portal_of(request)
    mode = form.get("mode", "")
    record = scope.get_domain(portal.uow, me, name)
    try:
        if form.get("action") == "preview":
            view = changes.preview_privacy(portal.uow, me, domain=record.name, mode=mode, policy=portal.policy)
            return page(request, "privacy.html", me=me, record=record, modes=list(PrivacyMode), chosen=mode,
                        preview=render_whois(view, portal.settings.publication.terms_of_use))  # fmt: skip
        changes.set_privacy(portal.uow, change_of(me, form), domain=record.name, mode=mode,
                            consent_to_publish=form.get("consent_to_publish") == "1",
                            policy_version=portal.settings.consent.policy_version,
                            reverified=reverify.is_fresh(portal.uow, session_id=session_id(request)))  # fmt: skip
    except ReverificationNeeded:
        return redirect(f"/reverify?next=/domains/{record.name}/privacy")
    except ConsentMissing:
        return page(request, "privacy.html", me=me, status=422, record=record, modes=list(PrivacyMode),
                    chosen=mode, preview=None,
                    errors={"consent_to_publish": "publishing needs your consent: tick the box"})  # fmt: skip
    except ValidationError as exc:
        return page(request, "privacy.html", me=me, status=422, record=record, modes=list(PrivacyMode),
                    chosen=mode, preview=None, errors={exc.field: exc.problem})  # fmt: skip
    return redirect(f"/domains/{record.name}?changed=privacy")


@router.get("/domains/{name}/nameservers")
def nameservers_form(request: Request, me: Me, name: str) -> Response:
    record = scope.get_domain(portal_of(request).uow, me, name)
    values = {f"host{i}": ns.host for i, ns in enumerate(record.nameservers, 1)}
    values |= {f"addresses{i}": " ".join(ns.addresses) for i, ns in enumerate(record.nameservers, 1)}
    return page(request, "nameservers.html", me=me, record=record, rows=NAMESERVER_ROWS, values=values)


@router.post("/domains/{name}/nameservers")
def nameservers_post(request: Request, me: Me, name: str, form: Form) -> Response:
    portal = portal_of(request)
    servers = [(form[f"host{i}"].strip(), form.get(f"addresses{i}", "").replace(",", " ").split())
               for i in range(1, NAMESERVER_ROWS + 1) if form.get(f"host{i}", "").strip()]  # fmt: skip
    try:
        record = changes.set_nameservers(portal.uow, change_of(me, form), domain=name, nameservers=servers)
    except ValidationError as exc:
        record = scope.get_domain(portal.uow, me, name)
        return page(request, "nameservers.html", me=me, status=422, record=record, rows=NAMESERVER_ROWS,
                    values=form, errors={exc.field: exc.problem}, message=str(exc))  # fmt: skip
    return redirect(f"/domains/{record.name}?changed=nameservers")


def _contact_values(data: dict[str, object]) -> dict[str, str]:
    values = {k: str(v) for k, v in data.items() if isinstance(v, str)}
    street = data.get("street") or []
    values |= {f"street{i}": line for i, line in enumerate(street if isinstance(street, list) else [], 1)}
    return values


@router.get("/contacts/{handle}")
def contact_form(request: Request, me: Me, handle: str) -> Response:
    contact = scope.get_contact(portal_of(request).uow, me, handle)
    return page(request, "contact.html", me=me, handle=contact.handle, values=_contact_values(contact.data.to_json()))


@router.post("/contacts/{handle}")
def contact_post(request: Request, me: Me, handle: str, form: Form) -> Response:
    uow = portal_of(request).uow
    try:
        data = validate_contact(contact_fields(form), "contact")
        changes.edit_contact(uow, change_of(me, form), handle=handle, data=data)
    except RegistrantChangeNeeded as needed:
        return page(request, "contact.html", me=me, status=409, handle=handle, values=form,
                    errors={"contact": str(needed)})  # fmt: skip
    except ValidationError as exc:
        scope.get_contact(uow, me, handle)  # another tenant's contact: 404, not the form
        return page(request, "contact.html", me=me, status=422, handle=handle, values=form,
                    errors={exc.field.removeprefix("contact."): exc.problem})  # fmt: skip
    return redirect(f"/contacts/{handle}?changed=1")
