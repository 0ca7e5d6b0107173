"""The JSON API under /api/v1/ (DESIGN.md "Portal and API"), authenticated by `Authorization: Bearer TOKEN`.

Each route parses, calls one service with the caller's principal and shapes the answer; permissions, tenant
scope (another tenant's object is a 404 like a missing one) and the audit are the services'. An API token is
itself a credential checked on every call, so the steps that need a re-verification in the browser (export,
privacy -> public) do not ask for one here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from domainpriv.accounts import consent
from domainpriv.accounts.access import Principal, scoped_account
from domainpriv.portal.context import api_principal, portal_of
from domainpriv.portal.schemas import (
    AccountOut,
    ConsentEntryOut,
    ConsentIn,
    ConsentsOut,
    ContactIn,
    ContactOut,
    CustomerOut,
    DomainListOut,
    DomainOut,
    DomainSummaryOut,
    ErrorOut,
    NameserversIn,
    PendingChangeOut,
    PreviewOut,
    PrivacyIn,
    RegistrantChangeIn,
)
from domainpriv.rdds.whois_text import render_domain as render_whois
from domainpriv.registration.errors import ValidationError
from domainpriv.registration.records import DomainRecord
from domainpriv.registration.validation import validate_contact
from domainpriv.selfservice import changes, registrant_change, scope
from domainpriv.selfservice.changes import Request as Change
from domainpriv.selfservice.consents import set_consent
from domainpriv.selfservice.export import export_in_scope

ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut, "description": text}
    for status, text in (
        (400, "The request is malformed."),
        (401, "No valid API token."),
        (403, "The token's account may not do this."),
        (404, "No such object, or not one of the caller's (the same answer)."),
        (409, "The change breaks a rule of the data (the message says which)."),
        (422, "A field is wrong (named in `field`)."),
        (503, "The database is not available right now (see Retry-After)."),
    )
}
router = APIRouter(prefix="/api/v1", responses=ERRORS)
Caller = Annotated[Principal, Depends(api_principal)]
Reason = Annotated[str, Query(max_length=200, description="Why: recorded in the audit log.")]
Ticket = Annotated[str | None, Query(max_length=64, description="Staff: the ticket of the customer's request.")]
DomainName = Annotated[str, Query(max_length=253)]


def _domain_out(record: DomainRecord, pending: registrant_change.PendingChange | None = None) -> DomainOut:
    doc = record.to_json()
    if pending is not None:
        doc["pending_registrant_change"] = {"expires_at": pending.expires_at.isoformat(),
                                            "lock_opt_out": pending.lock_opt_out}  # fmt: skip
    return DomainOut.model_validate(doc)


@router.get("/domains", summary="The caller's domains (a reseller's: also its customers')")
def list_domains(
    request: Request,
    me: Caller,
    after: Annotated[str, Query(max_length=253)] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    account: Annotated[str | None, Query(max_length=64, description="Staff and resellers: whose.")] = None,
) -> DomainListOut:
    found = scope.list_domains(portal_of(request).uow, me, account=account, after=after, limit=limit + 1)
    page = found[:limit]
    return DomainListOut(
        domains=[DomainSummaryOut(name=d.name, unicode_name=d.unicode_name, account=d.account,
                                  expires_at=d.expires_at, privacy_mode=d.privacy_mode.value) for d in page],
        next_after=page[-1].name if len(found) > limit else None,
    )  # fmt: skip


@router.get("/domains/{name}", summary="One domain's registration data")
def get_domain(request: Request, me: Caller, name: str) -> DomainOut:
    uow = portal_of(request).uow
    record = scope.get_domain(uow, me, name)
    return _domain_out(record, registrant_change.pending_change(uow, Change(me, "read"), domain=record.name))


@router.put("/domains/{name}/contacts/{role}", summary="Set a role's contact: new fields, or an own contact")
def put_contact(
    request: Request, me: Caller, name: str, role: str, body: ContactIn, reason: Reason = "API request",
    ticket: Ticket = None,
) -> DomainOut:  # fmt: skip
    fields = body.fields()
    if body.handle is not None and fields:
        raise ValidationError("handle", "give either handle or the contact's fields, not both")
    new = None if body.handle is not None else validate_contact(fields, "contact")
    record = changes.set_role_contact(portal_of(request).uow, Change(me, reason, ticket), domain=name, role=role,
                                      contact=body.handle, new_contact=new)  # fmt: skip
    return _domain_out(record)


@router.post("/domains/{name}/registrant-change", status_code=202,
             summary="Ask the current registrant to confirm a new registrant (by e-mailed link)")  # fmt: skip
def post_registrant_change(
    request: Request, me: Caller, name: str, body: RegistrantChangeIn, reason: Reason = "API request",
    ticket: Ticket = None,
) -> PendingChangeOut:  # fmt: skip
    portal = portal_of(request)
    data = validate_contact(body.fields(exclude={"lock_opt_out"}), "contact")
    pending = registrant_change.request_change(portal.uow, Change(me, reason, ticket), domain=name, data=data,
                                               lock_opt_out=body.lock_opt_out, link_base=portal.link_base)  # fmt: skip
    return PendingChangeOut(
        domain=pending.domain,
        expires_at=pending.expires_at,
        lock_opt_out=pending.lock_opt_out,
        message="the current registrant has been e-mailed a link to confirm the change",
    )


@router.put("/domains/{name}/privacy", summary="Switch the privacy mode (public needs consent_to_publish)")
def put_privacy(
    request: Request, me: Caller, name: str, body: PrivacyIn, reason: Reason = "API request", ticket: Ticket = None
) -> DomainOut:
    portal = portal_of(request)
    record = changes.set_privacy(portal.uow, Change(me, reason, ticket), domain=name, mode=body.mode,
                                 consent_to_publish=body.consent_to_publish,
                                 policy_version=portal.settings.consent.policy_version, reverified=True)  # fmt: skip
    return _domain_out(record)


@router.get("/domains/{name}/privacy/preview", summary="Exactly what WHOIS would show in a mode, nothing saved")
def preview_privacy(request: Request, me: Caller, name: str, mode: Annotated[str, Query(max_length=16)]) -> PreviewOut:
    portal = portal_of(request)
    view = changes.preview_privacy(portal.uow, me, domain=name, mode=mode, policy=portal.policy)
    return PreviewOut(mode=mode, whois=render_whois(view, portal.settings.publication.terms_of_use))


@router.put("/domains/{name}/nameservers", summary="Replace the name servers")
def put_nameservers(
    request: Request, me: Caller, name: str, body: NameserversIn, reason: Reason = "API request",
    ticket: Ticket = None,
) -> DomainOut:  # fmt: skip
    servers = [(ns.host, ns.addresses) for ns in body.nameservers]
    record = changes.set_nameservers(portal_of(request).uow, Change(me, reason, ticket), domain=name,
                                     nameservers=servers)  # fmt: skip
    return _domain_out(record)


@router.get("/contacts", summary="The account's contacts")
def list_contacts(
    request: Request, me: Caller, account: Annotated[str | None, Query(max_length=64)] = None
) -> list[ContactOut]:
    found = scope.list_contacts(portal_of(request).uow, me, account=account)
    return [ContactOut.model_validate(c.to_json()) for c in found]


@router.put("/contacts/{handle}", summary="Replace a contact's fields (every domain using it shows the change)")
def put_contact_fields(
    request: Request, me: Caller, handle: str, body: ContactIn, reason: Reason = "API request",
    ticket: Ticket = None,
) -> ContactOut:  # fmt: skip
    data = validate_contact(body.fields(), "contact")
    record = changes.edit_contact(portal_of(request).uow, Change(me, reason, ticket), handle=handle, data=data)
    return ContactOut.model_validate(record.to_json())


@router.get("/account", summary="Who the token belongs to, and what it may do")
def get_account(me: Caller) -> AccountOut:
    return AccountOut(handle=me.handle, kind=me.kind.value, role=me.role_name,
                      permissions=sorted(p.value for p in me.permissions))  # fmt: skip


@router.get("/account/consents", summary="The consents in force and their ledger")
def get_consents(
    request: Request, me: Caller, account: Annotated[str | None, Query(max_length=64)] = None
) -> ConsentsOut:
    uow = portal_of(request).uow
    handle = account or me.handle
    scoped_account(uow, me, handle)
    return _consents_out(consent.ledger(uow, handle), consent.in_force(uow, handle))


@router.put("/account/consents/{purpose}", summary="Grant or withdraw a consent")
def put_consent(
    request: Request, me: Caller, purpose: str, body: ConsentIn, reason: Reason = "API request",
    ticket: Ticket = None, account: Annotated[str | None, Query(max_length=64)] = None,
) -> ConsentsOut:  # fmt: skip
    portal = portal_of(request)
    handle = account or me.handle
    entries = set_consent(portal.uow, Change(me, reason, ticket), account=handle, purpose=purpose,
                          granted=body.granted, policy_version=portal.settings.consent.policy_version)  # fmt: skip
    return _consents_out(entries, consent.in_force(portal.uow, handle))


def _consents_out(entries: list[consent.ConsentEntry], state: dict[Any, bool]) -> ConsentsOut:
    return ConsentsOut(
        in_force={p.value: v for p, v in state.items()},
        ledger=[ConsentEntryOut(time=e.time, purpose=e.purpose.value, granted=e.granted, source=e.source,
                                policy_version=e.policy_version) for e in entries],
    )  # fmt: skip


@router.get(
    "/account/export",
    summary="Everything held about the account, as one JSON document",
    response_description="The export (schema urn:domainpriv:account-export:1, docs/export-schema.json)",
)
def get_export(
    request: Request, me: Caller, account: Annotated[str | None, Query(max_length=64)] = None,
    reason: Reason = "export requested through the API",
) -> JSONResponse:  # fmt: skip
    handle = account or me.handle
    document = export_in_scope(portal_of(request).uow, me, account=handle, reason=reason)
    return JSONResponse(document, headers={"Content-Disposition": f'attachment; filename="{handle}-export.json"'})


@router.get("/customers", summary="Staff: find customers by handle, name, e-mail or domain")
def find_customers(
    request: Request, me: Caller, q: Annotated[str, Query(min_length=1, max_length=254)]
) -> list[CustomerOut]:
    found = scope.find_customers(portal_of(request).uow, me, q)
    return [CustomerOut(handle=c.handle, kind=c.kind, name=c.name, email=c.email, domains=c.domains) for c in found]
